"""The store masks what it writes, whichever method writes it; the audit export masks rows written earlier."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bot import audit_export
from bot.blocks.audit import event_line
from bot.secrets import DEFAULT_REGISTRY
from bot.store import RequestStatus, Store
from bot.store.models import AuditEvent
from tests.support.requests import NOW, new_request

S = RequestStatus
SECRET = "echoed-broker-pass-91"
MARKER = "***ib-password***"


def raw_rows(store: Store) -> str:
    """Every row of the bot's tables, read with plain SQL (not through the masked column types)."""
    with store.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in ("requests", "deployments", "audit_events")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        )


def test_every_text_the_store_writes_is_masked(store: Store) -> None:
    DEFAULT_REGISTRY.register(SECRET, "ib-password")
    echoed = f'login refused: {{"password": {json.dumps(SECRET)}}}'
    request = store.create_request(
        new_request(project_name=f"Alpha {SECRET}", reason=f"because {SECRET}"), now=NOW
    )
    store.add_approval(request.id, "U-APPROVER", now=NOW)
    store.transition(request.id, from_statuses={S.APPROVED}, to=S.COMPILING, actor="bot", action="c", now=NOW)
    store.transition(
        request.id,
        from_statuses={S.COMPILING},
        to=S.DEPLOYING,
        actor="bot",
        action="deploying",
        detail={"node_name": f"node {SECRET}"},
        node_used=f"node {SECRET}"[:100],
        now=NOW,
    )
    store.start_deployment(request.id, request.project_id, "L-1", "InQueue", now=NOW)
    store.transition(request.id, from_statuses={S.DEPLOYING}, to=S.LIVE, actor="bot", action="live", now=NOW)
    store.record_status(request.id, "DeployError", echoed, now=NOW + timedelta(seconds=1))
    failed = store.transition(
        request.id,
        from_statuses={S.LIVE},
        to=S.FAILED,
        actor="watcher",
        action="live_failed",
        detail={"reason": echoed, "nested": [{"why": SECRET}]},
        errors=[f"DeployError: {echoed}"],
        now=NOW + timedelta(seconds=2),
    )
    event = store.add_event("bot", "slack_error", detail={"error": SECRET}, now=NOW)

    stored = raw_rows(store)
    assert SECRET not in stored and json.dumps(SECRET)[1:-1] not in stored
    assert MARKER in stored
    assert failed is not None and failed.errors == (
        f'DeployError: login refused: {{"password": "{MARKER}"}}',
    )
    assert failed.project_name == f"Alpha {MARKER}" and failed.reason == f"because {MARKER}"
    deployment = store.get_deployment(request.id)
    assert deployment is not None and deployment.message == f'login refused: {{"password": "{MARKER}"}}'
    # The returned event is the one the table holds.
    assert event.detail == {"error": MARKER} == store.events(limit=1)[-1].detail


def test_the_export_masks_events_written_before_their_secret_was_known(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    store = Store(url)
    late = "written-before-masking-7"
    # An event as an older version of the bot wrote it: straight into the table, unmasked.
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO audit_events (at, request_id, project_id, actor, action, detail) "
                "VALUES (:at, 'r-1', 7, 'bot', 'deploy_failed', :detail)"
            ),
            {"at": NOW.replace(tzinfo=None), "detail": json.dumps({"reason": f"bad login {late}"})},
        )
    (old,) = store.events()
    store.dispose()
    out = tmp_path / "audit.json"
    environ = {"DATABASE_URL": url, "QCBOT_PROFILES__IB_OLD__IB_PASSWORD": late}
    assert (
        audit_export.main(["--since", "2000-01-01", "--format", "json", "--output", str(out)], environ) == 0
    )
    exported = out.read_text(encoding="utf-8")
    assert late not in exported and "bad login ***ib-password***" in exported
    # `/qc audit` lines go through the same mask.
    assert late not in event_line(AuditEvent.model_validate(old.model_dump()))
