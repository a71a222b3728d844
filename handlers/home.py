"""The App Home tab: published when a user opens it, and re-publishable for approvers after a change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.home import PendingItem, RunningItem, home_view
from bot.holders import holder_lines
from bot.notifier import model_display_name
from bot.policy import GroupLookupFailed
from bot.statuses import ACTIVE, TERMINAL, RequestStatus
from bot.store.models import DeployRequest

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.services import Services

log = logging.getLogger("bot.handlers.home")

S = RequestStatus

# Enough rows to count the overflow honestly; the view itself shows far fewer.
QUERY_LIMIT = 500
FINISHED_SHOWN = 20


@dataclass(frozen=True)
class HomeSnapshot:
    """What every Home tab shows, read from the store once and shared by all the tabs of one refresh."""

    now: datetime
    open_pending: list[DeployRequest]
    approvals: dict[str, list[str]]
    running: list[RunningItem]
    finished: list[DeployRequest]
    holders: list[str]


def home_snapshot(services: Services) -> HomeSnapshot:
    """Read the pending, running and finished requests (with approvals and deployments) in a few queries."""
    store = services.store
    now = services.clock()
    open_pending = [
        request
        for request in store.list_requests(statuses={S.PENDING}, limit=QUERY_LIMIT)
        if request.expires_at is None or request.expires_at > now
    ]
    in_flight = store.list_requests(statuses=ACTIVE, limit=QUERY_LIMIT)
    deployments = store.deployments_for(request.id for request in in_flight)
    return HomeSnapshot(
        now=now,
        open_pending=open_pending,
        approvals=store.approvals_for(request.id for request in open_pending),
        running=[
            RunningItem(request, deployments.get(request.id), model_display_name(request.model_key))
            for request in in_flight
        ],
        finished=store.list_requests(statuses=TERMINAL, limit=FINISHED_SHOWN),
        holders=holder_lines(store.replicas(now), now),
    )


def build_home(services: Services, user_id: str, snapshot: HomeSnapshot | None = None) -> dict[str, Any]:
    """The Home view for `user_id`, from `snapshot` or from the store as it stands now.

    Running and finished requests: all of them for approvers, the viewer's own otherwise (bot/policy.py).
    """
    policy = services.policy
    snapshot = snapshot or home_snapshot(services)
    scope = policy.read_scope(user_id)
    is_approver = scope.everything
    pending: list[PendingItem] = []
    if is_approver:
        for request in snapshot.open_pending:
            approvals = snapshot.approvals.get(request.id, [])
            # Only what this viewer can still act on: not their own (unless allowed), not already approved.
            if user_id in approvals or not policy.may_approve(request, user_id):
                continue
            pending.append(PendingItem(request, approvals, model_display_name(request.model_key)))
    return home_view(
        viewer_id=user_id,
        is_approver=is_approver,
        pending=pending,
        running=[item for item in snapshot.running if scope.covers(item.request)],
        finished=[request for request in snapshot.finished if scope.covers(request)],
        channel_id=services.settings.deploy_channel_id,
        now=snapshot.now,
        pending_elsewhere=len(snapshot.open_pending),
        own_only=not scope.everything,
        holders=snapshot.holders if is_approver else (),
    )


def publish_home(services: Services, user_id: str, snapshot: HomeSnapshot | None = None) -> bool:
    """Publish the Home tab of one user; False (logged) when Slack refuses."""
    try:
        services.slack.views_publish(user_id=user_id, view=build_home(services, user_id, snapshot))
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "no answer"
        log.warning("views.publish failed", extra={"user_id": user_id, "error": error})
        return False
    return True


def approver_ids(services: Services) -> list[str]:
    """Every approver, listed by id or through an approver group (group lookups are cached by the policy)."""
    settings = services.settings.policy
    users = set(settings.approver_user_ids)
    for group_id in settings.approver_group_ids:
        try:
            users |= services.policy.group_members(group_id)
        except GroupLookupFailed:
            # A group Slack cannot list must not stop the refresh of the other approvers' tabs.
            log.warning("approver group lookup failed", extra={"group_id": group_id})
    return sorted(users)


def refresh_approver_homes(services: Services) -> int:
    """Re-publish every approver's Home tab (after a request is created or decided); returns how many."""
    approvers = approver_ids(services)
    snapshot = home_snapshot(services) if approvers else None
    return sum(publish_home(services, user_id, snapshot) for user_id in approvers)


def register(app: App, services: Services) -> None:
    """Publish the Home tab whenever a user opens it."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user") or "")
        if user_id:
            publish_home(services, user_id)
