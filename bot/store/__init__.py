"""Persistent store: requests, approvals, deployments, project locks and the audit trail (SQLAlchemy Core)."""

from bot.store.engine import DEFAULT_DATABASE_URL, normalize_url
from bot.store.errors import ProjectLocked, RequestNotFound, SecretRejected, StoreError
from bot.store.models import (
    ALLOWED_TRANSITIONS,
    OPEN,
    TERMINAL,
    TERMINAL_LIVE_STATUSES,
    ApprovalOutcome,
    AuditEvent,
    Deployment,
    DeployRequest,
    NewRequest,
    RequestStatus,
)
from bot.store.repository import Store, new_request_id

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_DATABASE_URL",
    "OPEN",
    "TERMINAL",
    "TERMINAL_LIVE_STATUSES",
    "ApprovalOutcome",
    "AuditEvent",
    "DeployRequest",
    "Deployment",
    "NewRequest",
    "ProjectLocked",
    "RequestNotFound",
    "RequestStatus",
    "SecretRejected",
    "Store",
    "StoreError",
    "new_request_id",
    "normalize_url",
]
