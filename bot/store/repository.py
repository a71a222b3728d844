"""The store: every read and compare-and-set write of requests, approvals, deployments, locks and audit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.store.audit import read_events, read_events_after, write_event
from bot.store.base import aware
from bot.store.errors import ProjectLocked, RequestNotFound, StoreError
from bot.store.jsonsafe import json_safe
from bot.store.leases import LeaseStore, unfinished
from bot.store.models import (
    ALLOWED_TRANSITIONS,
    IN_FLIGHT,
    OPEN,
    TERMINAL,
    ApprovalOutcome,
    AuditEvent,
    Deployment,
    DeployRequest,
    NewRequest,
    Notice,
    RequestStatus,
)
from bot.store.outbox import CARD, OutboxStore, queue_notices
from bot.store.ownership import is_alive
from bot.store.rows import deployment_of, request_of
from bot.store.tables import approvals as approvals_table
from bot.store.tables import deployments, project_locks, requests
from bot.store.watching import WatchStore

# Fields a transition may set besides the status; everything else about a request is fixed at creation.
TRANSITION_FIELDS = frozenset(
    {
        "compile_id",
        "node_used",
        "deploy_id",
        "errors",
        "decided_by",
        "decided_at",
        "decision_note",
        "deploying_since",
        "previous_deploy_id",
        "settle_deadline",
        "next_check_at",
        "settle_note",
    }
)
# What a request leaving the in-flight statuses no longer has: an owner and a pending check.
_OUT_OF_FLIGHT = {"owner": None, "owned_since": None, "next_check_at": None, "settle_note": None}

# A unique-key race (same dedupe key, same project, or an id collision) is settled by re-running the
# operation, which then sees the winner's row.
_CREATE_ATTEMPTS = 3


def new_request_id() -> str:
    """A short random request id such as `r-7f3a9c2b`."""
    return f"r-{secrets.token_hex(4)}"


def _statuses(values: Iterable[RequestStatus | str] | RequestStatus | str) -> frozenset[RequestStatus]:
    if isinstance(values, str):
        return frozenset({RequestStatus(values)})
    return frozenset(RequestStatus(value) for value in values)


class Store(LeaseStore, OutboxStore, WatchStore):
    """Persistent state of the bot on SQLite or PostgreSQL; one transaction per call, never a secret."""

    # -- requests -------------------------------------------------------------------------------------

    def create_request(self, new: NewRequest, *, now: datetime) -> DeployRequest:
        """Insert a request, take its project's lock and audit it; a repeated dedupe_key returns the first."""
        aware(now)
        for _ in range(_CREATE_ATTEMPTS - 1):
            try:
                return self._create_request_once(new, now)
            except sa.exc.IntegrityError:
                continue
        return self._create_request_once(new, now)

    def _create_request_once(self, new: NewRequest, now: datetime) -> DeployRequest:
        with self._writing() as connection:
            if new.dedupe_key is not None:
                existing = connection.execute(
                    sa.select(requests).where(requests.c.dedupe_key == new.dedupe_key)
                ).first()
                if existing is not None:
                    return request_of(existing)
            holder = self._open_lock_holder(connection, new.project_id)
            if holder is not None:
                if new.dedupe_key is not None and holder.dedupe_key == new.dedupe_key:
                    # A redelivery that passed the dedupe check above just before the first one committed.
                    return request_of(holder)
                raise ProjectLocked(holder.id, holder.requester_id, holder.status)
            auto_approved = new.approvals_needed == 0
            request_id = new_request_id()
            # Inserts take their values as parameters: one cached statement instead of one built per call.
            connection.execute(
                sa.insert(requests),
                {
                    "id": request_id,
                    **new.model_dump(exclude={"data_providers"}),
                    "data_providers": list(new.data_providers),
                    "status": RequestStatus.APPROVED if auto_approved else RequestStatus.PENDING,
                    "message_ts": None,
                    "compile_id": None,
                    "node_used": None,
                    "deploy_id": None,
                    "errors": [],
                    "created_at": now,
                    "updated_at": now,
                    "decided_by": "policy" if auto_approved else None,
                    "decided_at": now if auto_approved else None,
                    "decision_note": None,
                    "revision": 1,
                },
            )
            connection.execute(
                sa.insert(project_locks),
                {
                    "project_id": new.project_id,
                    "request_id": request_id,
                    "holder_id": new.requester_id,
                    "acquired_at": now,
                },
            )
            audit = {"request_id": request_id, "project_id": new.project_id, "now": now}
            write_event(
                connection,
                new.requester_id,
                "requested",
                detail={
                    "project_name": new.project_name,
                    "model_key": new.model_key,
                    "brokerage_id": new.brokerage_id,
                    "profile": new.profile,
                    "is_paper": new.is_paper,
                    "approvals_needed": new.approvals_needed,
                    "reason": new.reason,
                },
                **audit,
            )
            if auto_approved:
                write_event(connection, "policy", "approved", detail={"approvals_needed": 0}, **audit)
            return self._read_request(connection, request_id)

    @staticmethod
    def _open_lock_holder(connection: sa.Connection, project_id: int) -> sa.Row[Any] | None:
        lock = connection.execute(
            sa.select(project_locks).where(project_locks.c.project_id == project_id).with_for_update()
        ).first()
        if lock is None:
            return None
        holder = connection.execute(sa.select(requests).where(requests.c.id == lock.request_id)).first()
        if holder is not None and RequestStatus(holder.status) in OPEN:
            return holder
        # Transitions release locks in the same transaction, so this only heals a lock left by hand edits.
        connection.execute(sa.delete(project_locks).where(project_locks.c.project_id == project_id))
        return None

    @staticmethod
    def _read_request(connection: sa.Connection, request_id: str) -> DeployRequest:
        row = connection.execute(sa.select(requests).where(requests.c.id == request_id)).first()
        if row is None:
            raise RequestNotFound(request_id)
        return request_of(row)

    def get_request(self, request_id: str) -> DeployRequest | None:
        """The request with that id, or None."""
        with self._reader.begin() as connection:
            row = connection.execute(sa.select(requests).where(requests.c.id == request_id)).first()
        return None if row is None else request_of(row)

    def list_requests(
        self,
        *,
        statuses: Iterable[RequestStatus | str] | None = None,
        project_id: int | None = None,
        requester_id: str | None = None,
        limit: int = 50,
    ) -> list[DeployRequest]:
        """Requests matching every given filter, newest first."""
        query = sa.select(requests)
        if statuses is not None:
            query = query.where(requests.c.status.in_([str(s) for s in _statuses(statuses)]))
        if project_id is not None:
            query = query.where(requests.c.project_id == project_id)
        if requester_id is not None:
            query = query.where(requests.c.requester_id == requester_id)
        query = query.order_by(requests.c.created_at.desc(), requests.c.id.desc()).limit(limit)
        with self._reader.begin() as connection:
            return [request_of(row) for row in connection.execute(query)]

    def open_request_for_project(self, project_id: int) -> DeployRequest | None:
        """The open request holding the project's lock, or None when the project is free."""
        query = (
            sa.select(requests)
            .join(project_locks, project_locks.c.request_id == requests.c.id)
            .where(project_locks.c.project_id == project_id)
        )
        with self._reader.begin() as connection:
            row = connection.execute(query).first()
        return None if row is None else request_of(row)

    def set_card(
        self, request_id: str, channel_id: str, message_ts: str, *, now: datetime | None = None
    ) -> DeployRequest:
        """Remember where the request's approval card was posted."""
        now = aware(now) if now is not None else datetime.now(UTC)
        with self._writing() as connection:
            result = connection.execute(
                sa.update(requests)
                .where(requests.c.id == request_id)
                .values(
                    channel_id=channel_id,
                    message_ts=message_ts,
                    updated_at=now,
                    revision=requests.c.revision + 1,
                )
            )
            if result.rowcount != 1:
                raise RequestNotFound(request_id)
            return self._read_request(connection, request_id)

    # -- approvals ------------------------------------------------------------------------------------

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
                request=self._read_request(connection, request_id),
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

    # -- status changes -------------------------------------------------------------------------------

    def transition(
        self,
        request_id: str,
        *,
        from_statuses: Iterable[RequestStatus | str] | RequestStatus | str,
        to: RequestStatus | str,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        now: datetime,
        owned: bool = False,
        notices: Sequence[Notice] = (),
        **fields: Any,
    ) -> DeployRequest | None:
        """Move the request to `to` only if it is in one of `from_statuses`; None (and no write) if not.

        `owned` fences the move: it happens only while this replica owns the request and its lease lives, so
        a replica that lost its lease (and whose work was taken over) cannot act on it any more. `notices`
        (card refreshes, thread replies) are queued in the same transaction as the move.
        """
        aware(now)
        sources, target = _statuses(from_statuses), RequestStatus(to)
        illegal = sorted(source for source in sources if target not in ALLOWED_TRANSITIONS[source])
        if illegal:
            raise ValueError(f"a request cannot go from {', '.join(illegal)} to {target}")
        unknown = set(fields) - TRANSITION_FIELDS
        if unknown:
            raise TypeError(f"transition() cannot set {', '.join(sorted(unknown))}")
        if "errors" in fields:
            fields["errors"] = [str(error) for error in fields["errors"]]
        if target not in IN_FLIGHT:
            fields = {**_OUT_OF_FLIGHT, **fields}
        detail = json_safe(detail or {}, "detail")
        conditions = [requests.c.id == request_id, requests.c.status.in_([str(s) for s in sources])]
        if owned:
            conditions += [requests.c.owner == self.replica_id, is_alive(self.replica_id, now)]
        with self._writing() as connection:
            result = connection.execute(
                sa.update(requests)
                .where(*conditions)
                .values(status=target, updated_at=now, revision=requests.c.revision + 1, **fields)
            )
            if result.rowcount != 1:
                return None
            updated = self._read_request(connection, request_id)
            write_event(
                connection,
                actor,
                action,
                request_id=request_id,
                project_id=updated.project_id,
                detail={"status": str(target), **detail},
                now=now,
            )
            if target in TERMINAL:
                connection.execute(sa.delete(project_locks).where(project_locks.c.request_id == request_id))
            elif (
                RequestStatus.FAILED in sources
                and self._open_lock_holder(connection, updated.project_id) is None
            ):
                # Healed: the running algorithm takes its project lock back unless a newer request holds it.
                connection.execute(
                    sa.insert(project_locks),
                    {
                        "project_id": updated.project_id,
                        "request_id": request_id,
                        "holder_id": updated.requester_id,
                        "acquired_at": now,
                    },
                )
            queued = queue_notices(connection, request_id, notices, owner=self.replica_id, now=now)
        self._queued(queued)
        return updated

    def expire_due(self, now: datetime) -> list[DeployRequest]:
        """Expire every pending request past its deadline (queuing its card refresh); returns them."""
        aware(now)
        query = sa.select(requests.c.id).where(
            requests.c.status == RequestStatus.PENDING, requests.c.expires_at <= now
        )
        with self._reader.begin() as connection:
            due = list(connection.execute(query.order_by(requests.c.expires_at)).scalars())
        expired = (
            self.transition(
                request_id,
                from_statuses={RequestStatus.PENDING},
                to=RequestStatus.EXPIRED,
                actor="bot",
                action="expired",
                now=now,
                notices=[Notice(kind=CARD)],
            )
            for request_id in due
        )
        return [request for request in expired if request is not None]

    # -- deployments ----------------------------------------------------------------------------------

    def start_deployment(
        self, request_id: str, project_id: int, deploy_id: str, status: str, *, now: datetime
    ) -> Deployment:
        """Record a deployment this replica watches, due for a poll now; the same deploy id again: no-op."""
        aware(now)
        with self._writing() as connection:
            existing = self._read_deployment(connection, request_id)
            if existing is not None:
                if existing.deploy_id != deploy_id:
                    raise StoreError(
                        f"Request {request_id} is already deployment {existing.deploy_id}, not {deploy_id}."
                    )
                return existing
            self._read_request(connection, request_id)
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

    @staticmethod
    def _read_deployment(connection: sa.Connection, request_id: str) -> Deployment | None:
        row = connection.execute(sa.select(deployments).where(deployments.c.request_id == request_id)).first()
        return None if row is None else deployment_of(row)

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
                current = self._read_deployment(connection, request_id)
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
            return self._read_deployment(connection, request_id)

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

    # -- audit ----------------------------------------------------------------------------------------

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
