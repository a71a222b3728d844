"""Persistent store: requests, approvals, deployments, project locks, replica leases, the Slack outbox and the
audit trail (SQLAlchemy Core)."""

from bot.store.base import new_replica_id
from bot.store.engine import DEFAULT_DATABASE_URL, normalize_url
from bot.store.errors import ProjectLocked, RequestNotFound, SecretRejected, StoreError
from bot.store.facade import Store
from bot.store.leases import LeaseClaim
from bot.store.models import (
    ALLOWED_TRANSITIONS,
    ApprovalOutcome,
    AuditEvent,
    Deployment,
    DeployRequest,
    NewRequest,
    Notice,
    OutboxMessage,
    Replica,
    RequestStatus,
)
from bot.store.requests import new_request_id

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_DATABASE_URL",
    "ApprovalOutcome",
    "AuditEvent",
    "DeployRequest",
    "Deployment",
    "LeaseClaim",
    "NewRequest",
    "Notice",
    "OutboxMessage",
    "ProjectLocked",
    "Replica",
    "RequestNotFound",
    "RequestStatus",
    "SecretRejected",
    "Store",
    "StoreError",
    "new_replica_id",
    "new_request_id",
    "normalize_url",
]
