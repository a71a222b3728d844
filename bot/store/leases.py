"""Replica leases: who runs, who holds which work, and taking over the work of a replica that died.

Every bot process has one row in `replicas`, renewed by its heartbeat. Work it holds (requests in flight,
deployments it watches, Slack messages it delivers) names it as owner. Work whose owner's lease has expired,
or whose owner has no row, may be claimed by any live replica. Renewal is one write per heartbeat, however
much work the replica holds, and a graceful stop hands everything back at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.statuses import IN_FLIGHT, LIVE_TERMINAL, RequestStatus
from bot.store.base import StoreBase, aware
from bot.store.models import (
    Deployment,
    DeployRequest,
    HeldRequest,
    Notice,
    Replica,
)
from bot.store.outbox import queue_notices
from bot.store.ownership import alive_replicas, claimable, is_alive, since
from bot.store.rows import deployment_of, request_of
from bot.store.tables import deployments, outbox, replicas, requests

_IN_FLIGHT = [str(status) for status in IN_FLIGHT]


def unfinished() -> sa.ColumnElement[bool]:
    """SQL condition on deployments: still to be watched (active, or ended while its request is still live).

    The second case is a watcher that stopped between recording the end and ending the request: the next
    poll ends the request instead of leaving it live, locked and unwatched forever.
    """
    still_live = sa.select(requests.c.id).where(requests.c.status == "live")
    return sa.or_(deployments.c.status.not_in(LIVE_TERMINAL), deployments.c.request_id.in_(still_live))


@dataclass(frozen=True)
class LeaseClaim:
    """Deployments a watcher claimed: all of them, and those taken from a replica that died."""

    ours: frozenset[str]
    taken_over: frozenset[str]


class LeaseStore(StoreBase):
    """Replica heartbeats, ownership of requests in flight and of watched deployments."""

    # -- replicas -------------------------------------------------------------------------------------

    def heartbeat(self, now: datetime, ttl_seconds: float) -> None:
        """Renew this replica's lease (registering it on first use) for `ttl_seconds` from `now`."""
        aware(now)
        expires = now + timedelta(seconds=ttl_seconds)
        with self._writing() as connection:
            renewed = connection.execute(
                sa.update(replicas)
                .where(replicas.c.id == self.replica_id)
                .values(heartbeat_at=now, lease_expires_at=expires)
            ).rowcount
            if renewed == 0:
                connection.execute(
                    sa.insert(replicas),
                    {
                        "id": self.replica_id,
                        "started_at": now,
                        "heartbeat_at": now,
                        "lease_expires_at": expires,
                    },
                )

    def retire(self) -> None:
        """Hand back every piece of work this replica holds and remove its lease (a graceful stop)."""
        me = self.replica_id
        with self._writing() as connection:
            connection.execute(
                sa.update(requests).where(requests.c.owner == me).values(owner=None, owned_since=None)
            )
            connection.execute(
                sa.update(deployments)
                .where(deployments.c.lease_owner == me)
                .values(lease_owner=None, lease_since=None)
            )
            connection.execute(
                sa.update(outbox).where(outbox.c.owner == me, outbox.c.sent_at.is_(None)).values(owner=None)
            )
            connection.execute(sa.delete(replicas).where(replicas.c.id == me))

    def replicas(self, now: datetime) -> list[Replica]:
        """Every replica with a row (alive or not), with the work each holds, oldest first."""
        aware(now)
        with self._reader.begin() as connection:
            rows = list(connection.execute(sa.select(replicas).order_by(replicas.c.started_at)))
            held: dict[str, list[HeldRequest]] = defaultdict(list)
            query = sa.select(
                requests.c.owner,
                requests.c.id,
                requests.c.status,
                requests.c.project_name,
                requests.c.owned_since,
            ).where(requests.c.owner.is_not(None), requests.c.status.in_(_IN_FLIGHT))
            for row in connection.execute(query.order_by(requests.c.created_at)):
                held[row.owner].append(
                    HeldRequest(
                        id=row.id, status=row.status, project_name=row.project_name, since=row.owned_since
                    )
                )
            watched = Counter(
                dict(
                    connection.execute(
                        sa.select(deployments.c.lease_owner, sa.func.count())
                        .where(deployments.c.lease_owner.is_not(None))
                        .group_by(deployments.c.lease_owner)
                    ).all()
                )
            )
            queued = Counter(
                dict(
                    connection.execute(
                        sa.select(outbox.c.owner, sa.func.count())
                        .where(outbox.c.owner.is_not(None), outbox.c.sent_at.is_(None))
                        .group_by(outbox.c.owner)
                    ).all()
                )
            )
        return [
            Replica(
                id=row.id,
                started_at=row.started_at,
                heartbeat_at=row.heartbeat_at,
                lease_expires_at=row.lease_expires_at,
                alive=row.lease_expires_at > now,
                requests=tuple(held.get(row.id, ())),
                deployments=watched.get(row.id, 0),
                messages=queued.get(row.id, 0),
            )
            for row in rows
        ]

    def forget_replicas(self, expired_before: datetime) -> int:
        """Delete replicas whose lease expired before that time and that hold nothing; returns how many."""
        aware(expired_before, "expired_before")
        holders = sa.union(
            sa.select(requests.c.owner).where(requests.c.owner.is_not(None)),
            sa.select(deployments.c.lease_owner).where(deployments.c.lease_owner.is_not(None)),
            sa.select(outbox.c.owner).where(outbox.c.owner.is_not(None), outbox.c.sent_at.is_(None)),
        )
        with self._writing() as connection:
            return connection.execute(
                sa.delete(replicas).where(
                    replicas.c.lease_expires_at < expired_before, replicas.c.id.not_in(holders)
                )
            ).rowcount

    # -- requests in flight ---------------------------------------------------------------------------

    def claim_request(self, request_id: str, now: datetime) -> DeployRequest | None:
        """Own an in-flight request that is free, ours, or held by a dead replica; None if not ours now."""
        aware(now)
        me = self.replica_id
        with self._writing() as connection:
            connection.execute(
                sa.update(requests)
                .where(
                    requests.c.id == request_id,
                    requests.c.status.in_(_IN_FLIGHT),
                    claimable(requests.c.owner, me, now),
                    is_alive(me, now),
                )
                .values(owner=me, owned_since=since(requests.c.owned_since, requests.c.owner, me, now))
            )
            row = connection.execute(
                sa.select(requests).where(requests.c.id == request_id, requests.c.owner == me)
            ).first()
        return None if row is None else request_of(row)

    def resumable_requests(self, now: datetime, limit: int = 200) -> list[DeployRequest]:
        """In-flight requests that are ours, free, or held by a replica whose lease expired; oldest first."""
        aware(now)
        query = (
            sa.select(requests)
            .where(requests.c.status.in_(_IN_FLIGHT), claimable(requests.c.owner, self.replica_id, now))
            .order_by(requests.c.created_at, requests.c.id)
            .limit(limit)
        )
        with self._reader.begin() as connection:
            return [request_of(row) for row in connection.execute(query)]

    def healable_requests(self, failed_since: datetime) -> list[DeployRequest]:
        """Requests failed since then whose deployment may exist (live/create may have gone out)."""
        aware(failed_since, "failed_since")
        query = sa.select(requests).where(
            requests.c.status == "failed",
            requests.c.updated_at >= failed_since,
            sa.or_(requests.c.deploy_id.is_not(None), requests.c.deploying_since.is_not(None)),
        )
        with self._reader.begin() as connection:
            return [request_of(row) for row in connection.execute(query.order_by(requests.c.updated_at))]

    def deploy_ids_in_use(self, deploy_ids: Iterable[str]) -> set[str]:
        """Which of these QuantConnect deployments a request of the bot already stands for."""
        ids = list(dict.fromkeys(deploy_ids))
        if not ids:
            return set()
        query = sa.select(requests.c.deploy_id).where(requests.c.deploy_id.in_(ids))
        with self._reader.begin() as connection:
            return {str(value) for value in connection.execute(query).scalars()}

    def schedule_check(
        self,
        request_id: str,
        status: RequestStatus,
        at: datetime,
        note: str,
        *,
        now: datetime,
        notices: Sequence[Notice] = (),
    ) -> bool:
        """While we own a request waiting in `status` (deploying: settling; authorizing): when to ask
        QuantConnect next and what the card says. Fenced on our lease: False, with nothing written, once
        another replica may have taken the request over."""
        aware(at, "at")
        aware(now)
        with self._writing() as connection:
            scheduled = (
                connection.execute(
                    sa.update(requests)
                    .where(
                        requests.c.id == request_id,
                        requests.c.status == str(status),
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

    def release_request(self, request_id: str) -> bool:
        """Hand an in-flight request back (another replica, or the next start, carries on)."""
        with self._writing() as connection:
            return (
                connection.execute(
                    sa.update(requests)
                    .where(requests.c.id == request_id, requests.c.owner == self.replica_id)
                    .values(owner=None, owned_since=None)
                ).rowcount
                == 1
            )

    # -- deployments ----------------------------------------------------------------------------------

    def acquire_leases(self, request_ids: Iterable[str], now: datetime) -> LeaseClaim:
        """Claim the watching of these deployments where free, ours, or held by a replica that died."""
        aware(now)
        ids = list(request_ids)
        if not ids:
            return LeaseClaim(frozenset(), frozenset())
        me = self.replica_id
        lease = deployments.c.lease_owner
        with self._writing() as connection:
            dead = set(
                connection.execute(
                    sa.select(deployments.c.request_id).where(
                        deployments.c.request_id.in_(ids),
                        lease.is_not(None),
                        lease != me,
                        lease.not_in(alive_replicas(now)),
                    )
                ).scalars()
            )
            connection.execute(
                sa.update(deployments)
                .where(deployments.c.request_id.in_(ids), claimable(lease, me, now), is_alive(me, now))
                .values(lease_owner=me, lease_since=since(deployments.c.lease_since, lease, me, now))
            )
            ours = set(
                connection.execute(
                    sa.select(deployments.c.request_id).where(deployments.c.request_id.in_(ids), lease == me)
                ).scalars()
            )
        return LeaseClaim(frozenset(ours), frozenset(ours & dead))

    def adopt_orphaned_deployments(self, now: datetime) -> list[Deployment]:
        """Take over the active deployments of replicas that died, due for a poll at once; returns them.

        A dead watcher may have missed status changes for up to its lease, so they are looked at now rather
        than at their next scheduled poll. Deployments handed back by a graceful stop keep their schedule.
        """
        aware(now)
        me = self.replica_id
        lease = deployments.c.lease_owner
        orphaned = sa.and_(
            unfinished(),
            lease.is_not(None),
            lease != me,
            lease.not_in(alive_replicas(now)),
        )
        with self._writing() as connection:
            ids = list(connection.execute(sa.select(deployments.c.request_id).where(orphaned)).scalars())
            if not ids:
                return []
            connection.execute(
                sa.update(deployments)
                .where(deployments.c.request_id.in_(ids), orphaned, is_alive(me, now))
                .values(lease_owner=me, lease_since=now, next_poll_at=now)
            )
            rows = connection.execute(
                sa.select(deployments).where(deployments.c.request_id.in_(ids), lease == me)
            )
            return [deployment_of(row) for row in rows]

    def release_lease(self, request_id: str) -> bool:
        """Stop watching a deployment we hold; False if it is not ours."""
        with self._writing() as connection:
            return (
                connection.execute(
                    sa.update(deployments)
                    .where(
                        deployments.c.request_id == request_id, deployments.c.lease_owner == self.replica_id
                    )
                    .values(lease_owner=None, lease_since=None)
                ).rowcount
                == 1
            )
