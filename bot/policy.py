"""Who may request, approve, reject, cancel, stop and liquidate, and who may read what; approvals needed.

Approvers and requesters are Slack user ids and user-group ids. Group membership is read from Slack
(`usergroups.users.list`) at click time and cached for `group_cache_seconds`; when Slack cannot answer, the
policy refuses (fails closed) with a message that says so, and never approves on a guess. Acts that move
real money read the membership fresh, never from the cache: every approval of a real-money request (so the
one that completes it), and Stop and Liquidate. Someone removed from an approver group cannot do them in the
cache window.

Reads follow the same people: the audit trail, Preview and the App Home's running and finished lists show
everything to approvers and a requester's own requests to that requester; `/qc status` answers whoever may
request a deployment, and approvers (who stop what runs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.config import PolicySettings

log = logging.getLogger("bot.policy")


class _RequestLike(Protocol):
    """The parts of a deploy request a policy decision looks at."""

    @property
    def requester_id(self) -> str: ...

    @property
    def is_paper(self) -> bool: ...


@dataclass(frozen=True)
class Decision:
    """A yes or no with the reason a person can read; truthy when allowed."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class GroupLookupFailed(Exception):
    """Slack could not tell who is in a user group; the caller must refuse."""

    def __init__(self, group_id: str, error: str) -> None:
        self.group_id = group_id
        self.error = error
        super().__init__(f"Slack could not list the members of user group {group_id} ({error})")


def _names(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids))


@dataclass(frozen=True)
class ReadScope:
    """Which requests a person may read: all (approvers) or only their own; `note` says why not all."""

    user_id: str
    everything: bool
    note: str = ""

    def covers(self, request: _RequestLike) -> bool:
        """Whether the person may read this request."""
        return self.everything or request.requester_id == self.user_id


class Policy:
    """The rules of who may do what, from PolicySettings plus Slack user-group membership."""

    def __init__(
        self,
        settings: PolicySettings,
        slack_client: WebClient,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self._client = slack_client
        self._clock = clock
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    # -- numbers -------------------------------------------------------------------------------------------

    def approvals_needed(self, is_paper: bool) -> int:
        """How many distinct approvers a request needs (0 means approved at once)."""
        return self.settings.approvals_paper if is_paper else self.settings.approvals_live

    @property
    def request_ttl(self) -> timedelta:
        """How long a request waits for approval before it expires."""
        return timedelta(minutes=self.settings.request_ttl_minutes)

    def expires_at(self, now: datetime) -> datetime:
        """When a request created at `now` expires."""
        return now + self.request_ttl

    # -- people --------------------------------------------------------------------------------------------

    def group_members(self, group_id: str, *, fresh: bool = False) -> frozenset[str]:
        """Members of a user group, cached briefly unless `fresh`; GroupLookupFailed when Slack fails."""
        now = self._clock()
        ttl = timedelta(seconds=self.settings.group_cache_seconds)
        with self._lock:
            cached = self._cache.get(group_id)
            if not fresh and cached is not None and now - cached[0] < ttl:
                return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = (
                str(exc.response.get("error") or "unknown error") if exc.response is not None else "no answer"
            )
            log.warning("usergroup lookup failed", extra={"group_id": group_id, "error": error})
            raise GroupLookupFailed(group_id, error) from None
        except Exception as exc:  # network trouble: fail closed, never approve on a guess
            log.warning("usergroup lookup failed", extra={"group_id": group_id, "error": type(exc).__name__})
            raise GroupLookupFailed(group_id, type(exc).__name__) from None
        members = frozenset(str(u) for u in (response.get("users") or []))
        with self._lock:
            self._cache[group_id] = (now, members)
        return members

    def _member(
        self, user_id: str, user_ids: frozenset[str], group_ids: frozenset[str], *, fresh: bool
    ) -> str | None:
        """Where the user is listed ("APPROVER_USER_IDS"-style label or a group id), or None."""
        if user_id in user_ids:
            return "user"
        for group_id in sorted(group_ids):
            if user_id in self.group_members(group_id, fresh=fresh):
                return group_id
        return None

    def _role(
        self,
        user_id: str,
        *,
        action: str,
        role: str,
        env_users: str,
        env_groups: str,
        user_ids: frozenset[str],
        group_ids: frozenset[str],
        fresh: bool = False,
    ) -> Decision:
        try:
            where = self._member(user_id, user_ids, group_ids, fresh=fresh)
        except GroupLookupFailed as exc:
            return Decision(
                False,
                f"I could not check whether you may {action}: Slack did not list the members of user group "
                f"{exc.group_id} ({exc.error}). Nothing was changed; try again in a moment.",
            )
        if where == "user":
            return Decision(True, f"You are one of the {role} in {env_users}.")
        if where is not None:
            return Decision(True, f"You are one of the {role} through user group {where}.")
        groups = f" or the groups {_names(group_ids)}" if group_ids else ""
        return Decision(
            False, f"Only {role} can {action}: you are not in {env_users}{groups} ({env_groups})."
        )

    def is_approver(self, user_id: str, *, action: str = "approve", fresh: bool = False) -> Decision:
        """Whether the user is an approver (listed by id or in an approver group; `fresh`: not from cache)."""
        return self._role(
            user_id,
            action=action,
            role="approvers",
            env_users="APPROVER_USER_IDS",
            env_groups="APPROVER_GROUP_IDS",
            user_ids=self.settings.approver_user_ids,
            group_ids=self.settings.approver_group_ids,
            fresh=fresh,
        )

    def may_request(self, user_id: str, *, action: str = "request deployments") -> Decision:
        """Whether the user may ask for a deployment (empty requester lists mean anyone)."""
        if not (self.settings.requester_user_ids or self.settings.requester_group_ids):
            return Decision(True, "Anyone may request a deployment.")
        return self._role(
            user_id,
            action=action,
            role="requesters",
            env_users="REQUESTER_USER_IDS",
            env_groups="REQUESTER_GROUP_IDS",
            user_ids=self.settings.requester_user_ids,
            group_ids=self.settings.requester_group_ids,
        )

    def may_approve(self, request: _RequestLike, user_id: str) -> Decision:
        """Whether the user may approve this request (approver, and not their own unless allowed).

        Real money: membership is read fresh for every approval, so certainly for the one that completes
        the request (which approval completes it is only known inside the store's compare-and-set).
        """
        if user_id == request.requester_id and not self.settings.allow_self_approval:
            return Decision(
                False,
                "You cannot approve your own request: another approver must do it "
                "(self-approval is off, ALLOW_SELF_APPROVAL=false).",
            )
        return self.is_approver(user_id, action="approve", fresh=not request.is_paper)

    def may_reject(self, request: _RequestLike, user_id: str) -> Decision:
        """Whether the user may reject this request (approvers; the requester cancels instead)."""
        decision = self.is_approver(user_id, action="reject")
        if not decision and user_id == request.requester_id:
            return Decision(False, decision.reason + " To withdraw your own request, use Cancel.")
        return decision

    def may_cancel(self, request: _RequestLike, user_id: str) -> Decision:
        """Whether the user may cancel this request (its requester only)."""
        if user_id == request.requester_id:
            return Decision(True, "You asked for this deployment.")
        return Decision(
            False,
            f"Only the requester (<@{request.requester_id}>) can cancel this request; approvers can Reject.",
        )

    def may_stop(self, user_id: str) -> Decision:
        """Whether the user may stop a live algorithm (approvers, membership read fresh)."""
        return self.is_approver(user_id, action="stop live algorithms", fresh=True)

    def may_liquidate(self, user_id: str) -> Decision:
        """Whether the user may liquidate and stop a live algorithm (approvers, membership read fresh)."""
        return self.is_approver(user_id, action="liquidate live algorithms", fresh=True)

    # -- reading -------------------------------------------------------------------------------------------

    def may_read_request(self, request: _RequestLike, user_id: str, *, what: str) -> Decision:
        """Preview and the audit trail of one request: approvers, and the requester for their own request."""
        if user_id == request.requester_id:
            return Decision(True, "You asked for this deployment.")
        decision = self.is_approver(user_id, action=f"see {what} of other people's requests")
        if decision:
            return decision
        return Decision(False, decision.reason + f" You can see {what} of your own requests.")

    def read_scope(self, user_id: str) -> ReadScope:
        """The audit trail and the App Home's lists: everything for approvers, the user's own otherwise."""
        decision = self.is_approver(user_id, action="see everyone's requests")
        if decision:
            return ReadScope(user_id, everything=True)
        return ReadScope(user_id, everything=False, note=decision.reason)

    def may_view_status(self, user_id: str) -> Decision:
        """`/qc status` (what runs, who asked for it): whoever may request a deployment, and approvers."""
        decision = self.may_request(user_id, action="see what runs")
        if decision:
            return decision
        if self.is_approver(user_id, action="see what runs"):
            return Decision(True, "Approvers see what runs.")
        return decision
