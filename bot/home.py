"""The App Home read-model: what each person's Home tab shows, read from the store, and publishing it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.home import PendingItem, RunningItem, home_view
from bot.brokerages.registry import display_name
from bot.holders import holder_lines
from bot.policy import GroupLookupFailed
from bot.statuses import ACTIVE, TERMINAL, RequestStatus

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.config import Settings
    from bot.policy import Policy
    from bot.store import DeployRequest, Store

log = logging.getLogger("bot.home")

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


class AppHome:
    """Builds and publishes Home tabs: approvers see what waits for them, everyone their own requests."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        slack: WebClient,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.policy = policy
        self.slack = slack
        self.settings = settings
        self.clock = clock

    def snapshot(self) -> HomeSnapshot:
        """The pending, running and finished requests, with approvals and deployments, in a few queries."""
        store = self.store
        now = self.clock()
        open_pending = [
            request
            for request in store.list_requests(statuses={RequestStatus.PENDING}, limit=QUERY_LIMIT)
            if request.expires_at is None or request.expires_at > now
        ]
        in_flight = store.list_requests(statuses=ACTIVE, limit=QUERY_LIMIT)
        deployments = store.deployments_for(request.id for request in in_flight)
        return HomeSnapshot(
            now=now,
            open_pending=open_pending,
            approvals=store.approvals_for(request.id for request in open_pending),
            running=[
                RunningItem(request, deployments.get(request.id), display_name(request.model_key))
                for request in in_flight
            ],
            finished=store.list_requests(statuses=TERMINAL, limit=FINISHED_SHOWN),
            holders=holder_lines(store.replicas(now), now),
        )

    def view(self, user_id: str, snapshot: HomeSnapshot | None = None) -> dict[str, Any]:
        """The Home view for `user_id`, from `snapshot` or from the store as it stands now.

        Running and finished requests: all of them for approvers, the viewer's own otherwise (bot/policy.py).
        """
        policy = self.policy
        snapshot = snapshot or self.snapshot()
        scope = policy.read_scope(user_id)
        is_approver = scope.everything
        pending: list[PendingItem] = []
        if is_approver:
            for request in snapshot.open_pending:
                approvals = snapshot.approvals.get(request.id, [])
                # Only what this viewer can still act on: not their own (unless allowed), not approved yet.
                if user_id in approvals or not policy.may_approve(request, user_id):
                    continue
                pending.append(PendingItem(request, approvals, display_name(request.model_key)))
        return home_view(
            viewer_id=user_id,
            is_approver=is_approver,
            pending=pending,
            running=[item for item in snapshot.running if scope.covers(item.request)],
            finished=[request for request in snapshot.finished if scope.covers(request)],
            channel_id=self.settings.deploy_channel_id,
            now=snapshot.now,
            pending_elsewhere=len(snapshot.open_pending),
            own_only=not scope.everything,
            holders=snapshot.holders if is_approver else (),
        )

    def publish(self, user_id: str, snapshot: HomeSnapshot | None = None) -> bool:
        """Publish the Home tab of one user; False (logged) when Slack refuses."""
        try:
            self.slack.views_publish(user_id=user_id, view=self.view(user_id, snapshot))
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "no answer"
            log.warning("views.publish failed", extra={"user_id": user_id, "error": error})
            return False
        return True

    def approver_ids(self) -> list[str]:
        """Every approver, listed by id or through a group (the policy caches group look-ups)."""
        settings = self.settings.policy
        users = set(settings.approver_user_ids)
        for group_id in settings.approver_group_ids:
            try:
                users |= self.policy.group_members(group_id)
            except GroupLookupFailed:
                # A group Slack cannot list must not stop the refresh of the other approvers' tabs.
                log.warning("approver group lookup failed", extra={"group_id": group_id})
        return sorted(users)

    def refresh_approvers(self) -> int:
        """Re-publish every approver's Home tab (after a request is created or decided); returns how many."""
        approvers = self.approver_ids()
        snapshot = self.snapshot() if approvers else None
        return sum(self.publish(user_id, snapshot) for user_id in approvers)
