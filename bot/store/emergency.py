"""The emergency stop-all claim: one stop-all at a time across replicas, owned like any work in flight.

The claim is one row owned by the replica that runs the stop-all. Another stop-all is refused (with who
started the first) while that row is unfinished and its owner's lease lives; when the owner dies, its lease
runs out and the claim can be taken again, so a crash never blocks the next emergency stop for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.ownership import alive_replicas
from bot.store.tables import emergency_stops

STOP_ALL_ID = "stop-all"


@dataclass(frozen=True)
class StopAllClaim:
    """The outcome of a claim: `claimed`, or who holds the stop-all in progress and since when."""

    claimed: bool
    started_by: str
    mode: str
    started_at: datetime


class EmergencyStopStore(StoreBase):
    """Claim and finish the one stop-all in progress."""

    def claim_stop_all(self, user_id: str, mode: str, now: datetime) -> StopAllClaim:
        """Take the stop-all claim for this replica, or say who holds it (finished or dead owners free it)."""
        aware(now)
        try:
            return self._claim_stop_all_once(user_id, mode, now)
        except sa.exc.IntegrityError:
            # Two first-ever stop-alls inserted the row at once; the loser now finds it and is refused.
            return self._claim_stop_all_once(user_id, mode, now)

    def _claim_stop_all_once(self, user_id: str, mode: str, now: datetime) -> StopAllClaim:
        values: dict[str, Any] = {
            "owner": self.replica_id,
            "started_by": user_id,
            "mode": mode,
            "started_at": now,
            "finished_at": None,
        }
        with self._writing() as connection:
            free = sa.or_(
                emergency_stops.c.finished_at.is_not(None),
                emergency_stops.c.owner.not_in(alive_replicas(now)),
            )
            taken = connection.execute(
                sa.update(emergency_stops).where(emergency_stops.c.id == STOP_ALL_ID, free).values(**values)
            ).rowcount
            if not taken:
                row = connection.execute(
                    sa.select(emergency_stops).where(emergency_stops.c.id == STOP_ALL_ID)
                ).first()
                if row is not None:
                    return StopAllClaim(False, row.started_by, row.mode, row.started_at)
                # The first stop-all ever: a concurrent first insert fails on the key and rolls back.
                connection.execute(sa.insert(emergency_stops).values(id=STOP_ALL_ID, **values))
            write_event(
                connection,
                user_id,
                "stop_all_started",
                request_id=None,
                project_id=None,
                detail={"mode": mode},
                now=now,
            )
        return StopAllClaim(True, user_id, mode, now)

    def finish_stop_all(self, user_id: str, detail: dict[str, Any], now: datetime) -> bool:
        """Release this replica's stop-all claim and audit the outcome; False if it was not ours any more."""
        aware(now)
        with self._writing() as connection:
            done = connection.execute(
                sa.update(emergency_stops)
                .where(
                    emergency_stops.c.id == STOP_ALL_ID,
                    emergency_stops.c.owner == self.replica_id,
                    emergency_stops.c.finished_at.is_(None),
                )
                .values(finished_at=now)
            ).rowcount
            write_event(
                connection,
                user_id,
                "stop_all_finished",
                request_id=None,
                project_id=None,
                detail=detail,
                now=now,
            )
        return bool(done)
