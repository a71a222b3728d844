"""The deployments aggregate: a live deployment per request, with QuantConnect's last status and when to ask
again (who watches it is in bot/store/leases.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.errors import RequestNotFound, StoreError
from bot.store.leases import unfinished
from bot.store.models import Deployment, Notice
from bot.store.outbox import queue_notices
from bot.store.rows import deployment_of, read_deployment, read_request
from bot.store.tables import deployments


class DeploymentStore(StoreBase):
    """Record deployments, their status changes (compare-and-set) and their poll schedule."""

    def start_deployment(
        self, request_id: str, project_id: int, deploy_id: str, status: str, *, now: datetime
    ) -> Deployment:
        """Record a deployment this replica watches, due for a poll now; the same deploy id again: no-op."""
        aware(now)
        with self._writing() as connection:
            existing = read_deployment(connection, request_id)
            if existing is not None:
                if existing.deploy_id != deploy_id:
                    raise StoreError(
                        f"Request {request_id} is already deployment {existing.deploy_id}, not {deploy_id}."
                    )
                return existing
            read_request(connection, request_id)
            connection.execute(
                sa.insert(deployments),
                {
                    "request_id": request_id,
                    "project_id": project_id,
                    "deploy_id": deploy_id,
                    "status": status,
                    "created_at": now,
                    "updated_at": now,
                    "next_poll_at": now,
                    "lease_owner": self.replica_id,
                    "lease_since": now,
                },
            )
            row = connection.execute(
                sa.select(deployments).where(deployments.c.request_id == request_id)
            ).one()
            return deployment_of(row)

    def record_status(
        self,
        request_id: str,
        new_status: str,
        message: str | None,
        *,
        now: datetime,
        launched: datetime | None = None,
        stopped: datetime | None = None,
        notices: Sequence[Notice] = (),
    ) -> bool:
        """Store QuantConnect's live status; True (plus an audit event and the `notices`) only on a change."""
        aware(now)
        values: dict[str, Any] = {"status": new_status, "message": message, "updated_at": now}
        if launched is not None:
            values["launched"] = launched
        if stopped is not None:
            values["stopped"] = stopped
        with self._writing() as connection:
            while True:
                current = read_deployment(connection, request_id)
                if current is None:
                    raise RequestNotFound(request_id)
                if current.status == new_status:
                    return False
                # Compare-and-set on the status we saw; if another watcher changed it meanwhile, look again.
                result = connection.execute(
                    sa.update(deployments)
                    .where(deployments.c.request_id == request_id, deployments.c.status == current.status)
                    .values(**values)
                )
                if result.rowcount == 1:
                    break
            write_event(
                connection,
                "bot",
                f"status:{new_status}",
                request_id=request_id,
                project_id=current.project_id,
                detail={"message": message, "previous": current.status},
                now=now,
            )
            queued = queue_notices(connection, request_id, notices, owner=self.replica_id, now=now)
        self._queued(queued)
        return True

    def get_deployment(self, request_id: str) -> Deployment | None:
        """The deployment of that request, or None."""
        with self._reader.begin() as connection:
            return read_deployment(connection, request_id)

    def deployments_for(self, request_ids: Iterable[str]) -> dict[str, Deployment]:
        """`get_deployment` of several requests in one query; requests without one are left out."""
        ids = list(dict.fromkeys(request_ids))
        if not ids:
            return {}
        with self._reader.begin() as connection:
            rows = connection.execute(sa.select(deployments).where(deployments.c.request_id.in_(ids)))
            return {row.request_id: deployment_of(row) for row in rows}

    def active_deployments(self) -> list[Deployment]:
        """Deployments whose last status is not terminal, oldest first (what to watch after a restart)."""
        query = (
            sa.select(deployments)
            .where(unfinished())
            .order_by(deployments.c.created_at, deployments.c.request_id)
        )
        with self._reader.begin() as connection:
            return [deployment_of(row) for row in connection.execute(query)]

    def schedule_poll(self, request_id: str, at: datetime) -> None:
        """Set when the deployment should next be polled."""
        aware(at, "at")
        with self._writing() as connection:
            result = connection.execute(
                sa.update(deployments).where(deployments.c.request_id == request_id).values(next_poll_at=at)
            )
            if result.rowcount != 1:
                raise RequestNotFound(request_id)

    def schedule_if_status(self, request_id: str, status: str, at: datetime) -> bool:
        """Set the next poll only if the stored status is still `status`; False (nothing written) if not.

        One statement for the watcher's commonest poll, an unchanged status: it confirms the status (a
        compare-and-set, like `record_status`) and schedules the next poll in one transaction.
        """
        aware(at, "at")
        with self._writing() as connection:
            result = connection.execute(
                sa.update(deployments)
                .where(deployments.c.request_id == request_id, deployments.c.status == status)
                .values(next_poll_at=at)
            )
            return result.rowcount == 1

    def due_deployments(self, now: datetime, limit: int = 50) -> list[Deployment]:
        """Deployments to watch whose next poll is due, most overdue first (see leases.unfinished)."""
        aware(now)
        poll_at = deployments.c.next_poll_at
        query = (
            sa.select(deployments)
            .where(unfinished(), sa.or_(poll_at.is_(None), poll_at <= now))
            .order_by(sa.nulls_first(poll_at.asc()), deployments.c.request_id)
            .limit(limit)
        )
        with self._reader.begin() as connection:
            return [deployment_of(row) for row in connection.execute(query)]
