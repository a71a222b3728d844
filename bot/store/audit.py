"""Append-only audit trail: the one place that writes and reads audit_events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.store.jsonsafe import json_safe
from bot.store.models import AuditEvent
from bot.store.tables import audit_events


def write_event(
    connection: sa.Connection,
    actor: str,
    action: str,
    *,
    request_id: str | None,
    project_id: int | None,
    detail: dict[str, Any] | None,
    now: datetime,
) -> AuditEvent:
    """Append one event inside the caller's transaction and return it."""
    values = {
        "at": now,
        "request_id": request_id,
        "project_id": project_id,
        "actor": actor,
        "action": action,
        "detail": json_safe(detail or {}, "detail"),
    }
    # Values as parameters, not .values(): the statement stays the same and its compiled form is reused.
    event_id = connection.execute(sa.insert(audit_events), values).inserted_primary_key[0]
    return AuditEvent.model_validate({**values, "id": event_id, "at": now.astimezone(UTC)})


def read_events(
    connection: sa.Connection,
    *,
    request_id: str | None,
    project_id: int | None,
    since: datetime | None,
    limit: int,
) -> list[AuditEvent]:
    """The newest `limit` matching events, returned oldest first."""
    query = sa.select(audit_events)
    if request_id is not None:
        query = query.where(audit_events.c.request_id == request_id)
    if project_id is not None:
        query = query.where(audit_events.c.project_id == project_id)
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    rows = connection.execute(query.order_by(audit_events.c.id.desc()).limit(limit)).all()
    return [AuditEvent.model_validate(row._asdict()) for row in reversed(rows)]
