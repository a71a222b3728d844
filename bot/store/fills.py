"""The fill cursors aggregate: how far the orders of each running deployment have been read and reported.

A cursor moves only by compare-and-set on its revision, fenced by the deployment's watcher lease (the
replica watching a deployment follows its orders), and in the same transaction as the thread message that
reports the orders it moved over: a restart or a take-over neither repeats nor skips an order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from bot.statuses import RUNNING, RequestStatus
from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.models import Notice
from bot.store.outbox import queue_notices
from bot.store.ownership import is_alive
from bot.store.tables import deployments, fill_cursors, requests


class FillCursor(BaseModel):
    """Where one deployment's order following stands; revision 0 means never stored."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    project_id: int
    next_index: int = 0
    open_orders: tuple[tuple[int, int | None], ...] = ()
    next_read_at: datetime | None = None
    failures: int = 0
    idle: int = 0
    reported: int = 0
    revision: int = 0
    volume: str | None = None
    volume_changed_at: datetime | None = None


class FillStore(StoreBase):
    """Read the cursors due for this replica, and move one with its report in one transaction."""

    def due_fill_cursors(
        self, now: datetime, limit: int = 50, *, quiet_every: float | None = None
    ) -> list[FillCursor]:
        """Running deployments this replica watches whose orders are due to be read, in order of need.

        First those never read, then those due by their schedule (news, open orders, a volume that moved),
        the most overdue first; last, with `quiet_every`, those waiting for their volume to move that were
        last read that long ago (the least recently read first), so a tight read budget goes where there
        is evidence of fills and what is left reads the quiet ones in turn.
        """
        aware(now)
        read_at = fill_cursors.c.next_read_at
        due = [fill_cursors.c.revision.is_(None), read_at <= now]
        if quiet_every is not None:
            due.append(
                sa.and_(read_at.is_(None), fill_cursors.c.updated_at <= now - timedelta(seconds=quiet_every))
            )
        need = sa.case((fill_cursors.c.revision.is_(None), 0), (read_at.isnot(None), 1), else_=2)
        query = (
            sa.select(deployments.c.request_id, deployments.c.project_id, fill_cursors)
            .select_from(
                deployments.join(requests, requests.c.id == deployments.c.request_id).outerjoin(
                    fill_cursors, fill_cursors.c.request_id == deployments.c.request_id
                )
            )
            .where(
                deployments.c.lease_owner == self.replica_id,
                deployments.c.status == RUNNING,
                requests.c.status == RequestStatus.LIVE.value,
                sa.or_(*due),
            )
            .order_by(need, sa.func.coalesce(read_at, fill_cursors.c.updated_at), deployments.c.request_id)
            .limit(limit)
        )
        with self._reader.begin() as connection:
            return [_cursor_of(row) for row in connection.execute(query)]

    def get_fill_cursor(self, request_id: str) -> FillCursor | None:
        """The stored cursor of a request, or None."""
        query = sa.select(deployments.c.request_id, deployments.c.project_id, fill_cursors).join(
            fill_cursors, fill_cursors.c.request_id == deployments.c.request_id
        )
        with self._reader.begin() as connection:
            row = connection.execute(query.where(deployments.c.request_id == request_id)).first()
            return None if row is None else _cursor_of(row)

    def note_volume(self, request_id: str, volume: str, now: datetime) -> bool:
        """Record the runtime statistics' volume of a deployment; True once the store holds it (False: another
        writer moved the cursor meanwhile, note it again).

        A move (or a first sight) is evidence of new fills: the cursor is due at once, and its revision moves,
        so a read that started before this does not settle the cursor on a snapshot older than the volume.
        """
        aware(now)
        query = sa.select(fill_cursors.c.volume, fill_cursors.c.next_read_at, fill_cursors.c.revision).where(
            fill_cursors.c.request_id == request_id
        )
        with self._reader.begin() as connection:
            row = connection.execute(query).first()
        if row is not None and row.volume == volume:
            return True
        try:
            with self._writing() as connection:
                row = connection.execute(query).first()
                if row is None:
                    connection.execute(
                        sa.insert(fill_cursors),
                        {
                            "request_id": request_id,
                            "next_index": 0,
                            "open_orders": [],
                            "next_read_at": now,
                            "failures": 0,
                            "idle": 0,
                            "reported": 0,
                            "revision": 1,
                            "updated_at": now,
                            "volume": volume,
                            "volume_changed_at": now,
                        },
                    )
                    return True
                if row.volume == volume:
                    return True
                read_at = row.next_read_at
                moved = connection.execute(
                    sa.update(fill_cursors)
                    .where(fill_cursors.c.request_id == request_id, fill_cursors.c.revision == row.revision)
                    .values(
                        volume=volume,
                        volume_changed_at=now,
                        next_read_at=now if read_at is None or read_at > now else read_at,
                        idle=0,
                        revision=row.revision + 1,
                        updated_at=now,
                    )
                ).rowcount
                return moved == 1
        except sa.exc.IntegrityError:
            return False  # the first read of this deployment stored its cursor meanwhile: noted next time

    def advance_fills(
        self,
        cursor: FillCursor,
        *,
        next_index: int,
        open_orders: Sequence[tuple[int, int | None]],
        next_read_at: datetime | None,
        failures: int,
        reported: int,
        now: datetime,
        idle: int = 0,
        notices: Sequence[Notice] = (),
    ) -> bool:
        """Move the cursor from `cursor` (compare-and-set on its revision) and queue `notices` with it.

        False, with nothing written, when another replica moved it first or this replica no longer watches
        the deployment (its lease ran out and the deployment was taken over).
        """
        aware(now)
        values: dict[str, Any] = {
            "next_index": next_index,
            "open_orders": [list(pair) for pair in open_orders],
            "next_read_at": next_read_at,
            "failures": failures,
            "idle": idle,
            "reported": cursor.reported + reported,
            "revision": cursor.revision + 1,
            "updated_at": now,
        }
        with self._writing() as connection:
            watched = connection.execute(
                sa.select(deployments.c.request_id).where(
                    deployments.c.request_id == cursor.request_id,
                    deployments.c.lease_owner == self.replica_id,
                    is_alive(self.replica_id, now),
                )
            ).first()
            if watched is None:
                return False
            if cursor.revision == 0:
                exists = connection.execute(
                    sa.select(fill_cursors.c.request_id).where(fill_cursors.c.request_id == cursor.request_id)
                ).first()
                if exists is not None:
                    return False
                connection.execute(sa.insert(fill_cursors), {"request_id": cursor.request_id, **values})
            else:
                moved = connection.execute(
                    sa.update(fill_cursors)
                    .where(
                        fill_cursors.c.request_id == cursor.request_id,
                        fill_cursors.c.revision == cursor.revision,
                    )
                    .values(**values)
                ).rowcount
                if moved != 1:
                    return False
            queued = 0
            if reported or notices:
                write_event(
                    connection,
                    "watcher",
                    "orders_reported",
                    request_id=cursor.request_id,
                    project_id=cursor.project_id,
                    detail={"orders": reported, "next_index": next_index},
                    now=now,
                )
                queued = queue_notices(connection, cursor.request_id, notices, owner=self.replica_id, now=now)
        self._queued(queued)
        return True


def _cursor_of(row: sa.Row[Any]) -> FillCursor:
    data = row._asdict()
    if data.get("revision") is None:
        return FillCursor(request_id=data["request_id"], project_id=data["project_id"])
    return FillCursor(
        request_id=data["request_id"],
        project_id=data["project_id"],
        next_index=data["next_index"],
        open_orders=tuple((int(index), order_id) for index, order_id in data["open_orders"] or []),
        next_read_at=data["next_read_at"],
        failures=data["failures"],
        idle=data["idle"],
        reported=data["reported"],
        revision=data["revision"],
        volume=data.get("volume"),
        volume_changed_at=data.get("volume_changed_at"),
    )
