"""Behaviour of the store against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from bot.errors import BotError
from bot.statuses import OPEN, TERMINAL
from bot.store import (
    ProjectLocked,
    RequestNotFound,
    RequestStatus,
    SecretRejected,
    Store,
    StoreError,
    migrations,
    normalize_url,
)
from tests.support.requests import NOW, new_request

S = RequestStatus


def actions(store: Store, request_id: str) -> list[tuple[str, str]]:
    """(actor, action) of every audit event of a request, oldest first."""
    return [(event.actor, event.action) for event in store.events(request_id=request_id)]


def test_create_and_get_round_trip_every_field(store: Store) -> None:
    tokyo = timezone(timedelta(hours=9))
    created = store.create_request(new_request(), now=NOW.astimezone(tokyo))

    fetched = store.get_request(created.id)
    assert fetched == created
    assert created.id.startswith("r-") and len(created.id) == 10
    assert created.status is S.PENDING and created.revision == 1
    assert created.settings["ib-weekly-restart-utc-time"] == "21:00:00"
    assert created.cash == [{"amount": 1000, "currency": "USD"}]
    assert created.data_providers == ("InteractiveBrokersBrokerage", "QuantConnectBrokerage")
    assert created.automatic_redeploy is True and created.is_paper is False
    assert created.errors == () and created.message_ts is None and created.node_id is None
    # Whatever zone the caller used, timestamps come back as the same instant in aware UTC.
    assert created.created_at == NOW and created.created_at.tzinfo is not None
    assert created.created_at.utcoffset() == timedelta(0)
    assert created.expires_at == NOW + timedelta(hours=1)
    assert store.get_request("r-00000000") is None
    assert actions(store, created.id) == [("U-REQ", "requested")]
    assert store.open_request_for_project(101) == created


def test_zero_approvals_needed_is_approved_by_policy(store: Store) -> None:
    created = store.create_request(new_request(approvals_needed=0, is_paper=True), now=NOW)

    assert created.status is S.APPROVED
    assert created.decided_by == "policy" and created.decided_at == NOW
    assert actions(store, created.id) == [("U-REQ", "requested"), ("policy", "approved")]


def test_list_requests_newest_first_with_filters(store: Store) -> None:
    first = store.create_request(new_request(project_id=1), now=NOW)
    second = store.create_request(new_request(project_id=2, requester_id="U-OTHER"), now=NOW + timedelta(1))
    third = store.create_request(new_request(project_id=3, approvals_needed=0), now=NOW + timedelta(2))

    assert [r.id for r in store.list_requests()] == [third.id, second.id, first.id]
    assert [r.id for r in store.list_requests(limit=2)] == [third.id, second.id]
    assert [r.id for r in store.list_requests(statuses={S.PENDING})] == [second.id, first.id]
    assert [r.id for r in store.list_requests(statuses=["approved"])] == [third.id]
    assert [r.id for r in store.list_requests(project_id=2)] == [second.id]
    assert [r.id for r in store.list_requests(requester_id="U-OTHER")] == [second.id]
    assert store.list_requests(statuses=OPEN, project_id=2, requester_id="U-REQ") == []


def test_project_lock_refuses_second_request_and_names_holder(store: Store) -> None:
    holder = store.create_request(new_request(), now=NOW)

    with pytest.raises(ProjectLocked) as refused:
        store.create_request(new_request(requester_id="U-SECOND"), now=NOW)

    assert isinstance(refused.value, BotError)
    assert refused.value.holder_request_id == holder.id
    assert refused.value.holder_user_id == "U-REQ"
    assert refused.value.holder_status == "pending"
    assert holder.id in str(refused.value) and "U-REQ" in str(refused.value)
    assert store.list_requests(project_id=101) == [holder]
    # Another project is unaffected.
    assert store.create_request(new_request(project_id=202), now=NOW).status is S.PENDING


def test_project_lock_released_only_when_terminal(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)
    for source, target, action in [
        (S.APPROVED, S.COMPILING, "compiling"),
        (S.COMPILING, S.DEPLOYING, "deploying"),
        (S.DEPLOYING, S.LIVE, "deployed"),
    ]:
        store.transition(request.id, from_statuses={source}, to=target, actor="bot", action=action, now=NOW)
        assert store.open_request_for_project(101).status is target
        with pytest.raises(ProjectLocked):
            store.create_request(new_request(), now=NOW)

    store.transition(request.id, from_statuses={S.LIVE}, to=S.ENDED, actor="bot", action="stop", now=NOW)

    assert store.open_request_for_project(101) is None
    assert store.create_request(new_request(), now=NOW).status is S.PENDING


def test_dedupe_key_makes_creation_idempotent(store: Store) -> None:
    first = store.create_request(new_request(dedupe_key="V-123"), now=NOW)
    again = store.create_request(new_request(dedupe_key="V-123", reason="resent"), now=NOW + timedelta(1))

    assert again == first
    assert len(store.list_requests()) == 1
    assert actions(store, first.id) == [("U-REQ", "requested")]


def test_approvals_count_once_per_user(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=2), now=NOW)

    first = store.add_approval(request.id, "U-A", now=NOW)
    repeat = store.add_approval(request.id, "U-A", now=NOW)
    second = store.add_approval(request.id, "U-B", now=NOW)
    late = store.add_approval(request.id, "U-C", now=NOW)

    assert (first.counted, first.became_approved, first.approvals) == (True, False, ("U-A",))
    assert first.request.status is S.PENDING
    assert (repeat.counted, repeat.became_approved, repeat.approvals) == (False, False, ("U-A",))
    assert (second.counted, second.became_approved, second.approvals) == (True, True, ("U-A", "U-B"))
    assert second.request.status is S.APPROVED and second.request.decided_by == "U-B"
    assert (late.counted, late.became_approved) == (False, False)
    assert store.approvals(request.id) == ["U-A", "U-B"]
    assert actions(store, request.id) == [("U-REQ", "requested"), ("U-A", "approved"), ("U-B", "approved")]
    with pytest.raises(RequestNotFound):
        store.add_approval("r-missing", "U-A", now=NOW)


def test_expiry(store: Store) -> None:
    due = store.create_request(new_request(expires_at=NOW + timedelta(minutes=5)), now=NOW)
    later = store.create_request(new_request(project_id=202, expires_at=NOW + timedelta(hours=2)), now=NOW)
    after = NOW + timedelta(minutes=5)

    refused = store.add_approval(due.id, "U-A", now=after)
    assert (refused.counted, refused.request.status) == (False, S.PENDING)

    expired = store.expire_due(after)

    assert [r.id for r in expired] == [due.id]
    assert expired[0].status is S.EXPIRED and expired[0].revision == 2
    assert store.get_request(later.id).status is S.PENDING
    assert store.open_request_for_project(101) is None
    assert actions(store, due.id)[-1] == ("bot", "expired")
    assert store.expire_due(after) == []


def test_transition_is_compare_and_set(store: Store) -> None:
    request = store.create_request(new_request(), now=NOW)
    before = store.events(request_id=request.id)

    missed = store.transition(
        request.id, from_statuses={S.APPROVED}, to=S.COMPILING, actor="bot", action="compiling", now=NOW
    )

    assert missed is None
    assert store.get_request(request.id) == request
    assert store.events(request_id=request.id) == before

    rejected = store.transition(
        request.id,
        from_statuses=S.PENDING,
        to=S.REJECTED,
        actor="U-BOSS",
        action="rejected",
        detail={"why": "market closed"},
        now=NOW + timedelta(minutes=1),
        decided_by="U-BOSS",
        decided_at=NOW + timedelta(minutes=1),
        decision_note="market closed",
    )

    assert rejected is not None and rejected.status is S.REJECTED
    assert (rejected.revision, rejected.decided_by, rejected.decision_note) == (2, "U-BOSS", "market closed")
    assert rejected.updated_at == NOW + timedelta(minutes=1)
    last = store.events(request_id=request.id)[-1]
    assert (last.actor, last.action, last.detail) == (
        "U-BOSS",
        "rejected",
        {"status": "rejected", "why": "market closed"},
    )


def test_transition_sets_errors_and_deploy_fields(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)
    store.transition(
        request.id,
        from_statuses={S.APPROVED},
        to=S.COMPILING,
        actor="bot",
        action="compiling",
        now=NOW,
        compile_id="c-1",
    )
    deploying = store.transition(
        request.id,
        from_statuses={S.COMPILING},
        to=S.DEPLOYING,
        actor="bot",
        action="deploying",
        now=NOW,
        node_used="LN-1",
    )
    failed = store.transition(
        request.id,
        from_statuses=OPEN - {S.PENDING},
        to=S.FAILED,
        actor="bot",
        action="failed",
        now=NOW,
        errors=["Brokerage login failed", "bad password"],
    )

    assert deploying is not None and (deploying.compile_id, deploying.node_used) == ("c-1", "LN-1")
    assert failed is not None and failed.errors == ("Brokerage login failed", "bad password")
    assert failed.revision == 4 and failed.status in TERMINAL


def test_transition_refuses_moves_outside_the_state_machine(store: Store) -> None:
    request = store.create_request(new_request(), now=NOW)

    with pytest.raises(ValueError, match="pending"):
        store.transition(request.id, from_statuses={S.PENDING}, to=S.LIVE, actor="bot", action="x", now=NOW)
    with pytest.raises(TypeError, match="project_id"):
        store.transition(
            request.id,
            from_statuses={S.PENDING},
            to=S.CANCELLED,
            actor="U",
            action="x",
            now=NOW,
            project_id=9,
        )
    with pytest.raises(ValueError, match="timezone"):
        store.transition(
            request.id,
            from_statuses={S.PENDING},
            to=S.CANCELLED,
            actor="U",
            action="x",
            now=datetime(2026, 1, 5),
        )
    assert store.get_request(request.id) == request


def test_set_card(store: Store) -> None:
    request = store.create_request(new_request(), now=NOW)

    carded = store.set_card(request.id, "C-DEPLOY", "1700000000.000100", now=NOW + timedelta(seconds=1))

    assert (carded.channel_id, carded.message_ts, carded.revision) == ("C-DEPLOY", "1700000000.000100", 2)
    assert store.get_request(request.id) == carded
    with pytest.raises(RequestNotFound):
        store.set_card("r-missing", "C", "1.2")


def test_secrets_are_refused_and_nothing_is_written(store: Store) -> None:
    request = store.create_request(new_request(), now=NOW)
    events_before = store.events()

    with pytest.raises(SecretRejected, match=r"settings\.ib-password") as refused:
        new_request(settings={"ib-password": SecretStr("hunter2")})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(SecretRejected, match=r"detail\.creds\[0\]\.key"):
        store.add_event("bot", "note", detail={"creds": [{"key": SecretStr("s3cret")}]}, now=NOW)
    with pytest.raises(SecretRejected):
        store.transition(
            request.id,
            from_statuses={S.PENDING},
            to=S.CANCELLED,
            actor="U-REQ",
            action="cancelled",
            detail={"token": SecretStr("x")},
            now=NOW,
        )

    assert store.events() == events_before
    assert store.get_request(request.id).status is S.PENDING


def test_deployment_status_changes_are_reported_once(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)
    deployment = store.start_deployment(request.id, 101, "L-abc", "InQueue", now=NOW)
    assert store.start_deployment(request.id, 101, "L-abc", "InQueue", now=NOW + timedelta(1)) == deployment
    with pytest.raises(StoreError, match="L-abc"):
        store.start_deployment(request.id, 101, "L-other", "InQueue", now=NOW)

    launched = NOW + timedelta(minutes=2)
    assert store.record_status(request.id, "Running", "started", now=launched, launched=launched) is True
    assert store.record_status(request.id, "Running", "still running", now=launched + timedelta(1)) is False
    assert (
        store.record_status(request.id, "RuntimeError", "bad password", now=launched + timedelta(2)) is True
    )

    stored = store.get_deployment(request.id)
    assert (stored.status, stored.message, stored.launched) == ("RuntimeError", "bad password", launched)
    status_events = [e for e in store.events(request_id=request.id) if e.action.startswith("status:")]
    assert [(e.action, e.detail["message"]) for e in status_events] == [
        ("status:Running", "started"),
        ("status:RuntimeError", "bad password"),
    ]
    with pytest.raises(RequestNotFound):
        store.record_status("r-missing", "Running", None, now=NOW)


def test_active_and_due_deployments(store: Store) -> None:
    ids = []
    for project_id in (1, 2, 3):
        # Distinct creation times: active_deployments orders by them, and ids are random.
        started = NOW - timedelta(minutes=10 - project_id)
        request = store.create_request(new_request(project_id=project_id, approvals_needed=0), now=started)
        store.start_deployment(request.id, project_id, f"L-{project_id}", "Running", now=started)
        ids.append(request.id)
    store.record_status(ids[2], "Stopped", "stopped by U-A", now=NOW, stopped=NOW)
    store.schedule_poll(ids[0], NOW + timedelta(seconds=30))

    assert [d.request_id for d in store.active_deployments()] == ids[:2]
    assert [d.request_id for d in store.due_deployments(NOW)] == [ids[1]]
    later = store.due_deployments(NOW + timedelta(seconds=30))
    assert [d.request_id for d in later] == [ids[1], ids[0]]
    assert len(store.due_deployments(NOW + timedelta(seconds=30), limit=1)) == 1
    assert store.get_deployment(ids[2]).stopped == NOW
    with pytest.raises(RequestNotFound):
        store.schedule_poll("r-missing", NOW)


def test_schedule_if_status_writes_only_while_the_status_is_unchanged(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)
    store.start_deployment(request.id, 101, "L-1", "Running", now=NOW)
    later = NOW + timedelta(seconds=60)

    assert store.schedule_if_status(request.id, "Running", later)
    assert store.get_deployment(request.id).next_poll_at == later

    assert not store.schedule_if_status(request.id, "Stopped", NOW + timedelta(seconds=120))
    deployment = store.get_deployment(request.id)
    assert (deployment.status, deployment.next_poll_at) == ("Running", later)
    assert not store.schedule_if_status("r-missing", "Running", later)


def test_data_survives_restart(store_url: str) -> None:
    first = Store(store_url)
    request = first.create_request(new_request(approvals_needed=2), now=NOW)
    first.add_approval(request.id, "U-A", now=NOW)
    live = first.create_request(new_request(project_id=202, approvals_needed=0), now=NOW)
    first.start_deployment(live.id, 202, "L-9", "Running", now=NOW)
    first.dispose()

    reopened = Store(store_url)
    try:
        assert reopened.get_request(request.id) == first.get_request(request.id)
        assert reopened.approvals(request.id) == ["U-A"]
        assert [r.id for r in reopened.list_requests(statuses={S.PENDING})] == [request.id]
        assert [d.deploy_id for d in reopened.active_deployments()] == ["L-9"]
        assert reopened.add_approval(request.id, "U-B", now=NOW).became_approved
        with pytest.raises(ProjectLocked):
            reopened.create_request(new_request(project_id=202), now=NOW)
    finally:
        reopened.dispose()


def _versions(store: Store) -> list[int]:
    with store.engine.begin() as connection:
        return list(
            connection.execute(sa.text("SELECT version FROM schema_version ORDER BY version")).scalars()
        )


def test_migrations_are_idempotent_and_report_currency(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    try:
        assert store.schema_current() is False
        assert store.migrate() == migrations.LATEST_VERSION
        assert store.migrate() == migrations.LATEST_VERSION
        assert store.schema_current() is True
        assert _versions(store) == [step.version for step in migrations.STEPS]
        second = Store(store_url)
        assert second.schema_current() is True and second.migrate() == migrations.LATEST_VERSION
        second.dispose()
        assert _versions(store) == [step.version for step in migrations.STEPS]
    finally:
        store.dispose()


def test_later_steps_upgrade_an_existing_database_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(store_url)
    request = store.create_request(new_request(), now=NOW)
    applied: list[int] = []
    step = migrations.LATEST_VERSION + 1

    def add_column(connection: sa.Connection) -> None:
        applied.append(step)
        connection.execute(sa.text("ALTER TABLE requests ADD COLUMN extra_note VARCHAR(20)"))

    upgraded = (*migrations.STEPS, migrations.MigrationStep(step, "add extra_note", add_column))
    monkeypatch.setattr(migrations, "STEPS", upgraded)
    monkeypatch.setattr(migrations, "LATEST_VERSION", step)
    try:
        assert store.schema_current() is False
        assert store.migrate() == step
        assert store.migrate() == step
        assert applied == [step]
        assert store.schema_current() is True
        assert _versions(store) == list(range(1, step + 1))
        assert store.get_request(request.id) == request
    finally:
        store.dispose()


def test_audit_is_append_only_and_ordered(store: Store) -> None:
    request = store.create_request(new_request(), now=NOW)
    store.add_event("U-A", "stop", request_id=request.id, project_id=101, detail={"n": 1}, now=NOW)
    snapshot = store.events()
    store.add_event("bot", "note", project_id=202, detail={"n": 2}, now=NOW + timedelta(minutes=1))
    returned = store.add_event("bot", "note", detail={"n": 3}, now=NOW + timedelta(minutes=2))

    everything = store.events()
    assert everything[-1] == returned
    assert everything[: len(snapshot)] == snapshot
    assert [e.action for e in everything] == ["requested", "stop", "note", "note"]
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert [e.detail.get("n") for e in store.events(limit=2)] == [2, 3]
    assert [e.action for e in store.events(project_id=101)] == ["requested", "stop"]
    assert [e.detail["n"] for e in store.events(since=NOW + timedelta(minutes=1))] == [2, 3]
    assert store.events(project_id=202)[0].at == NOW + timedelta(minutes=1)
    readers_and_appender = ("add_event", "events", "iter_events")
    assert not [name for name in dir(Store) if "event" in name and name not in readers_and_appender]


def test_iter_events_walks_every_match_in_pages_oldest_first(store: Store) -> None:
    for n in range(7):
        store.add_event("bot", "note", project_id=303, detail={"n": n}, now=NOW + timedelta(minutes=n))
    store.add_event("bot", "note", project_id=404, detail={"n": 99}, now=NOW + timedelta(minutes=3))
    walked = [e.detail["n"] for e in store.iter_events(project_id=303, page_size=3)]
    assert walked == [0, 1, 2, 3, 4, 5, 6]
    since, until = NOW + timedelta(minutes=2), NOW + timedelta(minutes=4)
    window = store.iter_events(since=since, until=until, page_size=2)
    assert [e.detail["n"] for e in window] == [2, 3, 99]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/bot", "postgresql+psycopg://u:p@db:5432/bot"),
        ("postgresql://u@db/bot", "postgresql+psycopg://u@db/bot"),
        ("postgresql+psycopg://u@db/bot", "postgresql+psycopg://u@db/bot"),
        ("sqlite:///qc-bot.sqlite3", "sqlite:///qc-bot.sqlite3"),
    ],
)
def test_database_urls_are_normalized(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@db/bot"])
def test_unusable_database_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError):
        Store(url)


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        with store.engine.begin() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        store.dispose()


def test_batch_reads_match_the_single_reads(store: Store) -> None:
    """approvals_for / deployments_for answer for many requests in one query what the single reads answer."""
    first = store.create_request(new_request(project_id=201, approvals_needed=3), now=NOW)
    second = store.create_request(new_request(project_id=202, approvals_needed=3), now=NOW)
    live = store.create_request(new_request(project_id=203, approvals_needed=0), now=NOW)
    store.add_approval(first.id, "U2", now=NOW + timedelta(seconds=1))
    store.add_approval(first.id, "U1", now=NOW + timedelta(seconds=2))
    store.start_deployment(live.id, 203, "L-live", "Running", now=NOW)

    approvals = store.approvals_for([first.id, second.id, live.id, first.id])
    assert approvals == {first.id: ["U2", "U1"], second.id: [], live.id: []}
    assert approvals[first.id] == store.approvals(first.id)
    assert store.approvals_for([]) == {}

    deployments = store.deployments_for([first.id, live.id])
    assert deployments == {live.id: store.get_deployment(live.id)}
    assert store.deployments_for([]) == {}
