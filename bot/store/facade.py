"""The store everything uses: one facade over the per-aggregate parts, on SQLite or PostgreSQL."""

from __future__ import annotations

from bot.store.approvals import ApprovalStore
from bot.store.audit import AuditStore
from bot.store.deployments import DeploymentStore
from bot.store.leases import LeaseStore
from bot.store.outbox import OutboxStore
from bot.store.requests import RequestStore
from bot.store.roles import RoleStore
from bot.store.watching import WatchStore


class Store(
    RequestStore, ApprovalStore, DeploymentStore, AuditStore, LeaseStore, RoleStore, WatchStore, OutboxStore
):
    """Persistent state of the bot; one transaction per call, never a secret.

    Requests and their approvals, deployments, the audit trail, replica leases and ownership, leader roles,
    the poller's watching and equity, and the Slack outbox each live in a module of their own
    (bot/store/*.py); this class only puts them together.
    """
