"""Approval reminders: the one reminder of a pending real-money request, claimed and queued together.

The claim (`reminded_at`, set by a compare-and-set) and the outbox message commit in one transaction, so the
approvers are reminded exactly once whichever replica runs the pass, and a crash loses no reminder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa

from bot.statuses import RequestStatus
from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.models import DeployRequest, Notice
from bot.store.outbox import queue_notices
from bot.store.rows import read_request, request_of
from bot.store.tables import requests


class ReminderStore(StoreBase):
    """Find pending real-money requests past half their time to live, and claim their one reminder."""

    def due_reminders(self, now: datetime, limit: int = 50) -> list[DeployRequest]:
        """Pending real-money requests not reminded yet, past half their time to live, not expired yet."""
        aware(now)
        query = (
            sa.select(requests)
            .where(
                requests.c.status == RequestStatus.PENDING.value,
                requests.c.is_paper.is_(False),
                requests.c.reminded_at.is_(None),
                requests.c.expires_at.is_not(None),
                requests.c.expires_at > now,
            )
            .order_by(requests.c.expires_at)
            .limit(limit)
        )
        with self._reader.begin() as connection:
            candidates = [request_of(row) for row in connection.execute(query)]
        return [
            r
            for r in candidates
            if r.expires_at is not None and now >= r.created_at + (r.expires_at - r.created_at) / 2
        ]

    def claim_reminder(
        self, request_id: str, now: datetime, notices: Callable[[DeployRequest], Sequence[Notice]]
    ) -> bool:
        """Mark the request reminded and queue `notices(request)` in one transaction; False if done before."""
        aware(now)
        with self._writing() as connection:
            claimed = connection.execute(
                sa.update(requests)
                .where(
                    requests.c.id == request_id,
                    requests.c.status == RequestStatus.PENDING.value,
                    requests.c.reminded_at.is_(None),
                )
                .values(reminded_at=now)
            )
            if claimed.rowcount != 1:
                return False
            request = read_request(connection, request_id)
            write_event(
                connection,
                "bot",
                "reminded",
                request_id=request_id,
                project_id=request.project_id,
                detail=None,
                now=now,
            )
            queued = queue_notices(connection, request_id, notices(request), owner=self.replica_id, now=now)
        self._queued(queued)
        return True
