"""Leader roles: work one replica does for all (polling QuantConnect's live/list), held under its lease.

One replica at a time holds a role for as long as its heartbeat lease lives; when that lease expires any live
replica may take the role over, exactly like the work a dead replica held. A graceful stop gives it up at
once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.base import StoreBase, aware
from bot.store.ownership import alive_replicas, claimable, is_alive, since
from bot.store.tables import leaders, replicas

# The role of the replica that polls QuantConnect's live/list for every deployment.
POLLER = "live-poller"


class RoleStore(StoreBase):
    """Leader roles held under replica leases."""

    def claim_role(self, role: str, now: datetime) -> bool:
        """Hold `role` if it is free, ours, or held by a replica whose lease expired; True when ours now.

        A read first: the holder asks every few seconds, and holding on needs no write (its heartbeat keeps
        its lease, and with it the role). Only a change of holder writes.
        """
        aware(now)
        me = self.replica_id
        with self._reader.begin() as connection:
            row = connection.execute(
                sa.select(leaders.c.owner, replicas.c.lease_expires_at)
                .select_from(leaders.outerjoin(replicas, replicas.c.id == leaders.c.owner))
                .where(leaders.c.role == role)
            ).first()
        if row is not None and row.owner == me:
            return True
        if row is not None and row.lease_expires_at is not None and row.lease_expires_at > now:
            return False  # a live replica holds it
        try:
            with self._writing() as connection:
                if row is None:
                    connection.execute(sa.insert(leaders), {"role": role, "owner": None, "owned_since": None})
                connection.execute(
                    sa.update(leaders)
                    .where(leaders.c.role == role, claimable(leaders.c.owner, me, now), is_alive(me, now))
                    .values(owner=me, owned_since=since(leaders.c.owned_since, leaders.c.owner, me, now))
                )
                owner = connection.execute(
                    sa.select(leaders.c.owner).where(leaders.c.role == role)
                ).scalar_one_or_none()
        except sa.exc.IntegrityError:
            return False  # another replica created the row at the same moment, and holds the role
        return owner == me

    def release_role(self, role: str) -> bool:
        """Give the role up (a graceful stop): another replica takes it at its next look, without waiting."""
        with self._writing() as connection:
            return (
                connection.execute(
                    sa.update(leaders)
                    .where(leaders.c.role == role, leaders.c.owner == self.replica_id)
                    .values(owner=None, owned_since=None)
                ).rowcount
                == 1
            )

    def role_holder(self, role: str, now: datetime) -> str | None:
        """The live replica holding the role, or None (free, or its holder's lease expired)."""
        aware(now)
        query = sa.select(leaders.c.owner).where(
            leaders.c.role == role, leaders.c.owner.in_(alive_replicas(now))
        )
        with self._reader.begin() as connection:
            return connection.execute(query).scalar_one_or_none()
