"""Approvals of a request (part of the requests aggregate): one per approver, counted exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.statuses import RequestStatus
from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.errors import RequestNotFound
from bot.store.models import ApprovalOutcome
from bot.store.rows import read_request, request_of
from bot.store.tables import approvals as approvals_table
from bot.store.tables import requests


class ApprovalStore(StoreBase):
    """Count approvals while a request is pending; approve it once when enough are in."""

    def add_approval(self, request_id: str, user_id: str, *, now: datetime) -> ApprovalOutcome:
        """Count one user's approval while the request is pending; approve it exactly once when enough."""
        aware(now)
        with self._writing() as connection:
            # The row lock serializes approvers of one request on PostgreSQL (SQLite already is).
            row = connection.execute(
                sa.select(requests).where(requests.c.id == request_id).with_for_update()
            ).first()
            if row is None:
                raise RequestNotFound(request_id)
            voters = self._approvers(connection, request_id)
            expired = row.expires_at is not None and now >= row.expires_at
            if row.status != RequestStatus.PENDING or expired or user_id in voters:
                return ApprovalOutcome(
                    request=request_of(row), counted=False, approvals=tuple(voters), became_approved=False
                )
            connection.execute(
                sa.insert(approvals_table), {"request_id": request_id, "user_id": user_id, "created_at": now}
            )
            voters.append(user_id)
            write_event(
                connection,
                user_id,
                "approved",
                request_id=request_id,
                project_id=row.project_id,
                detail={"approvals": len(voters), "approvals_needed": row.approvals_needed},
                now=now,
            )
            changes: dict[str, Any] = {"updated_at": now, "revision": requests.c.revision + 1}
            enough = len(voters) >= row.approvals_needed
            if enough:
                changes.update(status=RequestStatus.APPROVED, decided_by=user_id, decided_at=now)
            result = connection.execute(
                sa.update(requests)
                .where(requests.c.id == request_id, requests.c.status == RequestStatus.PENDING)
                .values(**changes)
            )
            return ApprovalOutcome(
                request=read_request(connection, request_id),
                counted=True,
                approvals=tuple(voters),
                became_approved=enough and result.rowcount == 1,
            )

    @staticmethod
    def _approvers(connection: sa.Connection, request_id: str) -> list[str]:
        query = (
            sa.select(approvals_table.c.user_id)
            .where(approvals_table.c.request_id == request_id)
            .order_by(approvals_table.c.created_at, approvals_table.c.user_id)
        )
        return list(connection.execute(query).scalars())

    def approvals(self, request_id: str) -> list[str]:
        """User ids that approved the request, in the order they did."""
        with self._reader.begin() as connection:
            return self._approvers(connection, request_id)

    def approvals_for(self, request_ids: Iterable[str]) -> dict[str, list[str]]:
        """`approvals` of several requests in one query; a request nobody approved maps to []."""
        ids = list(dict.fromkeys(request_ids))
        found: dict[str, list[str]] = {request_id: [] for request_id in ids}
        if not ids:
            return found
        query = (
            sa.select(approvals_table.c.request_id, approvals_table.c.user_id)
            .where(approvals_table.c.request_id.in_(ids))
            .order_by(approvals_table.c.created_at, approvals_table.c.user_id)
        )
        with self._reader.begin() as connection:
            for request_id, user_id in connection.execute(query):
                found[request_id].append(user_id)
        return found
