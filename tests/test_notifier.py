"""Notifier against the fake Slack: cards, coalescing, pacing, 429s, failures, threads, ephemerals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.notifier import Notifier
from bot.store import DeployRequest, NewRequest, RequestStatus, Store
from tests.fakes.fake_slack import FakeSlack

CHANNEL = "CDEPLOY"
S = RequestStatus


def now() -> datetime:
    return datetime.now(UTC)


class RecordingSleep:
    """A sleep that records what it was asked to wait and returns at once (or blocks when told to)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.block = False
        self.sleeping = threading.Event()
        self.release = threading.Event()

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.block:
            self.sleeping.set()
            self.release.wait(10)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'notifier.sqlite3'}")
    yield store
    store.dispose()


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    # No retry handlers: a failed call fails at once (tests that want retries use retrying_client).
    return WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=5)


def make_notifier(client: WebClient, store: Store, **kw: object) -> Notifier:
    kw.setdefault("min_interval", 0)
    return Notifier(client, store, CHANNEL, clock=now, **kw)  # type: ignore[arg-type]


def new_request(store: Store, project_id: int = 1, **overrides: object) -> DeployRequest:
    values: dict[str, object] = {
        "project_id": project_id,
        "project_name": f"Project {project_id}",
        "model_key": "InteractiveBrokersSettings",
        "brokerage_id": "InteractiveBrokersBrokerage",
        "profile": "ib-main",
        "version_id": "17202",
        "settings": {"ib-trading-mode": "live"},
        "reason": "test",
        "requester_id": "UREQUESTER",
        "is_paper": False,
        "approvals_needed": 1,
        "channel_id": CHANNEL,
        "expires_at": now() + timedelta(hours=1),
    }
    values.update(overrides)
    return store.create_request(NewRequest.model_validate(values), now=now())


def card_text(slack: FakeSlack, ts: str) -> str:
    return str(slack.message(CHANNEL, ts).get("blocks"))


def test_post_card_stores_where_it_is_and_never_posts_twice(
    slack: FakeSlack, client: WebClient, store: Store
) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    stored = store.get_request(request.id)
    assert stored is not None and stored.message_ts == ts and stored.channel_id == CHANNEL
    assert notifier.post_card(request) == ts
    assert len(slack.messages(CHANNEL)) == 1
    notifier.close()


def test_refresh_updates_the_card_in_place(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    store.transition(
        request.id, from_statuses=S.PENDING, to=S.REJECTED, actor="UAPPROVER1", action="rejected", now=now(),
        decided_by="UAPPROVER1", decided_at=now(), decision_note="not today",
    )  # fmt: skip
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    assert len(slack.messages(CHANNEL)) == 1
    text = card_text(slack, ts)
    assert "Rejected" in text and "not today" in text and "'actions'" not in text
    notifier.close()


def test_refreshes_coalesce_and_the_latest_state_wins(
    slack: FakeSlack, client: WebClient, store: Store
) -> None:
    sleep = RecordingSleep()
    notifier = make_notifier(client, store, min_interval=1.0, sleep=sleep)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    sleep.block = True
    notifier.refresh_card(request.id)
    # The sender is now waiting for the channel's next slot: pile up refreshes and change the state.
    assert sleep.sleeping.wait(5)
    for _ in range(20):
        notifier.refresh_card(request.id)
    store.add_approval(request.id, "UAPPROVER1", now=now())
    sleep.release.set()
    assert notifier.flush(5)
    updates = slack.calls_to("chat.update")
    assert 1 <= len(updates) <= 2, "twenty refreshes while one was in flight coalesce into one more"
    assert "Approved" in card_text(slack, ts)
    assert sleep.waits and sleep.waits[0] > 0, "the second write in the channel waited for its slot"
    notifier.close()


def test_writes_in_one_channel_are_paced(slack: FakeSlack, client: WebClient, store: Store) -> None:
    sleep = RecordingSleep()
    notifier = make_notifier(client, store, min_interval=1.0, sleep=sleep)
    request = new_request(store)
    notifier.post_card(request)
    for index in range(5):
        notifier.thread(request.id, f"step {index}")
    assert notifier.flush(5)
    # One wait per write after the first; the fake clock does not advance, so each waits a full slot more.
    assert len(sleep.waits) == 5
    assert sleep.waits == sorted(sleep.waits)
    notifier.close()


def retrying_client(slack: FakeSlack, retries: int) -> WebClient:
    """A client that waits out 429s itself, as the bot's does (bot/app.py build_slack_client)."""
    client = WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=5)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=retries))
    return client


def test_rate_limits_are_waited_out_by_the_client_and_the_update_is_not_lost(
    slack: FakeSlack, store: Store
) -> None:
    notifier = make_notifier(retrying_client(slack, retries=2), store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    store.add_approval(request.id, "UAPPROVER1", now=now())
    slack.rate_limit("chat.update", times=2, retry_after=0)
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    assert "Approved" in card_text(slack, ts)
    assert [call.status for call in slack.calls_to("chat.update", ok_only=False)] == [429, 429, 200]
    assert not [e for e in store.events(request_id=request.id) if e.action == "slack_error"]
    notifier.close()


def test_a_rate_limit_the_client_gives_up_on_is_one_failure_not_more_attempts(
    slack: FakeSlack, store: Store
) -> None:
    notifier = make_notifier(retrying_client(slack, retries=2), store)
    request = new_request(store)
    assert notifier.post_card(request) is not None
    slack.rate_limit("chat.update", times=10, retry_after=0)
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    # The client's first call and its two retries; the notifier adds none of its own.
    assert len(slack.calls_to("chat.update", ok_only=False)) == 3
    errors = [e.detail for e in store.events(request_id=request.id) if e.action == "slack_error"]
    assert errors == [{"method": "chat.update", "error": "ratelimited"}]
    slack.clear_faults()
    notifier.close()


def test_a_failed_call_is_audited_not_raised(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    notifier.post_card(request)
    slack.fail("chat.update", "internal_error")
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    errors = [e for e in store.events(request_id=request.id) if e.action == "slack_error"]
    assert [(e.detail["method"], e.detail["error"]) for e in errors] == [("chat.update", "internal_error")]
    notifier.close()


def test_a_deleted_card_is_posted_again(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    first = notifier.post_card(request)
    slack.fail("chat.update", "message_not_found")
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    stored = store.get_request(request.id)
    assert stored is not None and stored.message_ts not in (None, first)
    assert len(slack.messages(CHANNEL)) == 2
    notifier.close()


def test_a_card_slack_refused_to_post_is_posted_by_the_next_refresh(
    slack: FakeSlack, client: WebClient, store: Store
) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    slack.fail("chat.postMessage", "service_unavailable")
    assert notifier.post_card(request) is None
    assert [e.detail["error"] for e in store.events(request_id=request.id) if e.action == "slack_error"] == [
        "service_unavailable"
    ]
    notifier.refresh_card(request.id)
    assert notifier.flush(5)
    stored = store.get_request(request.id)
    assert stored is not None and stored.message_ts is not None
    notifier.close()


def test_thread_replies_keep_their_order(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    for index in range(10):
        notifier.thread(request.id, f"step {index}")
        notifier.refresh_card(request.id)
    assert notifier.flush(5)
    assert [m["text"] for m in slack.thread(CHANNEL, ts)] == [f"step {i}" for i in range(10)]
    notifier.close()


def test_a_long_error_list_is_split_over_several_valid_replies(
    slack: FakeSlack, client: WebClient, store: Store
) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    errors = [f"Line {i}: error CS1002: ; expected " + "x" * 200 for i in range(1000)]
    notifier.post_error_list(request.id, "Build failed", errors)
    assert notifier.flush(10)
    replies = slack.thread(CHANNEL, ts)
    assert len(replies) > 1
    assert all(len(reply["blocks"]) <= 50 for reply in replies)
    shown = "".join(str(reply["blocks"]) for reply in replies)
    assert "Line 0:" in shown and "Line 999:" in shown
    assert not slack.calls_to("chat.postMessage", ok_only=False)[-1].response.get("error")
    notifier.close()


def test_ephemeral_falls_back_to_a_direct_message(slack: FakeSlack, client: WebClient, store: Store) -> None:
    slack.add_channel("CPRIVATE", "private", members=["UMEMBER"])
    notifier = make_notifier(client, store)
    assert notifier.ephemeral("CPRIVATE", "UMEMBER", "hello member")
    assert slack.ephemerals("UMEMBER")[-1]["text"] == "hello member"
    assert notifier.ephemeral("CPRIVATE", "UOUTSIDER", "hello outsider")
    assert slack.messages("UOUTSIDER")[-1]["text"] == "hello outsider"
    notifier.close()


def test_permalink(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    request = new_request(store)
    ts = notifier.post_card(request)
    assert ts is not None
    link = notifier.permalink(CHANNEL, ts)
    assert link is not None and link.startswith("https://")
    assert notifier.permalink(CHANNEL, "1.000000") is None
    notifier.close()


def test_many_threads_refreshing_at_once(slack: FakeSlack, client: WebClient, store: Store) -> None:
    notifier = make_notifier(client, store)
    requests = [new_request(store, project_id=100 + i) for i in range(5)]
    for request in requests:
        notifier.post_card(request)
    workers = [
        threading.Thread(target=lambda r=r: [notifier.refresh_card(r.id) for _ in range(20)])
        for r in requests
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert notifier.flush(10)
    assert len(slack.calls_to("chat.update")) <= 100
    assert len(slack.messages(CHANNEL)) == 5
    notifier.close()
