"""The `authorizing` status in the store: its moves, its fenced check schedule, its DM in the outbox, its
take-over by another replica, and expiry releasing the project; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.notices import card_notice, dm_notice
from bot.store import RequestStatus, Store
from tests.support.outbox import outbox_messages
from tests.support.replicas import two_replicas
from tests.support.requests import NOW, new_request

S = RequestStatus
LEASE = 20.0


@pytest.fixture
def pair(store_url: str) -> Iterator[tuple[Store, Store]]:
    yield from two_replicas(store_url, NOW, LEASE)


def later(seconds: float) -> object:
    return NOW + timedelta(seconds=seconds)


def authorizing(store: Store, project_id: int = 301) -> str:
    rid = store.create_request(new_request(project_id=project_id, approvals_needed=0), now=NOW).id
    assert store.claim_request(rid, NOW) is not None
    moved = store.transition(
        rid,
        from_statuses={S.APPROVED},
        to=S.AUTHORIZING,
        actor="bot",
        action="authorization_requested",
        now=NOW,
        owned=True,
        notices=[card_notice(), dm_notice("link")],
        settle_deadline=later(3600),
        next_check_at=later(5),
        settle_note="waiting for Alpaca authorization",
    )
    assert moved is not None and moved.status is S.AUTHORIZING
    return rid


def test_authorizing_is_in_flight_and_its_dm_is_queued_with_the_move(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = authorizing(a)
    request = a.get_request(rid)
    assert request is not None and request.owner == "replica-a" and request.is_open
    assert not request.is_settling  # a settling request is a deploying one
    kinds = [m.kind for m in outbox_messages(a) if m.request_id == rid]
    assert kinds.count("dm") == 1
    assert a.open_request_for_project(301) is not None


def test_the_check_schedule_is_fenced_by_the_claim(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = authorizing(a)
    assert not b.schedule_check(rid, S.AUTHORIZING, later(10), "b", now=later(1))
    assert a.schedule_check(rid, S.AUTHORIZING, later(10), "a", now=later(1))
    assert a.get_request(rid).next_check_at == later(10)  # type: ignore[union-attr]
    # a's lease ran out: its schedule no longer counts, and b takes the wait over.
    assert not a.schedule_check(rid, S.AUTHORIZING, later(60), "a", now=later(LEASE + 1))
    b.heartbeat(later(LEASE + 1), LEASE)
    assert [r.id for r in b.resumable_requests(later(LEASE + 2))] == [rid]
    assert b.claim_request(rid, later(LEASE + 2)) is not None


@pytest.mark.parametrize("target", [S.COMPILING, S.EXPIRED, S.FAILED, S.CANCELLED])
def test_authorizing_ends_in_compiling_expired_failed_or_cancelled(
    pair: tuple[Store, Store], target: S
) -> None:
    a, _ = pair
    rid = authorizing(a)
    extra = (
        {"next_check_at": None, "settle_note": None, "settle_deadline": None} if target is S.COMPILING else {}
    )
    moved = a.transition(
        rid,
        from_statuses={S.AUTHORIZING},
        to=target,
        actor="bot",
        action="x",
        now=later(2),
        owned=True,
        **extra,
    )
    assert moved is not None and moved.status is target
    if target is S.COMPILING:
        assert moved.owner == "replica-a" and moved.next_check_at is None
        assert a.open_request_for_project(301) is not None
    else:
        assert moved.owner is None and a.open_request_for_project(301) is None


@pytest.mark.parametrize("target", [S.DEPLOYING, S.LIVE, S.APPROVED])
def test_authorizing_cannot_skip_compiling(pair: tuple[Store, Store], target: S) -> None:
    a, _ = pair
    rid = authorizing(a)
    with pytest.raises(ValueError):
        a.transition(rid, from_statuses={S.AUTHORIZING}, to=target, actor="bot", action="x", now=later(2))


def test_the_sweeper_does_not_expire_an_authorizing_request(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = authorizing(a)
    assert a.expire_due(later(99999)) == []  # only its owner decides, on QuantConnect's word and the deadline
    assert a.get_request(rid).status is S.AUTHORIZING  # type: ignore[union-attr]
