"""The audit aggregate: the append-only trail, the one place that writes and reads audit_events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.secrets.masking import redact_data
from bot.store.base import StoreBase, aware
from bot.store.jsonsafe import json_safe
from bot.store.models import AuditEvent
from bot.store.tables import audit_events

_INSERT_EVENT = sa.insert(audit_events)


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
        # The detail column masks what it stores (tables.MaskedJSON); masking here too makes the returned
        # event the one the table holds.
        "detail": redact_data(json_safe(detail or {}, "detail")),
    }
    # Values as parameters, not .values(): one statement, built once, its compiled form reused.
    event_id = connection.execute(_INSERT_EVENT, values).inserted_primary_key[0]
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
    conditions = _matching(request_id=request_id, project_id=project_id, since=since, until=None)
    query = sa.select(audit_events).where(*conditions).order_by(audit_events.c.id.desc()).limit(limit)
    rows = connection.execute(query).all()
    return [AuditEvent.model_validate(row._asdict()) for row in reversed(rows)]


def read_events_after(
    connection: sa.Connection,
    after_id: int,
    *,
    request_id: str | None,
    project_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[AuditEvent]:
    """Up to `limit` matching events numbered above `after_id`, oldest first: one page of a keyset walk."""
    conditions = _matching(request_id=request_id, project_id=project_id, since=since, until=until)
    query = (
        sa.select(audit_events)
        .where(audit_events.c.id > after_id, *conditions)
        .order_by(audit_events.c.id)
        .limit(limit)
    )
    return [AuditEvent.model_validate(row._asdict()) for row in connection.execute(query).all()]


def _matching(
    *, request_id: str | None, project_id: int | None, since: datetime | None, until: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """Filters on the events table: `since` inclusive, `until` exclusive."""
    conditions: list[sa.ColumnElement[bool]] = []
    if request_id is not None:
        conditions.append(audit_events.c.request_id == request_id)
    if project_id is not None:
        conditions.append(audit_events.c.project_id == project_id)
    if since is not None:
        conditions.append(audit_events.c.at >= since)
    if until is not None:
        conditions.append(audit_events.c.at < until)
    return conditions


class AuditStore(StoreBase):
    """Append and read audit events (there is deliberately no way to change or delete one)."""

    def add_event(
        self,
        actor: str,
        action: str,
        *,
        request_id: str | None = None,
        project_id: int | None = None,
        detail: dict[str, Any] | None = None,
        now: datetime,
    ) -> AuditEvent:
        """Append one audit event (there is deliberately no way to change or delete one)."""
        aware(now)
        with self._writing() as connection:
            return write_event(
                connection,
                actor,
                action,
                request_id=request_id,
                project_id=project_id,
                detail=detail,
                now=now,
            )

    def events(
        self,
        *,
        request_id: str | None = None,
        project_id: int | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEvent]:
        """The newest `limit` matching audit events, oldest first."""
        with self._reader.begin() as connection:
            return read_events(
                connection, request_id=request_id, project_id=project_id, since=since, limit=limit
            )

    def iter_events(
        self,
        *,
        request_id: str | None = None,
        project_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 1000,
    ) -> Iterator[AuditEvent]:
        """Every matching audit event, oldest first (`until` exclusive), read a page at a time.

        Keyset paging on the event number: a long export never holds a transaction open or loads it all.
        """
        last_id = 0
        while True:
            with self._reader.begin() as connection:
                page = read_events_after(
                    connection,
                    last_id,
                    request_id=request_id,
                    project_id=project_id,
                    since=since,
                    until=until,
                    limit=page_size,
                )
            yield from page
            if len(page) < page_size:
                return
            last_id = page[-1].id
