"""Watching every deployment from one replica: the poller's working set, and each deployment's equity.

The replica holding the poller role (bot/store/roles.py) watches every unfinished deployment: it claims the
free ones and takes over those of dead replicas (due at once), while other replicas hand theirs to it. Status
changes still go through `record_status` (compare-and-set, reports in the same transaction), so a change is
reported once whoever sees it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from bot.store.base import StoreBase, aware
from bot.store.leases import unfinished
from bot.store.models import Notice
from bot.store.outbox import queue_notices
from bot.store.ownership import alive_replicas, is_alive
from bot.store.tables import deployments, live_statistics


class WatchedDeployment(NamedTuple):
    """The few columns the watcher compares with live/list on every pass (read thousands at a time)."""

    request_id: str
    project_id: int
    deploy_id: str
    status: str
    next_poll_at: datetime | None
    equity: float | None
    equity_at: datetime | None


@dataclass(frozen=True)
class Watching:
    """What the poller watches after a pass's claim, and how many it took over from dead replicas."""

    deployments: list[WatchedDeployment]
    taken_over: int = 0


_WATCHED_COLUMNS = (
    deployments.c.request_id,
    deployments.c.project_id,
    deployments.c.deploy_id,
    deployments.c.status,
    deployments.c.next_poll_at,
    deployments.c.equity,
    deployments.c.equity_at,
)


class WatchStore(StoreBase):
    """The poller's deployments, and their last equity."""

    # -- the poller's deployments ---------------------------------------------------------------------

    def watch_everything(self, now: datetime) -> Watching:
        """Claim every unfinished deployment nobody alive watches; return all this replica watches.

        Free deployments (handed back by a graceful stop or by a replica that is not the poller) keep their
        schedule; those of a replica that died are due at once, as `adopt_orphaned_deployments` makes them,
        since their watcher may have missed changes. One read when there is nothing to claim, as on almost
        every pass.
        """
        aware(now)
        me = self.replica_id
        owner = deployments.c.lease_owner
        with self._reader.begin() as connection:
            alive = set(connection.execute(alive_replicas(now)).scalars())
            rows = connection.execute(sa.select(*_WATCHED_COLUMNS, owner).where(unfinished())).all()
        free = any(row.lease_owner is None for row in rows)
        dead = any(row.lease_owner not in alive and row.lease_owner not in (None, me) for row in rows)
        if not free and not dead:
            return Watching([WatchedDeployment(*row[:-1]) for row in rows if row.lease_owner == me])
        taken_over = 0
        # Conditions, not id lists: thousands of ids would exceed what one statement may bind.
        with self._writing() as connection:
            if free:
                connection.execute(
                    sa.update(deployments)
                    .where(unfinished(), owner.is_(None), is_alive(me, now))
                    .values(lease_owner=me, lease_since=now)
                )
            if dead:
                taken_over = connection.execute(
                    sa.update(deployments)
                    .where(
                        unfinished(),
                        owner.is_not(None),
                        owner != me,
                        owner.not_in(alive_replicas(now)),
                        is_alive(me, now),
                    )
                    .values(lease_owner=me, lease_since=now, next_poll_at=now)
                ).rowcount
            query = sa.select(*_WATCHED_COLUMNS).where(unfinished(), owner == me)
            watched = [WatchedDeployment(*row) for row in connection.execute(query)]
        return Watching(watched, taken_over)

    def hand_back_deployments(self) -> int:
        """Stop watching every deployment this replica holds (it is not the poller); returns how many.

        The poller claims them at its next pass. A read first, so a replica holding nothing never writes.
        """
        me = self.replica_id
        owner = deployments.c.lease_owner
        with self._reader.begin() as connection:
            held = connection.execute(sa.select(deployments.c.request_id).where(owner == me).limit(1)).first()
        if held is None:
            return 0
        with self._writing() as connection:
            return connection.execute(
                sa.update(deployments).where(owner == me).values(lease_owner=None, lease_since=None)
            ).rowcount

    # -- equity ---------------------------------------------------------------------------------------

    def record_equity(
        self,
        readings: Sequence[tuple[str, float]],
        *,
        now: datetime,
        notices: Sequence[Notice] = (),
        show_every: float = 0.0,
    ) -> list[str]:
        """Store each (request id, equity) read at `now`; returns the request ids written.

        Only deployments this replica watches while its lease lives are written (fenced like every other
        piece of work). `notices` (a card refresh) are queued, in the same transaction as the value they show,
        only for a card whose equity and P&L section was last shown `show_every` seconds ago or more (one
        refresh policy with the runtime statistics, bot/store/statistics.py); otherwise the value waits for
        the section's next refresh.
        """
        aware(now)
        if not readings:
            return []
        me = self.replica_id
        written: list[str] = []
        queued = 0
        with self._writing() as connection:
            for request_id, equity in readings:
                changed = connection.execute(
                    sa.update(deployments)
                    .where(
                        deployments.c.request_id == request_id,
                        deployments.c.lease_owner == me,
                        is_alive(me, now),
                    )
                    .values(equity=equity, equity_at=now)
                ).rowcount
                if changed != 1:
                    continue
                written.append(request_id)
                if notices and _section_due(connection, request_id, now, show_every):
                    queued += queue_notices(connection, request_id, notices, owner=me, now=now)
        self._queued(queued)
        return written


def _section_due(connection: sa.Connection, request_id: str, now: datetime, show_every: float) -> bool:
    """Whether the card's equity and P&L section may be refreshed now; if so, it is marked shown at `now`."""
    shown = live_statistics.c.shown_at
    row = connection.execute(sa.select(shown).where(live_statistics.c.request_id == request_id)).first()
    if row is None:
        return True  # no statistics yet: the equity alone is the section, on its own clock (equity_at)
    if row.shown_at is not None and now - row.shown_at < timedelta(seconds=show_every):
        return False
    connection.execute(
        sa.update(live_statistics).where(live_statistics.c.request_id == request_id).values(shown_at=now)
    )
    return True
