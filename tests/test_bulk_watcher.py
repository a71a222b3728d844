"""Bulk watching (WATCH_MODE=bulk): one live/list per pass, by one replica, every change reported once.

Real SQLite and PostgreSQL stores (`store_url`), the fake QuantConnect over HTTP, an injected clock. Slack is
the store's outbox: what a change queued there is what the channel gets (tests/test_notifier.py covers the
delivery).
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.blocks.card import request_card
from bot.blocks.live_status import LIVE_STATUS_TEXT
from bot.bulk_watcher import BulkWatcher, make_watcher
from bot.config import Settings
from bot.read_budget import STATISTICS, ReadBudget
from bot.store import DeployRequest, Notice, RequestStatus, Store
from bot.store.roles import POLLER
from bot.watcher import Watcher
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.clocks import ManualClock
from tests.support.outbox import outbox_messages
from tests.support.waiting import eventually
from tests.support.world import RecordingNotifier, World, make_client, make_settings, make_world

S = RequestStatus
LIST_INTERVAL = 5.0
EQUITY_PERIOD = 300.0


def bulk_settings(**overrides: object) -> Settings:
    """Settings of a bulk watcher: list every 5 s, equity at most every 5 minutes, Slack paced at 1/s."""
    values: dict[str, object] = {
        "watch_list_interval_seconds": LIST_INTERVAL,
        "watch_interval_seconds": 10.0,
        "watch_running_interval_seconds": 60.0,
        "statistics_refresh_seconds": EQUITY_PERIOD,
        "slack_channel_interval_seconds": 1.0,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    """A fake QuantConnect, a real client and a store on each backend (replica `replica-a`)."""
    yield from make_world(
        store_url=store_url, replica_id="replica-a", settings=bulk_settings(), max_retries=0
    )


def running(world: World, count: int) -> list[DeployRequest]:
    """`count` deployments made by the deployer and pinned Running in the fake."""
    made = []
    deployer = world.deployer()
    for index in range(count):
        request = world.request(project=f"Alpha {index}")
        done = deployer.deploy(request.id)
        assert done is not None and done.status is S.LIVE
        world.qc.set_status(done.project_id, "Running")
        made.append(done)
    return made


def bulk(world: World, store: Store | None = None, **overrides: object) -> BulkWatcher:
    """A bulk watcher of one replica of the world (rand fixed: backoffs are exact)."""
    settings = bulk_settings(**overrides) if overrides else world.settings
    return BulkWatcher(
        store or world.store, world.client, world.notifier, settings, world.clock, rand=lambda: 0.0
    )


def settle(watcher: BulkWatcher, world: World, passes: int = 3) -> None:
    """A few passes, one list interval apart (the deployments reach Running and stay there)."""
    for _ in range(passes):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))


def replies(world: World, request_id: str) -> Counter[str]:
    """How many thread replies of the request announce each QuantConnect status."""
    counts: Counter[str] = Counter()
    for text in world.notifier.texts(request_id):
        for status, announcement in LIVE_STATUS_TEXT.items():
            if text.startswith(announcement):
                counts[status] += 1
    return counts


def cards(world: World, request_id: str) -> int:
    """How many card refreshes were queued for the request."""
    return sum(1 for message in outbox_messages(world.store, request_id) if message.kind == "card")


def deliver_all(store: Store, world: World) -> None:
    """What the notifier does with each queued message (without Slack): start it and mark it sent."""
    for message in store.claim_outbox(world.clock(), limit=10_000):
        store.start_message(message.id, world.clock())
        store.finish_message(message.id, world.clock())


# -- one call for everything ------------------------------------------------------------------------------


def test_one_list_call_per_pass_and_a_read_only_for_what_changed(world: World) -> None:
    requests = running(world, 4)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.clear_calls()
    for _ in range(6):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/list")) == 6
    assert world.qc.calls_to("live/read") == []
    # Everything runs: the list is asked for Running deployments only.
    assert {call.body.get("status") for call in world.qc.calls_to("live/list")} == {"Running"}

    changed = requests[1]
    world.qc.set_status(changed.project_id, "PendingInput")
    assert watcher.run_once(world.clock.advance(LIST_INTERVAL)) == 1
    (read,) = world.qc.calls_to("live/read")
    assert read.body["projectId"] == changed.project_id
    assert replies(world, changed.id) == Counter({"Running": 1, "PendingInput": 1})
    # Reported: nothing more to read while the list agrees with the store.
    for _ in range(4):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/read")) == 1
    # Something watched is not Running now: the list is asked for everything.
    assert world.qc.calls_to("live/list")[-1].body == {}
    for other in requests:
        if other.id != changed.id:
            assert replies(world, other.id) == Counter({"Running": 1})


def test_the_walk_to_running_is_reported_step_by_step_once(world: World) -> None:
    request = world.request()
    done = world.deployer().deploy(request.id)
    assert done is not None
    watcher = bulk(world)
    settle(watcher, world, passes=6)
    assert replies(world, request.id) == Counter({"LoggingIn": 1, "Initializing": 1, "Running": 1})
    events = [e.action for e in world.store.events(request_id=request.id) if e.action.startswith("status:")]
    assert events == ["status:LoggingIn", "status:Initializing", "status:Running"]


def test_a_crash_is_reported_with_quantconnects_full_message(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.set_status(request.project_id, "RuntimeError", "Division by zero in OnData at line 42")
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    failed = world.store.get_request(request.id)
    assert failed is not None and failed.status is S.FAILED
    ((request_id, title, errors),) = world.notifier.error_lists
    assert request_id == request.id and "RuntimeError" in title
    assert errors == ["Division by zero in OnData at line 42"]
    # Ended: never listed for again.
    world.qc.clear_calls()
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert world.qc.calls_to("live/list") == [] and world.qc.calls_to("live/read") == []


def test_a_stop_outside_the_bot_raises_the_same_alert_once(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.set_status(request.project_id, "Stopped")
    for _ in range(3):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
    ended = world.store.get_request(request.id)
    assert ended is not None and ended.status is S.ENDED
    alerts = [t for t in world.notifier.texts(request.id) if "stopped outside this bot" in t]
    assert len(alerts) == 1 and f"<@{request.requester_id}>" in alerts[0]
    (broadcast,) = [m for m in outbox_messages(world.store, request.id) if m.payload.get("broadcast")]
    assert "stopped outside this bot" in broadcast.payload["text"]


def test_a_deployment_missing_from_the_list_is_read_before_anything_is_said(world: World) -> None:
    missing, other = running(world, 2)
    watcher = bulk(world)
    settle(watcher, world)
    before = len(world.notifier.texts(missing.id))
    world.qc.hide_from_list(missing.project_id)
    world.qc.clear_calls()
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    # Looked up at once; live/read says Running, as the store does: nothing is said.
    assert [call.body["projectId"] for call in world.qc.calls_to("live/read")] == [missing.project_id]
    assert len(world.notifier.texts(missing.id)) == before
    # Still missing: asked again only on the deployment's own schedule (the Running interval), not every pass.
    for _ in range(5):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/read")) == 1
    watcher.run_once(world.clock.advance(60))
    assert len(world.qc.calls_to("live/read")) == 2
    # It stops while missing from the list: the read finds it, and it is reported once.
    world.qc.set_status(missing.project_id, "Stopped")
    watcher.run_once(world.clock.advance(60))
    ended = world.store.get_request(missing.id)
    assert ended is not None and ended.status is S.ENDED
    assert replies(world, missing.id)["Stopped"] == 1
    assert replies(world, other.id) == Counter({"Running": 1})


def test_a_new_error_with_the_same_status_is_read(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.clear_calls()
    world.qc.set_status(request.project_id, "Running", "Brokerage connection lost, reconnecting")
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/read")) == 1
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/read")) == 1  # once per new error, not every pass


def test_list_outage_keeps_statuses_and_honours_retry_after(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.clear_calls()
    world.qc.fail("live/list", status=429, retry_after=40)
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/list")) == 1
    # Nothing is asked before the 40 s QuantConnect asked for, and nothing is said meanwhile.
    for _ in range(7):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/list")) == 1
    world.qc.set_status(request.project_id, "PendingInput")
    watcher.run_once(world.clock.advance(LIST_INTERVAL + 1))
    assert len(world.qc.calls_to("live/list")) == 2
    assert replies(world, request.id) == Counter({"Running": 1, "PendingInput": 1})
    assert world.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]


def test_list_failures_back_off_exponentially(world: World) -> None:
    running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    world.qc.clear_calls()
    world.qc.fail("live/list", status=503, times=3)
    gaps, last = [], world.clock()
    for _ in range(40):
        now = world.clock.advance(1)
        count = len(world.qc.calls_to("live/list"))
        watcher.run_once(now)
        if len(world.qc.calls_to("live/list")) > count:
            gaps.append((now - last).total_seconds())
            last = now
    # 5 s after the first failure, then 10, then 20 (jitter is fixed at none here); then it answers.
    assert gaps[1:4] == [5.0, 10.0, 20.0]


# -- one poller among replicas ----------------------------------------------------------------------------


def test_only_the_poller_calls_quantconnect_and_the_others_hand_their_work_over(world: World) -> None:
    first_requests = running(world, 2)
    b_store = world.replica("replica-b")
    a, b = bulk(world), bulk(world, b_store)
    a.run_once(world.clock())
    assert a.leading and world.store.role_holder(POLLER, world.clock()) == "replica-a"
    # A deployment made by replica b's deployer is b's until b hands it to the poller.
    made_on_b = world.request(project="Made on b")
    done = world.deployer(store=b_store).deploy(made_on_b.id)
    assert done is not None and b_store.get_deployment(done.id).lease_owner == "replica-b"  # type: ignore[union-attr]
    world.qc.clear_calls()
    for _ in range(5):
        now = world.clock.advance(LIST_INTERVAL)
        b.run_once(now)
        a.run_once(now)
    assert not b.leading
    assert len(world.qc.calls_to("live/list")) == 5  # a's, once per pass; b asks nothing
    owners = {world.store.get_deployment(r.id).lease_owner for r in [*first_requests, done]}  # type: ignore[union-attr]
    assert owners == {"replica-a"}
    assert replies(world, done.id) == Counter({"LoggingIn": 1, "Initializing": 1, "Running": 1})


def test_graceful_stop_hands_the_poll_over_at_once(world: World) -> None:
    requests = running(world, 3)
    b_store = world.replica("replica-b")
    a, b = bulk(world), bulk(world, b_store)
    settle(a, world)
    a.stop()
    assert world.store.role_holder(POLLER, world.clock()) is None
    world.qc.set_status(requests[0].project_id, "PendingInput")
    b.run_once(world.clock.advance(1))  # no lease to wait for
    assert b.leading
    assert {world.store.get_deployment(r.id).lease_owner for r in requests} == {"replica-b"}  # type: ignore[union-attr]
    assert replies(world, requests[0].id) == Counter({"Running": 1, "PendingInput": 1})


def test_a_dead_pollers_deployments_are_taken_over_and_looked_at_at_once(world: World) -> None:
    requests = running(world, 3)
    world.store.heartbeat(world.clock(), 20)  # replica a's last heartbeat: its lease ends in 20 s
    a, b = bulk(world), bulk(world, world.replica("replica-b"))
    settle(a, world)  # within a's lease: a polls and holds every deployment
    assert {world.store.get_deployment(r.id).lease_owner for r in requests} == {"replica-a"}  # type: ignore[union-attr]
    # a dies (no more heartbeats, nothing handed back); b cannot poll until a's lease runs out.
    world.qc.set_status(requests[2].project_id, "Stopped")
    b.run_once(world.clock.advance(1))
    assert not b.leading and replies(world, requests[2].id)["Stopped"] == 0
    b.run_once(world.clock.advance(5))
    assert b.leading
    assert replies(world, requests[2].id)["Stopped"] == 1
    assert world.store.get_request(requests[2].id).status is S.ENDED  # type: ignore[union-attr]


def test_poller_take_over_mid_stream_loses_and_duplicates_no_change(world: World) -> None:
    """The poller's lease expires while it is inside a pass; the other replica takes over, both finish."""
    requests = running(world, 6)
    world.store.heartbeat(world.clock(), 30)  # replica a's last heartbeat before the stall: 30 s of lease
    b_store = world.replica("replica-b")
    a, b = bulk(world), bulk(world, b_store)
    settle(a, world)
    changes: list[tuple[DeployRequest, str]] = []

    def change(index: int, status: str) -> None:
        world.qc.set_status(requests[index].project_id, status)
        changes.append((requests[index], status))

    # A stream of changes; a sees the first ones.
    change(0, "PendingInput")
    change(1, "Idle")
    a.run_once(world.clock.advance(1))
    change(2, "PendingInput")
    change(3, "History")
    # a lists, then stalls inside its pass on its first live/read (a GC pause, a slow network)...
    world.qc.hold("live/read")
    reads = len(world.qc.calls_to("live/read"))
    stalled = threading.Thread(target=a.run_once, args=(world.clock(),))
    stalled.start()
    eventually(lambda: len(world.qc.calls_to("live/read")) > reads, what="a live/read")
    assert stalled.is_alive()  # a's read is held
    # ...for longer than its lease: b takes over the poll and a's deployments, and reports what it sees.
    now = world.clock.advance(31)
    b_store.heartbeat(now, 24 * 3600)
    change(4, "Stopped")
    b.run_once(now)
    assert b.leading
    change(0, "Running")
    change(5, "RuntimeError")
    # a wakes up and finishes its stale pass: its reads are fresh and its writes compare-and-set.
    world.qc.release_held()
    stalled.join(10)
    assert not stalled.is_alive()
    # a is back (its heartbeat renews); it is not the poller any more and asks nothing.
    world.store.heartbeat(world.clock(), 30)
    world.qc.clear_calls()
    a.run_once(world.clock.advance(LIST_INTERVAL))
    assert not a.leading and world.qc.calls == []
    for _ in range(3):
        b.run_once(world.clock.advance(LIST_INTERVAL))

    for request in requests:
        counts = replies(world, request.id)
        expected = Counter(status for changed, status in changes if changed.id == request.id) + Counter(
            {"Running": 1}
        )
        if request.id == requests[5].id:
            # RuntimeError is an error list, not a one-line reply.
            assert any(r == request.id and "RuntimeError" in t for r, t, _ in world.notifier.error_lists)
            expected.pop("RuntimeError")
        assert counts == expected, (request.project_name, counts, expected)
        events = [
            e.action for e in world.store.events(request_id=request.id) if e.action.startswith("status:")
        ]
        assert events == [
            "status:Running",
            *[f"status:{status}" for changed, status in changes if changed.id == request.id],
        ]


def test_only_one_replica_holds_the_role_when_both_claim_at_once(world: World) -> None:
    others = [world.replica(f"replica-{n}") for n in "bcd"]
    stores = [world.store, *others]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def claim(store: Store) -> None:
        barrier.wait()
        results.append(store.claim_role(POLLER, world.clock()))

    threads = [threading.Thread(target=claim, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results.count(True) == 1
    holder = world.store.role_holder(POLLER, world.clock())
    assert holder in {store.replica_id for store in stores}


# -- equity on the card -----------------------------------------------------------------------------------


def test_equity_is_shown_on_the_card_refreshed_in_place_at_most_once_per_period(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    deliver_all(world.store, world)
    threads_before = len(world.notifier.texts(request.id))
    cards_before = cards(world, request.id)
    refreshed = []
    # Equity moves every pass for 20 minutes.
    for step in range(int(20 * 60 / LIST_INTERVAL)):
        world.qc.set_equity(request.project_id, 100_000 + step * 10.5)
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
        if cards(world, request.id) > cards_before + len(refreshed):
            refreshed.append(world.clock())
        deliver_all(world.store, world)
    # At first sight, then once per 5 minutes (at 5 s, 305 s, 605 s and 905 s of the 20 minutes).
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(refreshed)]
    assert len(refreshed) == 4 and gaps == [EQUITY_PERIOD] * 3
    assert len(world.notifier.texts(request.id)) == threads_before  # never a thread reply
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.equity is not None and deployment.equity_at == refreshed[-1]
    _, blocks = request_card(
        world.store.get_request(request.id),  # type: ignore[arg-type]
        approvals=[],
        deployment=deployment,
        model_name="Interactive Brokers",
        now=world.clock(),
    )
    shown = str(blocks)
    assert f"{deployment.equity:,.2f}" in shown
    assert (
        f"Equity from QuantConnect's live list as of <!date^{int(deployment.equity_at.timestamp())}" in shown
    )


def test_unchanged_equity_writes_nothing(world: World) -> None:
    (request,) = running(world, 1)
    watcher = bulk(world)
    settle(watcher, world)
    deliver_all(world.store, world)
    world.qc.set_equity(request.project_id, 5000.001)
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    shown = cards(world, request.id)
    deliver_all(world.store, world)
    # The same value to the cent, an hour on: no store write, no Slack write.
    world.qc.set_equity(request.project_id, 5000.004)
    for _ in range(12):
        watcher.run_once(world.clock.advance(300))
    assert cards(world, request.id) == shown
    assert world.store.get_deployment(request.id).equity == 5000.0  # type: ignore[union-attr]


def test_equity_refreshes_wait_for_status_reports_and_share_the_channel(world: World) -> None:
    requests = running(world, 8)
    watcher = bulk(world)
    settle(watcher, world)
    deliver_all(world.store, world)
    for index, request in enumerate(requests):
        world.qc.set_equity(request.project_id, 1000.0 + index)
    # Undelivered status reports (Slack is slow): no equity refresh joins the queue.
    for request in requests[:3]:
        world.store.enqueue(request.id, [Notice(kind="thread", text="a status report")], now=world.clock())
    before = len(outbox_messages(world.store))
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(outbox_messages(world.store)) == before
    deliver_all(world.store, world)
    # Then at most 20% of the channel's writes (1 per second): one refresh per 5-second pass.
    for _ in range(4):
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
        deliver_all(world.store, world)
    refreshed = [r for r in requests if world.store.get_deployment(r.id).equity is not None]  # type: ignore[union-attr]
    assert len(refreshed) == 4


def test_runtime_statistics_are_read_once_per_period_a_bounded_number_per_pass(world: World) -> None:
    requests = running(world, 6)
    for index, request in enumerate(requests):
        world.qc.runtime_statistics[request.project_id] = {"Equity": "$1.00", "Net Profit": f"${index}.00"}
    watcher = bulk(world)
    settle(watcher, world)
    deliver_all(world.store, world)
    reads_before = len(world.qc.calls_to("live/read"))
    per_pass = []
    for step in range(int(20 * 60 / LIST_INTERVAL)):
        for index, request in enumerate(requests):
            world.qc.runtime_statistics[request.project_id] = {"Net Profit": f"${index}.{step:02d}"}
        before = len(world.qc.calls_to("live/read"))
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
        per_pass.append(len(world.qc.calls_to("live/read")) - before)
        deliver_all(world.store, world)
    # 6 running, a read each at most every 300 s, at most ceil(2 * 6 * 5 / 300) = 1 per 5-second pass.
    assert watcher.statistics_per_pass == 1 and max(per_pass) == 1
    reads = len(world.qc.calls_to("live/read")) - reads_before
    assert 6 * 3 <= reads <= 6 * 4  # 20 minutes: the first a period after first sight, then every period
    for index, request in enumerate(requests):
        statistics = world.store.get_statistics(request.id)
        assert statistics is not None and statistics.statistics["Net Profit"].startswith(f"${index}.")
        assert len(world.notifier.texts(request.id)) == len(world.notifier.texts(requests[0].id))


def test_statistics_reads_spend_the_read_budget_and_status_changes_never_wait(world: World) -> None:
    requests = running(world, 6)
    for index, request in enumerate(requests):
        world.qc.runtime_statistics[request.project_id] = {"Equity": "$1.00", "Net Profit": f"${index}.00"}
    # One read every two minutes: half for statistics, and the fill follower's unspent half flows over.
    budget = ReadBudget(0.5).share(STATISTICS)
    watcher = BulkWatcher(
        world.store, world.client, world.notifier, world.settings, world.clock, read_budget=budget
    )
    settle(watcher, world)
    deliver_all(world.store, world)
    reads_before = len(world.qc.calls_to("live/read"))
    for step in range(int(20 * 60 / LIST_INTERVAL)):
        for index, request in enumerate(requests):
            world.qc.runtime_statistics[request.project_id] = {"Net Profit": f"${index}.{step:02d}"}
        watcher.run_once(world.clock.advance(LIST_INTERVAL))
        deliver_all(world.store, world)
    reads = len(world.qc.calls_to("live/read")) - reads_before
    # Unbudgeted, 18 to 24 reads in 20 minutes (the test above); at 0.5 a minute, one a minute's worth and
    # then one every 2 minutes after the first is due (5 minutes in): at most 1 + 8.
    assert 1 <= reads <= 9
    # The budget is spent: a crash is read at once all the same.
    assert budget.available(world.clock()) == 0
    world.qc.set_status(requests[0].project_id, "RuntimeError", message="boom")
    before = len(world.qc.calls_to("live/read"))
    watcher.run_once(world.clock.advance(LIST_INTERVAL))
    assert len(world.qc.calls_to("live/read")) == before + 1
    assert world.store.get_deployment(requests[0].id).status == "RuntimeError"  # type: ignore[union-attr]


# -- wiring -----------------------------------------------------------------------------------------------


def test_watch_mode_and_list_interval_settings(tmp_path: Path) -> None:
    base = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "DEPLOY_CHANNEL_ID": "C0123",
        "APPROVER_USER_IDS": "U0123ABCD",
    }
    default = Settings.from_env(base, mode="http", dotenv_path=None)
    assert default.watch_mode == "bulk" and default.watch_list_interval_seconds == 5.0
    assert default.statistics_refresh_seconds == 300.0
    # A faster watch interval speeds the list up too, unless the list interval is set.
    fast = Settings.from_env({**base, "WATCH_INTERVAL_SECONDS": "0.2"}, mode="http", dotenv_path=None)
    assert fast.watch_list_interval_seconds == 0.2
    set_ = Settings.from_env(
        {
            **base,
            "WATCH_INTERVAL_SECONDS": "0.2",
            "WATCH_LIST_INTERVAL_SECONDS": "3",
            "WATCH_MODE": "per-deployment",
        },
        mode="http",
        dotenv_path=None,
    )
    assert set_.watch_list_interval_seconds == 3.0 and set_.watch_mode == "per-deployment"
    store = Store(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    try:
        with FakeQuantConnect() as qc, make_client(qc) as client:
            notifier = RecordingNotifier(store)
            assert type(make_watcher(store, client, notifier, default, ManualClock())) is BulkWatcher
            assert type(make_watcher(store, client, notifier, set_, ManualClock())) is Watcher
    finally:
        store.dispose()
