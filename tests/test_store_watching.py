"""The store's part of bulk watching: leader roles under replica leases, the poller's deployments, equity.

Every test runs on SQLite and on PostgreSQL (`store_url`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.blocks.card import request_card
from bot.notices import card_notice
from bot.store import RequestStatus, Store, migrations
from bot.store.roles import POLLER
from tests.support.outbox import outbox_messages
from tests.support.replicas import two_replicas
from tests.support.requests import NOW as CREATED_AT
from tests.support.requests import new_request
from tests.support.schema_v1 import create_version_1_database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = 15.0
S = RequestStatus


def approved(store: Store, project_id: int = 101) -> str:
    """An approved request (no approvals needed) for the project."""
    return store.create_request(new_request(project_id=project_id, approvals_needed=0), now=CREATED_AT).id


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
def pair(store_url: str) -> Iterator[tuple[Store, Store]]:
    """Two replicas on one database, both alive at NOW."""
    yield from two_replicas(store_url, NOW, LEASE)


def live_deployment(store: Store, project_id: int = 101, status: str = "Running") -> str:
    """A request walked to live with a deployment this store's replica watches."""
    rid = approved(store, project_id)
    for source, target in ((S.APPROVED, S.COMPILING), (S.COMPILING, S.DEPLOYING), (S.DEPLOYING, S.LIVE)):
        store.transition(rid, from_statuses={source}, to=target, actor="t", action="t", now=NOW)
    store.start_deployment(rid, project_id, f"L-{project_id}", status, now=NOW)
    return rid


def test_one_replica_holds_the_role_until_its_lease_expires(pair: tuple[Store, Store]) -> None:
    a, b = pair
    assert a.role_holder(POLLER, NOW) is None
    assert a.claim_role(POLLER, NOW) is True
    assert a.claim_role(POLLER, later(1)) is True  # still ours
    assert b.claim_role(POLLER, later(1)) is False  # a lives
    assert b.role_holder(POLLER, later(1)) == "replica-a"
    # a stops beating: once its lease ran out, b takes the role over.
    b.heartbeat(later(20), LEASE)
    assert b.role_holder(POLLER, later(20)) is None
    assert b.claim_role(POLLER, later(20)) is True
    # a comes back (its heartbeat renews) but the role is b's now.
    a.heartbeat(later(21), LEASE)
    assert a.claim_role(POLLER, later(21)) is False
    assert a.role_holder(POLLER, later(21)) == "replica-b"


def test_a_replica_without_a_live_lease_cannot_take_the_role(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    assert a.claim_role(POLLER, later(LEASE + 1)) is False  # a's own lease ran out


def test_releasing_the_role_frees_it_at_once(pair: tuple[Store, Store]) -> None:
    a, b = pair
    assert a.claim_role(POLLER, NOW)
    assert b.release_role(POLLER) is False  # not b's to give up
    assert a.release_role(POLLER) is True
    assert b.claim_role(POLLER, later(1)) is True


def test_the_role_of_a_retired_replica_is_free(pair: tuple[Store, Store]) -> None:
    a, b = pair
    assert a.claim_role(POLLER, NOW)
    a.retire()  # a graceful stop removes the replica's lease
    assert b.claim_role(POLLER, later(1)) is True


def test_the_poller_claims_free_work_and_takes_over_a_dead_replicas_due_at_once(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    ours = live_deployment(a, 101)
    free = live_deployment(a, 102)
    a.release_lease(free)
    theirs = live_deployment(b, 103)
    b.schedule_poll(theirs, later(3600))
    a.schedule_poll(free, later(3600))
    watching = a.watch_everything(later(1))
    assert {w.request_id for w in watching.deployments} == {ours, free}
    assert watching.taken_over == 0
    # Free work keeps its schedule.
    assert a.get_deployment(free).next_poll_at == later(3600)  # type: ignore[union-attr]
    # b dies: its deployment is a's after b's lease, due at once (b may have missed changes).
    a.heartbeat(later(20), LEASE)
    watching = a.watch_everything(later(20))
    assert {w.request_id for w in watching.deployments} == {ours, free, theirs}
    assert watching.taken_over == 1
    taken = a.get_deployment(theirs)
    assert taken is not None and taken.lease_owner == "replica-a" and taken.next_poll_at == later(20)


def test_ended_deployments_are_not_watched(pair: tuple[Store, Store]) -> None:
    a, _ = pair
    rid = live_deployment(a, 101)
    a.record_status(rid, "Stopped", None, now=later(1))
    a.transition(rid, from_statuses={S.LIVE}, to=S.ENDED, actor="t", action="t", now=later(1))
    assert a.watch_everything(later(2)).deployments == []


def test_replicas_that_do_not_poll_hand_their_deployments_back(pair: tuple[Store, Store]) -> None:
    a, b = pair
    theirs = live_deployment(b, 103)
    assert a.hand_back_deployments() == 0  # holds nothing: no write
    assert b.hand_back_deployments() == 1
    assert b.get_deployment(theirs).lease_owner is None  # type: ignore[union-attr]
    assert theirs in {w.request_id for w in a.watch_everything(later(1)).deployments}


def test_equity_is_written_with_its_card_refresh_only_while_watched(pair: tuple[Store, Store]) -> None:
    a, b = pair
    ours = live_deployment(a, 101)
    theirs = live_deployment(b, 102)
    written = a.record_equity([(ours, 1234.56), (theirs, 99.0)], now=later(1), notices=[card_notice()])
    assert written == [ours]
    deployment = a.get_deployment(ours)
    assert deployment is not None and deployment.equity == 1234.56 and deployment.equity_at == later(1)
    assert [m.kind for m in outbox_messages(a, ours)] == ["card"]
    assert outbox_messages(a, theirs) == [] and b.get_deployment(theirs).equity is None  # type: ignore[union-attr]
    # A replica whose lease ran out writes nothing (its work may be another's now).
    assert a.record_equity([(ours, 1.0)], now=later(LEASE + 1), notices=[card_notice()]) == []


def test_version_1_databases_get_equity_and_roles(store_url: str) -> None:
    create_version_1_database(store_url, NOW)
    store = Store(store_url, replica_id="replica-a")
    try:
        assert store.schema_current() and store.migrate() == migrations.LATEST_VERSION
        store.heartbeat(NOW, LEASE)
        rid = live_deployment(store)
        assert store.record_equity([(rid, 10.5)], now=NOW) == [rid]
        assert store.get_deployment(rid).equity == 10.5  # type: ignore[union-attr]
        assert store.claim_role(POLLER, NOW)
    finally:
        store.dispose()


def _card_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(
        str(block.get("text", {}).get("text", "")) for block in blocks if block["type"] == "section"
    )


def test_the_card_shows_one_equity_the_newer_of_the_list_and_the_statistics(store: Store) -> None:
    store.heartbeat(NOW, LEASE)
    rid = live_deployment(store)
    request = store.get_request(rid)
    assert request is not None
    _, before = request_card(
        request, approvals=[], deployment=store.get_deployment(rid), model_name="IB", now=NOW
    )
    assert "Equity" not in str(before)
    store.record_statistics(
        rid, {"Equity": "$1,000,000.00", "Net Profit": "$12.50"}, now=later(1), show_every=300
    )
    store.record_equity([(rid, 1234567.891)], now=later(5))

    def card() -> str:
        statistics = store.get_statistics(rid)
        deployment = store.get_deployment(rid)
        _, blocks = request_card(
            request, approvals=[], deployment=deployment, model_name="IB", now=later(6), statistics=statistics
        )
        assert len(blocks) == len(before) + 2 <= 50  # one section and its context line
        assert all(len(str(block.get("text", {}).get("text", ""))) <= 3000 for block in blocks)
        return str(blocks)

    # The list's equity is newer: it is the one equity shown; the P&L comes from the statistics.
    shown = card()
    assert "1,234,567.89" in shown and "$1,000,000.00" not in shown and "$12.50" in shown
    assert f"Equity from QuantConnect's live list as of <!date^{int(later(5).timestamp())}^" in shown
    assert shown.count("*Equity*") == 1
    # Newer statistics: their equity is shown instead.
    store.record_statistics(
        rid, {"Equity": "$1,000,001.00", "Net Profit": "$13.50"}, now=later(400), show_every=300
    )
    shown = card()
    assert "$1,000,001.00" in shown and "1,234,567.89" not in shown and "live list" not in shown


def test_equity_and_statistics_share_one_refresh_of_the_card(store: Store) -> None:
    store.heartbeat(NOW, 3600)
    rid = live_deployment(store)
    assert store.record_statistics(rid, {"Net Profit": "$1.00"}, now=later(1), show_every=300)

    def shown_at() -> datetime | None:
        return store.get_statistics(rid).shown_at  # type: ignore[union-attr]

    # Shown a moment ago by the statistics: the equity is kept for the next refresh, no refresh now.
    assert store.record_equity([(rid, 10.0)], now=later(5), notices=[card_notice()], show_every=300) == [rid]
    assert shown_at() == later(1) and store.get_deployment(rid).equity == 10.0  # type: ignore[union-attr]
    # A period on, the equity refreshes the card, and the statistics then wait a period in turn.
    store.record_equity([(rid, 11.0)], now=later(301), notices=[card_notice()], show_every=300)
    assert shown_at() == later(301)
    assert not store.record_statistics(rid, {"Net Profit": "$2.00"}, now=later(302), show_every=300)
    assert store.record_statistics(rid, {"Net Profit": "$2.00"}, now=later(601), show_every=300)
    assert shown_at() == later(601)


def test_the_first_statistics_wait_for_a_period_after_the_lists_equity_was_shown(store: Store) -> None:
    store.heartbeat(NOW, 3600)
    rid = live_deployment(store)
    # Equity alone (no statistics yet) refreshed the card: the first statistics do not refresh it again.
    assert store.record_equity([(rid, 10.0)], now=later(5), notices=[card_notice()], show_every=300) == [rid]
    cards = len([m for m in outbox_messages(store) if m.kind == "card"])
    assert not store.record_statistics(rid, {"Net Profit": "$1.00"}, now=later(15), show_every=300)
    assert store.get_statistics(rid) is None
    assert len([m for m in outbox_messages(store) if m.kind == "card"]) == cards
    assert store.record_statistics(rid, {"Net Profit": "$1.00"}, now=later(305), show_every=300)
    assert store.get_statistics(rid).shown_at == later(305)  # type: ignore[union-attr]
