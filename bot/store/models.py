"""Values the store hands out and takes in: request statuses, requests, deployments, audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.statuses import LIVE_TERMINAL, OPEN, TERMINAL, RequestStatus
from bot.store.jsonsafe import json_safe

_S = RequestStatus

# The only moves the store accepts; anything else is a programming error, not a race.
ALLOWED_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.CANCELLED, _S.EXPIRED}),
    _S.APPROVED: frozenset({_S.AUTHORIZING, _S.COMPILING, _S.FAILED}),
    # Authorized (QuantConnect holds the token), or never authorized within the request's time to live;
    # or withdrawn by its requester meanwhile (nothing is compiled or sent while authorizing).
    _S.AUTHORIZING: frozenset({_S.COMPILING, _S.EXPIRED, _S.FAILED, _S.CANCELLED}),
    _S.COMPILING: frozenset({_S.DEPLOYING, _S.FAILED}),
    _S.DEPLOYING: frozenset({_S.LIVE, _S.FAILED}),
    _S.LIVE: frozenset({_S.ENDED, _S.FAILED}),
    **{status: frozenset() for status in TERMINAL},
    # Self-healing: QuantConnect shows a deployment of a request the bot had recorded as failed.
    _S.FAILED: frozenset({_S.LIVE}),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NewRequest(_Frozen):
    """What a requester asked for; everything the store needs to create a deploy request."""

    project_id: int
    project_name: str
    model_key: str
    brokerage_id: str
    profile: str
    version_id: str  # no default: master (-1) is only ever chosen on purpose
    node_id: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    holdings: list[dict[str, Any]] = Field(default_factory=list)
    cash: list[dict[str, Any]] = Field(default_factory=list)
    data_providers: tuple[str, ...] = ("QuantConnectBrokerage",)
    automatic_redeploy: bool = False
    notify_events: tuple[str, ...] = ()
    notify_targets: tuple[str, ...] = ()  # notification preset names, never their values
    reason: str = ""
    requester_id: str
    is_paper: bool
    approvals_needed: int = Field(ge=0)
    channel_id: str | None = None
    expires_at: datetime | None = None
    dedupe_key: str | None = None
    book_source: dict[str, Any] | None = None
    redeploy_of: str | None = None

    @field_validator("settings", "holdings", "cash", mode="before")
    @classmethod
    def _no_secrets(cls, value: Any, info: Any) -> Any:
        # Raises SecretRejected (not a ValueError), so pydantic lets it through unchanged.
        return json_safe(value, info.field_name)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("expires_at must be timezone-aware")
        return value


class DeployRequest(_Frozen):
    """A deploy request as stored, with its current status and everything decided about it."""

    id: str
    project_id: int
    project_name: str
    model_key: str
    brokerage_id: str
    profile: str
    node_id: str | None
    version_id: str
    settings: dict[str, Any]
    holdings: list[dict[str, Any]]
    cash: list[dict[str, Any]]
    data_providers: tuple[str, ...]
    automatic_redeploy: bool
    notify_events: tuple[str, ...] = ()
    notify_targets: tuple[str, ...] = ()
    reason: str
    requester_id: str
    is_paper: bool
    approvals_needed: int
    status: RequestStatus
    channel_id: str | None
    message_ts: str | None
    compile_id: str | None
    node_used: str | None
    deploy_id: str | None
    errors: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    dedupe_key: str | None
    revision: int
    owner: str | None = None
    owned_since: datetime | None = None
    deploying_since: datetime | None = None
    previous_deploy_id: str | None = None
    settle_deadline: datetime | None = None
    next_check_at: datetime | None = None
    settle_note: str | None = None
    book_source: dict[str, Any] | None = None
    redeploy_of: str | None = None
    reminded_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True while the request still holds its project's lock."""
        return self.status in OPEN

    @property
    def is_settling(self) -> bool:
        """True while live/create may have been sent and QuantConnect has not confirmed the outcome yet."""
        return self.status is RequestStatus.DEPLOYING and self.settle_note is not None


class ApprovalOutcome(_Frozen):
    """The result of one approval click."""

    request: DeployRequest
    counted: bool
    approvals: tuple[str, ...]
    became_approved: bool


class Deployment(_Frozen):
    """A live deployment being watched, with QuantConnect's last reported status."""

    request_id: str
    project_id: int
    deploy_id: str
    status: str
    message: str | None
    launched: datetime | None
    stopped: datetime | None
    created_at: datetime
    updated_at: datetime
    next_poll_at: datetime | None
    lease_owner: str | None
    lease_since: datetime | None
    equity: float | None = None
    equity_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """True until QuantConnect reports a status after which nothing more happens."""
        return self.status not in LIVE_TERMINAL


class HeldRequest(_Frozen):
    """A request in flight as its owner replica holds it."""

    id: str
    status: RequestStatus
    project_name: str
    since: datetime | None


class Replica(_Frozen):
    """A running bot process with its heartbeat lease, and the work it holds."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime
    alive: bool
    requests: tuple[HeldRequest, ...] = ()
    deployments: int = 0
    messages: int = 0


class Notice(_Frozen):
    """A Slack message about a request, queued in the outbox: a card refresh or a reply in its thread."""

    kind: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    # A thread reply also shown in the channel (Slack's reply_broadcast): alerts that must reach people.
    broadcast: bool = False


class OutboxMessage(_Frozen):
    """A queued Slack message as stored, with who delivers it."""

    id: int
    request_id: str | None
    channel_id: str | None
    kind: str
    payload: dict[str, Any]
    owner: str | None
    created_at: datetime
    started_at: datetime | None
    sent_at: datetime | None
    outcome: str | None


class AuditEvent(_Frozen):
    """One append-only line of the audit trail."""

    id: int
    at: datetime
    request_id: str | None
    project_id: int | None
    actor: str
    action: str
    detail: dict[str, Any]
