"""Replica leases, ownership of work, take-over, and the Slack outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.store import Notice, RequestStatus, Store, migrations
from tests.support.outbox import outbox_messages
from tests.support.replicas import two_replicas
from tests.support.requests import NOW, new_request
from tests.support.schema_v1 import create_version_1_database

S = RequestStatus
LEASE = 20.0


@pytest.fixture
def pair(store_url: str) -> Iterator[tuple[Store, Store]]:
    """Two replicas (two stores with their own ids) on one database, both with a live lease at NOW."""
    yield from two_replicas(store_url, NOW, LEASE)


def later(seconds: float) -> object:
    return NOW + timedelta(seconds=seconds)


def approved(store: Store, project_id: int = 101) -> str:
    return store.create_request(new_request(project_id=project_id, approvals_needed=0), now=NOW).id


def test_a_live_replica_keeps_its_work_until_its_lease_expires(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    claimed = a.claim_request(rid, NOW)
    assert claimed is not None and claimed.owner == "replica-a" and claimed.owned_since == NOW
    assert b.claim_request(rid, later(5)) is None
    assert a.claim_request(rid, later(6)).owned_since == NOW  # type: ignore[union-attr]  # still the same claim
    # a keeps beating: b still cannot take it after the first lease length.
    a.heartbeat(later(15), LEASE)
    assert b.claim_request(rid, later(25)) is None
    # a stops beating: once its lease ran out, b takes over.
    b.heartbeat(later(30), LEASE)
    taken = b.claim_request(rid, later(36))
    assert taken is not None and taken.owner == "replica-b" and taken.owned_since == later(36)
    assert [r.id for r in b.resumable_requests(later(36))] == [rid]
    assert a.resumable_requests(later(36)) == []


def test_a_replica_without_a_live_lease_claims_nothing(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = approved(a)
    assert a.claim_request(rid, later(LEASE + 1)) is None
    a.heartbeat(later(LEASE + 1), LEASE)
    assert a.claim_request(rid, later(LEASE + 2)) is not None


def test_fenced_moves_need_the_claim_and_a_live_lease(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    a.claim_request(rid, NOW)

    def move(store: Store, when: object) -> object:
        return store.transition(
            rid, from_statuses={S.APPROVED}, to=S.COMPILING, actor="bot", action="c", now=when, owned=True
        )

    assert move(b, later(1)) is None  # not b's
    assert move(a, later(LEASE + 1)) is None  # a's lease ran out: another replica may hold it by now
    a.heartbeat(later(LEASE + 1), LEASE)
    moved = move(a, later(LEASE + 2))
    assert moved is not None and moved.status is S.COMPILING and moved.owner == "replica-a"
    # Leaving flight clears the owner.
    done = a.transition(
        rid, from_statuses={S.COMPILING}, to=S.FAILED, actor="bot", action="f", now=later(21), owned=True
    )
    assert done is not None and done.owner is None and done.owned_since is None


def test_a_settling_requests_next_check_is_fenced_like_its_moves(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    a.claim_request(rid, NOW)
    for source, target in ((S.APPROVED, S.COMPILING), (S.COMPILING, S.DEPLOYING)):
        a.transition(rid, from_statuses={source}, to=target, actor="bot", action="m", now=NOW, owned=True)
    card = [Notice(kind="card")]
    assert not b.schedule_check(rid, S.DEPLOYING, later(10), "b", now=later(1), notices=card)
    assert not a.schedule_check(rid, S.AUTHORIZING, later(10), "a", now=later(1))  # not in that wait
    assert a.schedule_check(rid, S.DEPLOYING, later(10), "a", now=later(1), notices=card)
    assert a.get_request(rid).next_check_at == later(10)  # type: ignore[union-attr]
    # a's lease ran out: a late check (a slow QuantConnect answer) writes and queues nothing.
    queued = len(outbox_messages(a))
    assert not a.schedule_check(rid, S.DEPLOYING, later(60), "late", now=later(LEASE + 1), notices=card)
    assert a.get_request(rid).settle_note == "a" and len(outbox_messages(a)) == queued  # type: ignore[union-attr]


def test_retire_hands_everything_back_at_once(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    live = approved(a, project_id=102)
    a.claim_request(rid, NOW)
    a.start_deployment(live, 102, "L-1", "Running", now=NOW)
    a.enqueue(rid, [Notice(kind="thread", text="hello")], now=NOW)
    assert a.get_deployment(live).lease_owner == "replica-a"  # type: ignore[union-attr]

    a.retire()

    assert a.get_request(rid).owner is None  # type: ignore[union-attr]
    assert a.get_deployment(live).lease_owner is None  # type: ignore[union-attr]
    assert [r.id for r in b.replicas(later(1))] == ["replica-b"]
    assert b.claim_request(rid, later(1)) is not None  # at once, no waiting for a's lease
    assert [m.text for m in _texts(b.claim_outbox(later(1)))] == ["hello"]


def test_watching_is_claimed_in_batches_and_orphans_are_polled_at_once(pair: tuple[Store, Store]) -> None:
    a, b = pair
    ids = []
    for project_id in (301, 302, 303):
        rid = approved(a, project_id)
        a.start_deployment(rid, project_id, f"L-{project_id}", "Running", now=NOW)
        a.schedule_poll(rid, later(3600))
        ids.append(rid)
    a.release_lease(ids[0])  # handed back: free, keeps its schedule

    claim = b.acquire_leases([*ids, "r-missing"], later(1))
    assert claim.ours == {ids[0]} and claim.taken_over == set()
    assert b.adopt_orphaned_deployments(later(1)) == []  # a is alive

    b.heartbeat(later(30), LEASE)
    adopted = b.adopt_orphaned_deployments(later(30))  # a's lease ran out at +20 s
    assert sorted(d.request_id for d in adopted) == sorted(ids[1:])
    assert all(d.next_poll_at == later(30) and d.lease_owner == "replica-b" for d in adopted)
    assert b.get_deployment(ids[0]).next_poll_at == later(3600)  # type: ignore[union-attr]


def test_take_over_is_reported_per_deployment(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    a.start_deployment(rid, 101, "L-1", "Running", now=NOW)
    b.heartbeat(later(30), LEASE)
    claim = b.acquire_leases([rid], later(30))
    assert claim.ours == {rid} and claim.taken_over == {rid}


def test_who_holds_what(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    live = approved(a, project_id=102)
    a.claim_request(rid, NOW)
    b.start_deployment(live, 102, "L-1", "Running", now=NOW)
    b.enqueue(live, [Notice(kind="thread", text="x")], now=NOW)

    seen = {r.id: r for r in a.replicas(later(1))}
    assert [h.id for h in seen["replica-a"].requests] == [rid] and seen["replica-a"].alive
    assert seen["replica-b"].deployments == 1 and seen["replica-b"].messages == 1
    assert not {r.id: r for r in a.replicas(later(LEASE + 1))}["replica-a"].alive
    # Gone replicas holding nothing are forgotten.
    b.finish_message(b.claim_outbox(later(1))[0].id, later(1))
    b.release_lease(live)
    assert b.forget_replicas(later(LEASE + 60)) == 1  # b holds nothing; a still owns the request
    assert [r.id for r in b.replicas(later(LEASE + 60))] == ["replica-a"]


def _texts(messages: list) -> list:  # type: ignore[type-arg]
    class T:
        def __init__(self, m: object) -> None:
            self.text = m.payload.get("text")  # type: ignore[attr-defined]

    return [T(m) for m in messages]


def test_messages_queue_with_the_change_and_cards_coalesce(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = approved(a)
    a.claim_request(rid, NOW)
    card = Notice(kind="card")
    a.transition(
        rid,
        from_statuses={S.APPROVED},
        to=S.COMPILING,
        actor="bot",
        action="c",
        now=NOW,
        owned=True,
        notices=[card, Notice(kind="thread", text="compiling")],
    )
    a.enqueue(rid, [card, Notice(kind="thread", text="more")], now=NOW)  # the waiting card refresh stands

    queued = a.claim_outbox(NOW)
    assert [(m.kind, m.payload.get("text")) for m in queued] == [
        ("card", None),
        ("thread", "compiling"),
        ("thread", "more"),
    ]
    assert a.undelivered() == 3
    assert a.start_message(queued[0].id, NOW)
    a.enqueue(rid, [card], now=NOW)  # the first refresh is rendering: this one may show newer state
    assert [m.kind for m in a.claim_outbox(NOW)].count("card") == 2
    a.finish_message(queued[0].id, NOW)
    assert a.undelivered() == 3


def test_a_failed_move_queues_nothing(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = approved(a)
    moved = a.transition(
        rid,
        from_statuses={S.COMPILING},
        to=S.DEPLOYING,
        actor="bot",
        action="d",
        now=NOW,
        notices=[Notice(kind="thread", text="never")],
    )
    assert moved is None and outbox_messages(a, rid) == []


def test_messages_of_a_dead_replica_are_delivered_by_another(pair: tuple[Store, Store]) -> None:
    a, b = pair
    rid = approved(a)
    a.enqueue(rid, [Notice(kind="thread", text="one"), Notice(kind="thread", text="two")], now=NOW)
    assert b.claim_outbox(later(1)) == []
    b.heartbeat(later(30), LEASE)
    taken = b.claim_outbox(later(30))
    assert [m.payload["text"] for m in taken] == ["one", "two"] and {m.owner for m in taken} == {"replica-b"}
    assert not a.start_message(taken[0].id, later(31))  # a, back from a pause, no longer owns it


def test_version_1_databases_upgrade_with_their_data(store_url: str) -> None:
    create_version_1_database(store_url, NOW)
    store = Store(store_url, replica_id="replica-a")
    try:
        assert store.schema_current()
        store.heartbeat(NOW, LEASE)
        rid = approved(store)
        store.start_deployment(rid, 101, "L-1", "Running", now=NOW)
        assert store.claim_request(rid, NOW) is not None
        assert store.get_deployment(rid).lease_owner == "replica-a"  # type: ignore[union-attr]
    finally:
        store.dispose()


assert migrations.LATEST_VERSION >= 2  # the v1 copy upgrades through step 2 and every later step
