"""Watcher: status changes reported once, cadence from an injected clock, outages, leases and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import DeployRequest, RequestStatus
from bot.watcher import UNKNOWN_STATUS, Watcher
from tests.support.outbox import outbox_messages
from tests.support.waiting import eventually
from tests.support.world import World, make_client, make_settings, make_world

S = RequestStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def deployed(world: World, project: str = "Momentum") -> DeployRequest:
    request = world.request(project=project)
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is S.LIVE
    return done


def watcher(world: World, replica: str | None = None, *, lease_seconds: float = 24 * 3600) -> Watcher:
    """A watcher of this world's replica, or of another replica on the same database."""
    store = world.store if replica is None else world.replica(replica, lease_seconds=lease_seconds)
    return Watcher(store, world.client, world.notifier, world.settings, world.clock)


def status_replies(world: World, request_id: str) -> list[str]:
    before = {"Deploying", "Compiling", "Build succeeded", "accepted deployment"}
    return [t for t in world.notifier.texts(request_id) if not any(word in t for word in before)]


def test_each_status_change_is_reported_once_until_running(world: World) -> None:
    request = deployed(world)
    w = watcher(world)
    # The fake walks InQueue -> LoggingIn -> Initializing -> Running, one step per live/read.
    for _ in range(3):
        assert w.run_once(world.clock.advance(1)) == 1
    replies = status_replies(world, request.id)
    assert [r.split(":")[0] for r in replies] == ["🔑 LoggingIn", "⚙️ Initializing", "🟢 Running"]
    # Running, unchanged: more polls, no more messages.
    for _ in range(5):
        w.run_once(world.clock.advance(10))
    assert status_replies(world, request.id) == replies
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.status == "Running"
    events = [e.action for e in world.store.events(request_id=request.id) if e.action.startswith("status:")]
    assert events == ["status:LoggingIn", "status:Initializing", "status:Running"]


def test_cadence_is_fast_until_running_then_slow(world: World) -> None:
    request = deployed(world)
    w = watcher(world)
    now = world.clock()
    assert w.run_once(now) == 1  # LoggingIn
    assert w.run_once(now) == 0  # not due again yet
    assert w.run_once(world.clock.advance(world.settings.watch_interval_seconds)) == 1  # Initializing
    now = world.clock.advance(world.settings.watch_interval_seconds)
    assert w.run_once(now) == 1  # Running
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.next_poll_at is not None
    assert (deployment.next_poll_at - now).total_seconds() == world.settings.watch_running_interval_seconds
    assert w.run_once(world.clock.advance(world.settings.watch_interval_seconds)) == 0
    assert w.run_once(world.clock.advance(world.settings.watch_running_interval_seconds)) == 1


def test_deploy_error_fails_the_request_with_the_message(world: World) -> None:
    request = world.request()
    world.qc.deploy_error_after(request.project_id, 1, "Login failed: invalid IB password")
    request = world.deployer().deploy(request.id)  # type: ignore[assignment]
    w = watcher(world)
    assert w.run_once(world.clock.advance(1)) == 1
    failed = world.store.get_request(request.id)
    assert failed is not None and failed.status is S.FAILED
    assert "Login failed" in failed.errors[0]
    ((_, title, errors),) = world.notifier.error_lists
    assert "DeployError" in title and errors == ["Login failed: invalid IB password"]
    # Terminal: never polled again, and the project is free for a new request.
    assert w.run_once(world.clock.advance(1000)) == 0
    assert world.store.open_request_for_project(request.project_id) is None


def test_runtime_error_after_running_fails(world: World) -> None:
    request = deployed(world)
    w = watcher(world)
    for _ in range(3):
        w.run_once(world.clock.advance(10))
    world.qc.runtime_error_after(request.project_id, 1, "Division by zero in OnData")
    w.run_once(world.clock.advance(10))
    failed = world.store.get_request(request.id)
    assert failed is not None and failed.status is S.FAILED
    assert world.notifier.error_lists[-1][2] == ["Division by zero in OnData"]


def test_stopped_ends_the_request(world: World) -> None:
    request = deployed(world)
    w = watcher(world)
    w.run_once(world.clock.advance(1))
    world.qc.set_status(request.project_id, "Stopped")
    w.run_once(world.clock.advance(1))
    ended = world.store.get_request(request.id)
    assert ended is not None and ended.status is S.ENDED
    replies = status_replies(world, request.id)
    assert replies[-2].startswith("⏹️ Stopped")
    # Nobody stopped it through the bot: the requester is alerted.
    assert "stopped outside this bot" in replies[-1]
    assert [e.action for e in world.store.events(request_id=request.id)][-1] == "ended"


@pytest.mark.parametrize("status", ["Stopped", "RuntimeError"])
def test_an_end_refreshes_the_card_once_even_if_a_refresh_starts_in_between(
    world: World, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    request = deployed(world)
    w = watcher(world)
    for _ in range(3):
        w.run_once(world.clock.advance(10))
    store = world.store
    record_status = store.record_status

    def then_the_sender_starts(*args: Any, **kwargs: Any) -> bool:
        """The sender starts every queued card refresh right after the status is stored (before the move)."""
        changed = record_status(*args, **kwargs)
        for message in store.claim_outbox(world.clock(), limit=100):
            if message.kind == "card":
                store.start_message(message.id, world.clock())
        return changed

    for message in store.claim_outbox(world.clock(), limit=100):  # everything so far delivered
        store.start_message(message.id, world.clock())
        store.finish_message(message.id, world.clock())
    monkeypatch.setattr(store, "record_status", then_the_sender_starts)
    cards_before = sum(1 for m in outbox_messages(store, request.id) if m.kind == "card")
    world.qc.set_status(request.project_id, status, "Division by zero" if status == "RuntimeError" else None)
    w.run_once(world.clock.advance(10))
    ended = store.get_request(request.id)
    assert ended is not None and ended.status in (S.ENDED, S.FAILED)
    cards = [m for m in outbox_messages(store, request.id) if m.kind == "card"]
    assert len(cards) - cards_before == 1, "one refresh, queued with the request's move"


def test_outage_backs_off_records_unknown_once_and_never_fails(world: World) -> None:
    request = deployed(world)
    fragile = make_client(world.qc, max_retries=0)
    w = Watcher(world.store, fragile, world.notifier, world.settings, world.clock)
    try:
        world.qc.fail("live/read", status=503, times=4)
        gaps = []
        for _ in range(4):
            now = world.clock()
            assert w.run_once(now) == 1
            deployment = world.store.get_deployment(request.id)
            assert deployment is not None and deployment.status == UNKNOWN_STATUS
            gap = (deployment.next_poll_at - now).total_seconds()  # type: ignore[operator]
            gaps.append(gap)
            world.clock.advance(gap)
        assert gaps == sorted(gaps) and gaps[-1] > gaps[0]
        unknown = [t for t in world.notifier.texts(request.id) if "Status unknown" in t]
        assert len(unknown) == 1
        assert world.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]
        # QuantConnect answers again: the real status is reported.
        w.run_once(world.clock())
        assert "answers again" in world.notifier.texts(request.id)[-1]
    finally:
        fragile.close()


def test_lease_keeps_a_second_process_off_until_released(world: World) -> None:
    request = deployed(world)
    first, second = watcher(world), watcher(world, "proc-2")
    assert first.run_once(world.clock.advance(1)) == 1
    assert second.run_once(world.clock.advance(1)) == 0
    first.stop()  # a clean shutdown gives the lease back
    assert second.run_once(world.clock()) == 1
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.lease_owner == "proc-2"


def test_restart_resumes_from_the_store_without_duplicates(world: World) -> None:
    request = deployed(world)
    before = watcher(world)
    before.run_once(world.clock.advance(1))  # LoggingIn
    before.stop()
    after = watcher(world, "proc-2")
    for _ in range(4):
        after.run_once(world.clock.advance(20))
    replies = [r.split(":")[0] for r in status_replies(world, request.id)]
    assert replies == ["🔑 LoggingIn", "⚙️ Initializing", "🟢 Running"]


def test_a_crashed_owner_is_replaced_after_its_lease_expires(world: World) -> None:
    request = deployed(world)
    world.store.release_lease(request.id)
    crashed = watcher(world, "proc-1", lease_seconds=30)
    assert crashed.run_once(world.clock.advance(1)) == 1
    successor = watcher(world, "proc-2")
    world.store.schedule_poll(request.id, world.clock.advance(3600))  # not due for an hour
    assert successor.run_once(world.clock.advance(-3590)) == 0  # proc-1 still holds it
    # proc-1's lease ran out (it stopped beating): taken over and looked at at once, not in an hour.
    assert successor.run_once(world.clock.advance(31)) == 1
    assert world.store.get_deployment(request.id).lease_owner == "proc-2"  # type: ignore[union-attr]


def test_background_thread_reports_until_running(world: World) -> None:
    fast = make_settings(watch_interval_seconds=0.05, watch_running_interval_seconds=0.2)
    request = deployed(world)
    w = Watcher(world.store, world.client, world.notifier, fast, lambda: datetime.now(UTC))
    w.start()
    try:
        eventually(lambda: world.store.get_deployment(request.id).status == "Running", timeout=10)  # type: ignore[union-attr]
    finally:
        w.stop()
    assert status_replies(world, request.id)[-1].startswith("🟢 Running")
    assert world.store.get_deployment(request.id).lease_owner is None  # type: ignore[union-attr]
