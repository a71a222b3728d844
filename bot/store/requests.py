"""The requests aggregate: creating a request under its project's lock, reading it, and every status change
as a compare-and-set with its audit event and Slack notices in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.statuses import IN_FLIGHT, OPEN, TERMINAL, RequestStatus
from bot.store.audit import write_event
from bot.store.base import StoreBase, aware
from bot.store.errors import ProjectLocked, RequestNotFound
from bot.store.jsonsafe import json_safe
from bot.store.models import ALLOWED_TRANSITIONS, DeployRequest, NewRequest, Notice
from bot.store.outbox import CARD, queue_notices
from bot.store.ownership import is_alive
from bot.store.rows import REQUEST_BY_ID, read_request, request_of
from bot.store.tables import project_locks, requests

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

# A submission's statements, built once: building and coercing them on every call cost a deploy-form
# submission more interpreter time than running them.
_BY_DEDUPE_KEY = sa.select(requests).where(requests.c.dedupe_key == sa.bindparam("dedupe_key"))
_LOCK_OF_PROJECT = (
    sa.select(project_locks).where(project_locks.c.project_id == sa.bindparam("project_id")).with_for_update()
)
_INSERT_REQUEST = sa.insert(requests).returning(*requests.c)
_INSERT_LOCK = sa.insert(project_locks)
_ID_IF_EXISTS = sa.select(requests.c.id).where(requests.c.id == sa.bindparam("request_id"))


def new_request_id() -> str:
    """A short random request id such as `r-7f3a9c2b`."""
    return f"r-{secrets.token_hex(4)}"


def _statuses(values: Iterable[RequestStatus | str] | RequestStatus | str) -> frozenset[RequestStatus]:
    if isinstance(values, str):
        return frozenset({RequestStatus(values)})
    return frozenset(RequestStatus(value) for value in values)


def _exists(connection: sa.Connection, request_id: str) -> bool:
    return connection.execute(_ID_IF_EXISTS, {"request_id": request_id}).first() is not None


def open_lock_holder(connection: sa.Connection, project_id: int) -> sa.Row[Any] | None:
    """The open request holding the project's lock (inside the caller's transaction), or None."""
    lock = connection.execute(_LOCK_OF_PROJECT, {"project_id": project_id}).first()
    if lock is None:
        return None
    holder = connection.execute(REQUEST_BY_ID, {"request_id": lock.request_id}).first()
    if holder is not None and RequestStatus(holder.status) in OPEN:
        return holder
    # Transitions release locks in the same transaction, so this only heals a lock left by hand edits.
    connection.execute(sa.delete(project_locks).where(project_locks.c.project_id == project_id))
    return None


class RequestStore(StoreBase):
    """Deploy requests: create, read, and move them through their statuses."""

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
                existing = connection.execute(_BY_DEDUPE_KEY, {"dedupe_key": new.dedupe_key}).first()
                if existing is not None:
                    return request_of(existing)
            holder = open_lock_holder(connection, new.project_id)
            if holder is not None:
                if new.dedupe_key is not None and holder.dedupe_key == new.dedupe_key:
                    # A redelivery that passed the dedupe check above just before the first one committed.
                    return request_of(holder)
                raise ProjectLocked(holder.id, holder.requester_id, holder.status)
            auto_approved = new.approvals_needed == 0
            request_id = new_request_id()
            # RETURNING hands back the row as stored (masked columns redacted) without a second transaction.
            created = connection.execute(
                _INSERT_REQUEST,
                {
                    "id": request_id,
                    **new.model_dump(exclude={"data_providers", "notify_events", "notify_targets"}),
                    "data_providers": list(new.data_providers),
                    "notify_events": list(new.notify_events),
                    "notify_targets": list(new.notify_targets),
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
            ).one()
            connection.execute(
                _INSERT_LOCK,
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
                    **({"redeploy_of": new.redeploy_of} if new.redeploy_of else {}),
                },
                **audit,
            )
            if new.redeploy_of is not None and _exists(connection, new.redeploy_of):
                # The earlier card links to this one: its refresh commits with the new request.
                queue_notices(
                    connection, new.redeploy_of, [Notice(kind=CARD)], owner=self.replica_id, now=now
                )
            if auto_approved:
                write_event(connection, "policy", "approved", detail={"approvals_needed": 0}, **audit)
        return request_of(created)

    def get_request(self, request_id: str) -> DeployRequest | None:
        """The request with that id, or None."""
        with self._reader.begin() as connection:
            row = connection.execute(REQUEST_BY_ID, {"request_id": request_id}).first()
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

    def redeploys_of(self, request_id: str) -> list[str]:
        """Ids of the requests that redeploy this one, oldest first."""
        query = (
            sa.select(requests.c.id)
            .where(requests.c.redeploy_of == request_id)
            .order_by(requests.c.created_at, requests.c.id)
            .limit(20)
        )
        with self._reader.begin() as connection:
            return [str(row) for row in connection.execute(query).scalars()]

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
            return read_request(connection, request_id)

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
            updated = read_request(connection, request_id)
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
            elif RequestStatus.FAILED in sources and open_lock_holder(connection, updated.project_id) is None:
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
