"""Deploy requests: create one from the modal, post it, and approve, reject, cancel or expire it safely.

Every change is a compare-and-set through the store, so a double click, two approvers at once or a redelivered
Slack request count once, and an approved request is handed to the deployer exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.answers import closed_message, not_posted_message, posted_message
from bot.blocks.common import escape
from bot.brokerages import registry
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.echo import echo
from bot.errors import BotError
from bot.live_create import Preview, classify, preview
from bot.secrets.errors import ProfileIncomplete, SecretError
from bot.statuses import OPEN, RequestStatus
from bot.store import DeployRequest, NewRequest, ProjectLocked

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.forms import DeployForm
    from bot.notifier import Notifier
    from bot.policy import Policy
    from bot.secrets.profiles import CredentialProfiles
    from bot.store import Store

log = logging.getLogger("bot.requests")

S = RequestStatus

# Announcing waits for the deploy channel's paced write slot (about one per second), so it runs on its own
# threads: on a Bolt listener, a burst of submissions held every listener and later acks missed Slack's 3 s.
ANNOUNCE_THREADS = 2


class RequestRejected(BotError):
    """A deploy request cannot be accepted; `field` names the modal block at fault (profile, project, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Outcome:
    """What a click did: whether it changed the request, and what to tell the person who clicked."""

    changed: bool
    message: str = ""
    request: DeployRequest | None = None


class RequestService:
    """Creates, announces and decides deploy requests; hands approved ones to the deployer."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        profiles: CredentialProfiles,
        notifier: Notifier,
        submit_deploy: Callable[[str], None],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.policy = policy
        self.profiles = profiles
        self.notifier = notifier
        self.submit_deploy = submit_deploy
        self.settings = settings
        self.clock = clock
        self._submitted: set[str] = set()
        self._submit_lock = threading.Lock()
        self._announcer = ThreadPoolExecutor(max_workers=ANNOUNCE_THREADS, thread_name_prefix="announce")
        self._announcing: set[Future[str | None]] = set()
        self._announcing_lock = threading.Lock()

    # -- creating --------------------------------------------------------------------------------------

    def create(self, form: DeployForm, *, requester_id: str, dedupe_key: str | None = None) -> DeployRequest:
        """Check and store a request (pending, or approved at once when no approval is needed).

        The same checks as a deploy-form submission (bot/submissions.py runs them beside the QuantConnect
        look-ups), one after the other.
        """
        problems = {**self.check_requester(requester_id), **self.check_profile(form.profile, form.model_key)}
        for field_name, message in problems.items():
            raise RequestRejected(field_name, message)
        return self.store_request(form, requester_id=requester_id, dedupe_key=dedupe_key)

    def check_requester(self, requester_id: str) -> dict[str, str]:
        """Why this person may not request a deployment, keyed `requester`; empty when they may.

        May ask Slack for user-group members (with Slack's retries): the deploy form runs it off the listener.
        """
        decision = self.policy.may_request(requester_id)
        return {} if decision else {"requester": decision.reason}

    def check_profile(self, profile: str, model_key: str) -> dict[str, str]:
        """Why the credential profile cannot serve this brokerage, keyed `profile`; empty when it can.

        The one secret-store read of a submission: completeness and formats together (an OANDA account id, a
        year of birth), so a value QuantConnect would refuse is caught before anyone approves. The values are
        checked and dropped here; the deployer resolves them again just before live/create.
        """
        try:
            model = registry.get(model_key)
        except UnknownBrokerage as exc:
            return {"brokerage": str(exc)}
        try:
            model.validate_credentials(self.profiles.resolve(profile, model))
        except ProfileIncomplete as exc:
            described = ", ".join(f"{model.field(name).label} ({name})" for name in exc.missing)
            return {
                "profile": f"Profile {profile} is missing {described}. Store them in the secret store "
                "(see docs/secrets.md) and submit again."
            }
        except SecretError as exc:
            return {"profile": exc.user_message}
        except FieldErrors as exc:
            problems = " ".join(exc.errors.values())
            return {"profile": f"Profile {profile}: {problems} Fix it in the secret store and submit again."}
        return {}

    def store_request(
        self, form: DeployForm, *, requester_id: str, dedupe_key: str | None = None
    ) -> DeployRequest:
        """Store a checked request in one transaction; a repeated dedupe_key returns the first one."""
        # The profile is checked already (check_profile): classifying reads no secret.
        try:
            model = registry.get(form.model_key)
            classification = classify(form)
        except UnknownBrokerage as exc:
            raise RequestRejected("brokerage", str(exc)) from None
        except FieldErrors as exc:
            raise RequestRejected(next(iter(exc.errors)), " ".join(exc.errors.values())) from None
        log.info(
            "request classified as %s: %s",
            "paper" if classification.is_paper else "real money",
            classification.reason,
        )
        now = self.clock()
        new = NewRequest(
            **form.model_dump(exclude={"model_key"}),
            model_key=model.key,
            brokerage_id=model.brokerage_id,
            requester_id=requester_id,
            is_paper=classification.is_paper,
            approvals_needed=self.policy.approvals_needed(classification.is_paper),
            channel_id=self.settings.deploy_channel_id,
            expires_at=self.policy.expires_at(now),
            dedupe_key=dedupe_key,
        )
        try:
            request = self.store.create_request(new, now=now)
        except ProjectLocked as exc:
            raise RequestRejected("project", f"{form.project_name}: {exc.user_message}") from None
        log.info("request created", extra={"request_id": request.id, "status": str(request.status)})
        return request

    def announce(self, request: DeployRequest, *, reply_channel: str | None = None) -> str | None:
        """Post the card, confirm to the requester with a link, and start the deploy if already approved."""
        ts = self.notifier.post_card(request)
        channel = request.channel_id or self.settings.deploy_channel_id
        where = reply_channel or channel
        if ts is None:
            # Slack refused the post; the queued refresh posts the card as soon as Slack answers again.
            self.notifier.refresh_card(request.id)
            self.notifier.ephemeral(where, request.requester_id, not_posted_message(request, channel))
        else:
            link = self.notifier.permalink(channel, ts)
            self.notifier.ephemeral(where, request.requester_id, posted_message(request, channel, link))
        if request.status is S.APPROVED:
            self._submit(request.id)
        return ts

    def post_missing_cards(self) -> list[str]:
        """Queue the card of every open request that has none (the process stopped before it went out)."""
        missing = [r.id for r in self.store.list_requests(statuses=OPEN, limit=1000) if not r.message_ts]
        for request_id in missing:
            # A refresh of a card never posted posts it (Notifier._update_card).
            self.notifier.refresh_card(request_id)
        if missing:
            log.info("posting %d request cards that never went out", len(missing))
        return missing

    def announce_later(self, request: DeployRequest, *, reply_channel: str | None = None) -> None:
        """`announce` on the announcer threads, so the caller (a Bolt listener) is free at once."""
        future = self._announcer.submit(self._announce_logged, request, reply_channel)
        with self._announcing_lock:
            self._announcing.add(future)
        future.add_done_callback(self._announced)

    def _announce_logged(self, request: DeployRequest, reply_channel: str | None) -> str | None:
        try:
            return self.announce(request, reply_channel=reply_channel)
        except Exception:
            # Nobody waits on this thread: log it here rather than lose it in the future.
            log.exception("announcing a request failed", extra={"request_id": request.id})
            return None

    def _announced(self, future: Future[str | None]) -> None:
        with self._announcing_lock:
            self._announcing.discard(future)

    def close(self, timeout: float = 10.0) -> None:
        """Let queued announcements go out (at most `timeout` seconds), then stop the announcer threads."""
        with self._announcing_lock:
            pending = list(self._announcing)
        _, not_done = wait_for_futures(pending, timeout=timeout)
        self._announcer.shutdown(wait=False, cancel_futures=True)
        if not_done:
            log.warning("stopping with %d request cards not yet posted", len(not_done))

    def _submit(self, request_id: str) -> None:
        """Hand an approved request to the deployer once per process (its own CAS guards restarts)."""
        with self._submit_lock:
            if request_id in self._submitted:
                return
            self._submitted.add(request_id)
        self.submit_deploy(request_id)

    # -- deciding --------------------------------------------------------------------------------------

    def _pending(self, request_id: str, now: datetime) -> DeployRequest | Outcome:
        """The request while it still waits for a decision, else the refusal that says why it does not."""
        request = self.store.get_request(request_id)
        if request is None:
            return Outcome(False, f"Request `{escape(request_id)}` does not exist.")
        closed = self._not_pending(request, now)
        return Outcome(False, closed, request) if closed else request

    def _not_pending(self, request: DeployRequest, now: datetime) -> str | None:
        """Why the request can no longer be decided (expiring it if its time is up), or None if it can."""
        if request.status is S.PENDING and request.expires_at is not None and request.expires_at <= now:
            expired = self.store.transition(
                request.id, from_statuses={S.PENDING}, to=S.EXPIRED, actor="bot", action="expired", now=now
            )
            if expired is not None:
                self.notifier.refresh_card(request.id)
                request = expired
            else:
                request = self.store.get_request(request.id) or request
        if request.status is S.PENDING:
            return None
        return closed_message(request)

    def approve(self, request_id: str, user_id: str) -> Outcome:
        """Count one approval; when it is the last one needed, start the deployment exactly once."""
        now = self.clock()
        found = self._pending(request_id, now)
        if isinstance(found, Outcome):
            return found
        decision = self.policy.may_approve(found, user_id)
        if not decision:
            return Outcome(False, decision.reason, found)
        outcome = self.store.add_approval(request_id, user_id, now=now)
        request = outcome.request
        if not outcome.counted:
            if request.status is S.PENDING and user_id in outcome.approvals:
                left = request.approvals_needed - len(outcome.approvals)
                return Outcome(
                    False,
                    f"You already approved request `{escape(request_id)}`; it needs {left} more.",
                    request,
                )
            return Outcome(False, self._not_pending(request, now) or closed_message(request), request)
        self.notifier.refresh_card(request_id)
        if outcome.became_approved:
            log.info("request approved", extra={"request_id": request_id, "user_id": user_id})
            self._submit(request_id)
            return Outcome(True, "", request)
        left = request.approvals_needed - len(outcome.approvals)
        return Outcome(
            True,
            f"Your approval of `{escape(request_id)}` is counted ({len(outcome.approvals)} of "
            f"{request.approvals_needed}); it needs {left} more from another approver.",
            request,
        )

    def may_reject(self, request_id: str, user_id: str) -> Outcome:
        """Whether the user may reject now (checked before the reason modal opens); changes nothing."""
        found = self._pending(request_id, self.clock())
        if isinstance(found, Outcome):
            return found
        decision = self.policy.may_reject(found, user_id)
        return Outcome(bool(decision), "" if decision else decision.reason, found)

    def reject(self, request_id: str, user_id: str, note: str | None = None) -> Outcome:
        """Reject a pending request with an optional reason."""
        return self._decide(request_id, user_id, to=S.REJECTED, action="rejected", note=note)

    def cancel(self, request_id: str, user_id: str) -> Outcome:
        """Withdraw a pending request (its requester only)."""
        return self._decide(request_id, user_id, to=S.CANCELLED, action="cancelled", note=None)

    def _decide(
        self, request_id: str, user_id: str, *, to: RequestStatus, action: str, note: str | None
    ) -> Outcome:
        now = self.clock()
        found = self._pending(request_id, now)
        if isinstance(found, Outcome):
            return found
        decision = (
            self.policy.may_cancel(found, user_id)
            if to is S.CANCELLED
            else self.policy.may_reject(found, user_id)
        )
        if not decision:
            return Outcome(False, decision.reason, found)
        note = (note or "").strip() or None
        updated = self.store.transition(
            request_id,
            from_statuses={S.PENDING},
            to=to,
            actor=user_id,
            action=action,
            detail={"note": note} if note else None,
            now=now,
            decided_by=user_id,
            decided_at=now,
            decision_note=note,
        )
        if updated is None:
            current = self.store.get_request(request_id) or found
            return Outcome(False, closed_message(current), current)
        log.info("request %s", action, extra={"request_id": request_id, "user_id": user_id})
        self.notifier.refresh_card(request_id)
        return Outcome(True, "", updated)

    def expire_due(self) -> list[DeployRequest]:
        """Expire every pending request past its deadline and refresh their cards."""
        expired = self.store.expire_due(self.clock())
        for request in expired:
            self.notifier.refresh_card(request.id)
        return expired

    # -- preview ---------------------------------------------------------------------------------------

    def preview(self, request_id: str, user_id: str) -> Preview:
        """The masked `live/create` body approval would send, for approvers and the requester.

        Never reads a credential value.
        """
        request = self.store.get_request(request_id)
        if request is None:
            raise BotError(f"Request `{echo(request_id)}` does not exist.")
        decision = self.policy.may_read_request(request, user_id, what="the preview")
        if not decision:
            raise BotError(decision.reason)
        return preview(request, self.profiles)
