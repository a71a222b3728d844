"""Alerts that reach a person: which live statuses need someone, who is mentioned, and whether a stop was
asked for through the bot. The watcher adds the alert to the report it commits with the status change, so
each alert is sent exactly once per change, whichever replica sees it and across restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.blocks.alerts import mentions, status_alert_text
from bot.statuses import LIVE_FAILURE
from bot.store.models import Deployment, DeployRequest, Notice
from bot.store.outbox import THREAD

if TYPE_CHECKING:
    from bot.config import PolicySettings
    from bot.store import Store

PENDING_INPUT = "PendingInput"
STOPPED = frozenset({"Stopped", "Liquidated"})
# Audit actions of LiveOps: a stop or liquidation asked for through the bot (its `_requested` event comes
# before QuantConnect is called, so a status read in between still knows; `_failed` takes it back).
ASKED = frozenset({"stop", "liquidate", "stop_requested", "liquidate_requested"})
TAKEN_BACK = frozenset({"stop_failed", "liquidate_failed"})


def needs_alert(status: str) -> bool:
    """Whether a live status may need a person (failures, stops, input awaited)."""
    return status in LIVE_FAILURE or status in STOPPED or status == PENDING_INPUT


def stop_was_asked(store: Store, deployment: Deployment) -> bool:
    """Whether someone stopped or liquidated this deployment's project through the bot since it started."""
    asked = False
    for event in store.events(project_id=deployment.project_id, since=deployment.created_at, limit=200):
        if event.action in ASKED:
            asked = True
        elif event.action in TAKEN_BACK:
            asked = False
    return asked


def alert_notice(
    request: DeployRequest, status: str, problem: str | None, *, asked_by_bot: bool, policy: PolicySettings
) -> Notice | None:
    """The broadcast thread reply for a status that needs a person, or None: the requester, and for real
    money the approvers (users and groups from the policy), are mentioned."""
    if not needs_alert(status) or (status in STOPPED and asked_by_bot):
        return None
    users = [request.requester_id]
    groups: list[str] = []
    if not request.is_paper:
        users += sorted(policy.approver_user_ids)
        groups = sorted(policy.approver_group_ids)
    text = status_alert_text(
        mentions(users, groups), request.project_name, status, problem, is_paper=request.is_paper
    )
    return Notice(kind=THREAD, text=text, broadcast=True)


def alerts_for(
    store: Store,
    deployment: Deployment,
    request: DeployRequest | None,
    status: str,
    problem: str | None,
    policy: PolicySettings,
) -> list[Notice]:
    """The alert notices of a status change (none, or one), ready to commit with the change."""
    if request is None or not needs_alert(status):
        return []
    asked = status in STOPPED and stop_was_asked(store, deployment)
    notice = alert_notice(request, status, problem, asked_by_bot=asked, policy=policy)
    return [notice] if notice is not None else []
