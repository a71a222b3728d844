"""Several replicas behind one load balancer sharing one database (PostgreSQL when available, else SQLite).

Each deployment is watched by one replica at a time, for as long as that replica's heartbeat lease lives; when
the holder dies without handing its work back, another replica takes over once the lease expires, and every
status reaches the channel exactly once. The same click delivered to two replicas counts once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from bot.blocks.live_status import LIVE_STATUS_TEXT
from bot.ids import Action
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, card_message, status_of
from tests.support.pg import BACKENDS, database_url
from tests.support.waiting import eventually


@pytest.fixture(params=BACKENDS)
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One empty database both replicas open: a SQLite file, and a real PostgreSQL server when available."""
    return database_url(request.param, tmp_path)


@contextmanager
def two_replicas(
    tmp_path: Path, database_url: str, **env: str
) -> Iterator[tuple[BotHarness, BotHarness, FakeSlack, FakeQuantConnect]]:
    """Two bots in HTTP mode on one database and the same fake Slack and QuantConnect."""
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        qc = stack.enter_context(FakeQuantConnect())
        full_env = {"DATABASE_URL": database_url, **env}
        first, second = (
            stack.enter_context(
                running_bot(tmp_path / name, env=full_env, profiles=IB_PROFILES, slack=slack, qc=qc)
            )
            for name in ("a", "b")
        )
        yield first, second, slack, qc


def click_on(bot: BotHarness, action: Action, request_id: str, user_id: str, card: dict) -> int:
    """Deliver one button click to this replica; the HTTP status it answered."""
    assert bot.sender is not None
    response = bot.sender.action(
        action.value, request_id, user_id=user_id, channel_id=DEPLOY_CHANNEL, message=card
    )
    return response.status_code


def status_replies(slack: FakeSlack, message_ts: str) -> Counter[str]:
    """How many thread replies of the card announce each QuantConnect status."""
    counts: Counter[str] = Counter()
    for reply in slack.thread(DEPLOY_CHANNEL, message_ts):
        text = str(reply.get("text") or "")
        for status, announcement in LIVE_STATUS_TEXT.items():
            if announcement in text:
                counts[status] += 1
    return counts


def test_a_dead_replicas_deployment_is_taken_over_with_no_status_lost_or_repeated(
    tmp_path: Path, shared_database: str
) -> None:
    with two_replicas(tmp_path, shared_database) as (first, second, slack, qc):
        take_over(first, second, slack, qc)


def take_over(first: BotHarness, second: BotHarness, slack: FakeSlack, qc: FakeQuantConnect) -> None:
    """Kill the replica watching a running deployment; the other one carries on."""
    request = ask(first, "Alpha Momentum")
    assert click_on(first, Action.APPROVE, request.id, "UAPPROVER1", card_message(first, request.id)) == 200
    store = second.services.store
    eventually(
        lambda: (d := store.get_deployment(request.id)) is not None and d.status == "Running",
        what="the deployment to run",
    )
    holder_owner = store.get_deployment(request.id).lease_owner  # type: ignore[union-attr]
    by_owner = {bot.services.watcher.owner: bot for bot in (first, second)}
    assert holder_owner in by_owner, "one replica holds the lease while it watches"
    dead = by_owner[holder_owner]
    survivor = second if dead is first else first
    lease_seconds = dead.settings.lease_seconds

    # Death, not a clean shutdown: the process stops beating and never hands its work back.
    dead.services.store.release_lease = lambda *args, **kwargs: False  # type: ignore[method-assign]
    dead.services.store.hand_back_deployments = lambda: 0  # type: ignore[method-assign]
    dead.services.store.retire = lambda: None  # type: ignore[method-assign]
    dead.stop()
    qc.set_status(request.project_id, "Stopped")

    # While the dead holder's lease lasts, nobody else reports the new status.
    survivor.services.watcher.run_once(survivor.clock())
    assert store.get_deployment(request.id).status == "Running"  # type: ignore[union-attr]

    # Once it expires, the survivor takes the deployment over and reports the change, once.
    survivor.clock.advance(seconds=lease_seconds + 1)
    eventually(lambda: str(status_of(survivor, request.id)) == "ended", what="the request to end")
    survivor.services.notifier.flush()
    final = store.get_request(request.id)
    assert final is not None and final.message_ts
    counts = status_replies(slack, final.message_ts)
    assert counts["Stopped"] == 1
    assert all(count == 1 for count in counts.values()), counts
    assert {"LoggingIn", "Initializing", "Running", "Stopped"} <= set(counts)
    events = [e.action for e in store.events(request_id=request.id) if e.action.startswith("status:")]
    assert len(events) == len(set(events)), events
    assert len(qc.calls_to("live/create")) == 1


def test_the_same_click_delivered_to_two_replicas_counts_once(tmp_path: Path, shared_database: str) -> None:
    # Two approvals needed, so a double count of the first click would approve the request.
    with two_replicas(tmp_path, shared_database, APPROVALS_LIVE="2") as (first, second, _, qc):
        same_click(first, second, qc)


def same_click(first: BotHarness, second: BotHarness, qc: FakeQuantConnect) -> None:
    """Each approval click reaches both replicas at once."""
    request = ask(first, "Beta Carry")
    assert request.approvals_needed == 2
    card = card_message(first, request.id)

    def both_at_once(user_id: str) -> None:
        answers: list[int] = []

        def click(bot: BotHarness) -> None:
            answers.append(click_on(bot, Action.APPROVE, request.id, user_id, card))

        clicks = [threading.Thread(target=click, args=(bot,)) for bot in (first, second)]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join(timeout=10)
        # Checked here: an assert inside a thread would only warn.
        assert answers == [200, 200]

    store = first.services.store
    both_at_once("UAPPROVER1")
    eventually(lambda: len(store.approvals(request.id)) >= 1, what="the first approval")
    assert store.approvals(request.id) == ["UAPPROVER1"]
    assert status_of(first, request.id).value == "pending"  # type: ignore[union-attr]

    both_at_once("UAPPROVER2")
    eventually(
        lambda: (d := store.get_deployment(request.id)) is not None and d.status == "Running",
        what="the deployment to run",
    )
    assert sorted(store.approvals(request.id)) == ["UAPPROVER1", "UAPPROVER2"]
    assert len(qc.calls_to("live/create")) == 1
    assert len(qc.deployments(request.project_id)) == 1
    approvals = [e.actor for e in store.events(request_id=request.id) if e.action == "approved"]
    assert sorted(approvals) == ["UAPPROVER1", "UAPPROVER2"]
    compiles = [e for e in store.events(request_id=request.id) if e.action == "compile_started"]
    assert len(compiles) == 1
