"""Requests waiting for a brokerage authorization on QuantConnect (`authorizing`): when to ask again.

A request waits in `authorizing`, owned and fenced like the other in-flight statuses, until QuantConnect
holds the brokerage's token (then `compiling`) or the wait's deadline passes (then `expired`). The deadline
is kept in `settle_deadline` and the next look in `next_check_at`, the columns a settling request uses: a
request is in one wait or the other, never both, and the recovery loop resumes either when it is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from bot.statuses import RequestStatus
from bot.store.base import StoreBase, aware
from bot.store.models import Notice
from bot.store.outbox import queue_notices
from bot.store.ownership import is_alive
from bot.store.tables import requests


class AuthorizationStore(StoreBase):
    """Scheduling the next authorization check of an `authorizing` request this replica owns."""

    def schedule_authorization_check(
        self, request_id: str, at: datetime, note: str, *, now: datetime, notices: Sequence[Notice] = ()
    ) -> bool:
        """While we own the authorizing request: when to ask QuantConnect next, and what the card says."""
        aware(at, "at")
        aware(now)
        with self._writing() as connection:
            scheduled = (
                connection.execute(
                    sa.update(requests)
                    .where(
                        requests.c.id == request_id,
                        requests.c.status == str(RequestStatus.AUTHORIZING),
                        requests.c.owner == self.replica_id,
                        is_alive(self.replica_id, now),
                    )
                    .values(next_check_at=at, settle_note=note, revision=requests.c.revision + 1)
                ).rowcount
                == 1
            )
            queued = 0
            if scheduled:
                queued = queue_notices(connection, request_id, notices, owner=self.replica_id, now=now)
        self._queued(queued)
        return scheduled
