"""The store everything uses: one facade over the per-aggregate parts, on SQLite or PostgreSQL."""

from __future__ import annotations

from bot.store.approvals import ApprovalStore
from bot.store.audit import AuditStore
from bot.store.deployments import DeploymentStore
from bot.store.emergency import EmergencyStopStore
from bot.store.fills import FillStore
from bot.store.leases import LeaseStore
from bot.store.outbox import OutboxStore
from bot.store.reminders import ReminderStore
from bot.store.requests import RequestStore
from bot.store.roles import RoleStore
from bot.store.statistics import StatisticsStore
from bot.store.watching import WatchStore


class Store(
    RequestStore,
    ApprovalStore,
    DeploymentStore,
    AuditStore,
    LeaseStore,
    RoleStore,
    WatchStore,
    OutboxStore,
    FillStore,
    StatisticsStore,
    ReminderStore,
    EmergencyStopStore,
):
    """Persistent state of the bot; one transaction per call, never a secret.

    Requests and their approvals, deployments, the audit trail, replica leases and ownership, leader roles,
    the poller's watching and equity, and the Slack outbox each live in a module of their own
    (bot/store/*.py); this class only puts them together.
    """
