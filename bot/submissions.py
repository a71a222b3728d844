"""A submitted deploy modal on its way to a stored request: within Slack's 3 s when it can, after it if not.

Slack waits 3 s for the answer to a view submission. The checks (the project and node on QuantConnect, the
credential profile in the secret store, whether the person may request at all, which can mean Slack
user-group look-ups with Slack's own retries) and the insert run on a submission thread; the listener waits
for them at most SUBMIT_BUDGET_SECONDS:

- done in time: field errors go back next to their fields (the form stays filled in), or the modal closes
  and the request is announced;
- not done in time: the modal closes at once and the submission carries on after the ack. Its outcome
  reaches the person as a message: the request card and its confirmation, or why nothing was stored.

A request is either stored and announced or the person is told why not: the insert is one transaction, and
exactly one side (the listener before its ack, or the submission thread after it) reports the outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.blocks.modal import node_label
from bot.echo import echo
from bot.errors import BotError, user_facing_message
from bot.ids import Block
from bot.lookups import Deadline, LookupsBusy, WorkerPool
from bot.projects import ProjectNotFound
from bot.quantconnect.errors import QuantConnectError
from bot.requests import RequestRejected

if TYPE_CHECKING:
    from bot.modal_state import FormDraft
    from bot.quantconnect.models import Project
    from bot.services import Services
    from bot.store import DeployRequest

log = logging.getLogger("bot.submissions")

# Slack allows 3 s for the answer; what is left covers Bolt writing it and the network.
SUBMIT_BUDGET_SECONDS = 2.5
SUBMISSION_THREADS = 4
MAX_QUEUED_SUBMISSIONS = 16
# After the ack nobody waits on Slack's clock, but a check that never ends must still end the submission.
AFTER_ACK_LIMIT_SECONDS = 180.0
# How long the outcome waits for the "still checking" note, so the person reads them in order.
NOTE_ORDER_SECONDS = 15.0


@dataclass(frozen=True)
class Refused:
    """Nothing was stored: problems keyed by the modal block they belong to."""

    errors: dict[str, str]


@dataclass(frozen=True)
class Stored:
    """The request is in the store; `new` when this submission created it (not a repeated delivery)."""

    request: DeployRequest
    new: bool


@dataclass(frozen=True)
class Crashed:
    """A bug, not a refusal: the error handler's words for it."""

    error: Exception


Outcome = Refused | Stored | Crashed


@dataclass
class Submission:
    """One submission in flight; the listener waits for it, or leaves it to report by message."""

    user_id: str
    reply_channel: str
    project_label: str
    _done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _outcome: Outcome | None = None
    _detached: bool = False
    note_sent: threading.Event = field(default_factory=threading.Event)

    def wait(self, seconds: float) -> Outcome | None:
        """The outcome if it is known within `seconds`, else None."""
        self._done.wait(seconds)
        with self._lock:
            return self._outcome

    def detach(self) -> Outcome | None:
        """Leave the outcome to the submission thread (it tells the person); the outcome if already known."""
        with self._lock:
            if self._outcome is not None:
                return self._outcome
            self._detached = True
            return None

    def finish(self, outcome: Outcome) -> bool:
        """Record the outcome; True when nobody waits for it any more, so the caller must report it."""
        with self._lock:
            self._outcome = outcome
            detached = self._detached
        self._done.set()
        return detached


def check_project(
    services: Services, draft: FormDraft, deadline: Deadline
) -> tuple[Project | None, dict[str, str]]:
    """Find the project and, when a node was chosen, check that node is one of its free live nodes."""
    catalog = services.projects
    errors: dict[str, str] = {}
    if draft.project.project_id is not None:
        project = catalog.get(draft.project.project_id, timeout=deadline.remaining())
        if project is None:
            return None, {
                Block.PROJECT: f"Project {draft.project.project_id} no longer exists on QuantConnect."
            }
    else:
        try:
            project = catalog.find(draft.project.query, timeout=deadline.remaining())
        except ProjectNotFound as exc:
            return None, {Block.PROJECT: exc.user_message}
    if draft.node_id is not None:
        try:
            nodes = catalog.nodes(project.project_id, max_age_seconds=0, timeout=deadline.remaining())
        except QuantConnectError as exc:
            return project, {Block.NODE: f"Could not check the node: {exc.user_message}"}
        node = next((n for n in nodes if n.id == draft.node_id), None)
        if node is None:
            errors[Block.NODE] = (
                f"Node {draft.node_id} is not a live node of project {project.name}. "
                "Choose another node or Auto."
            )
        elif node.busy:
            errors[Block.NODE] = f"{node_label(node)}. Choose a free node or Auto."
    return project, errors


def _project_problem(exc: BotError) -> str:
    if isinstance(exc, QuantConnectError):
        return exc.user_message
    return f"Could not look up the project: {exc.user_message} Submit again in a moment."


class DeploySubmissions:
    """Runs deploy-form submissions on a few threads of their own and reports each outcome once."""

    def __init__(self, services: Services, pool: WorkerPool | None = None) -> None:
        self.services = services
        self.pool = pool or WorkerPool(
            "submission", workers=SUBMISSION_THREADS, max_pending=MAX_QUEUED_SUBMISSIONS
        )

    def start(self, draft: FormDraft, *, user_id: str, view_id: str, reply_channel: str) -> Submission:
        """Begin checking and storing a submission; LookupsBusy when too many are already under way."""
        submission = Submission(
            user_id=user_id,
            reply_channel=reply_channel or self.services.settings.deploy_channel_id,
            project_label=draft.project.label,
        )
        self.pool.submit(lambda: self._run(submission, draft, view_id))
        return submission

    # ---- after the ack ---------------------------------------------------------------------------

    def note_still_checking(self, submission: Submission) -> None:
        """Tell the person the form closed before the checks ended, and that the outcome will follow."""
        try:
            self.services.notifier.ephemeral(
                submission.reply_channel,
                submission.user_id,
                f"Checking your deploy request for *{_label(submission)}* takes longer than Slack lets a "
                "form wait, so I closed the form. I will tell you here when it is posted, or why not.",
            )
        finally:
            submission.note_sent.set()

    def accepted(self, request: DeployRequest, reply_channel: str, *, new: bool) -> None:
        """A stored request goes to the deploy channel (a repeated delivery's card is already there)."""
        if new:
            self.services.requests.announce_later(request, reply_channel=reply_channel or None)

    # ---- the submission thread -------------------------------------------------------------------

    def _run(self, submission: Submission, draft: FormDraft, view_id: str) -> None:
        try:
            outcome: Outcome = self._check_and_store(submission, draft, view_id)
        except Exception as exc:  # a bug: reported like the error handler would, never lost
            outcome = Crashed(exc)
        if submission.finish(outcome):
            self._report_after_ack(submission, outcome)

    def _check_and_store(self, submission: Submission, draft: FormDraft, view_id: str) -> Outcome:
        requests = self.services.requests
        deadline = Deadline.after(AFTER_ACK_LIMIT_SECONDS)
        # The secret-store and Slack checks run beside the QuantConnect one; each is a single call chain
        # that never waits on another look-up, as the look-up pool requires.
        profile = self._beside(lambda: requests.check_profile(draft.profile, draft.model.key))
        requester = self._beside(lambda: requests.check_requester(submission.user_id))
        errors: dict[str, str] = {}
        project: Project | None = None
        try:
            project, errors = check_project(self.services, draft, deadline)
        except BotError as exc:
            errors[Block.PROJECT] = _project_problem(exc)
        for check, what in ((profile, "the secret store"), (requester, "Slack")):
            try:
                errors.update(check.result(timeout=deadline.remaining()))
            except TimeoutError:
                errors[Block.REASON] = f"{what} did not answer in time; nothing was stored. Submit again."
        if "requester" in errors:
            # Someone who may not request needs no advice on the form's fields.
            return Refused({"requester": errors["requester"]})
        if errors or project is None:
            return Refused(errors or {Block.PROJECT: "Choose a project."})
        form = draft.to_form(project.project_id, project.name)
        try:
            request = requests.store_request(form, requester_id=submission.user_id, dedupe_key=view_id)
        except RequestRejected as exc:
            return Refused({exc.field: exc.user_message})
        except BotError as exc:
            return Refused({Block.REASON: exc.user_message})
        # A repeated delivery of the same view finds the first request, whose card is (being) posted.
        return Stored(request, new=request.message_ts is None)

    def _beside(self, check: Callable[[], dict[str, str]]) -> Future[dict[str, str]]:
        try:
            return self.services.lookups.submit(check)
        except LookupsBusy:
            # The look-up pool is full: this thread runs the check itself rather than refusing.
            done: Future[dict[str, str]] = Future()
            try:
                done.set_result(check())
            except Exception as exc:
                done.set_exception(exc)
            return done

    def _report_after_ack(self, submission: Submission, outcome: Outcome) -> None:
        """Tell the person what became of a submission whose form already closed."""
        submission.note_sent.wait(NOTE_ORDER_SECONDS)
        if isinstance(outcome, Stored):
            self.accepted(outcome.request, submission.reply_channel, new=outcome.new)
            return
        if isinstance(outcome, Refused):
            problems = " ".join(_worded(block_id, message) for block_id, message in outcome.errors.items())
            text = (
                f"Your deploy request for *{_label(submission)}* was not stored: {problems} "
                "Run `/qc deploy` again to fix it."
            )
            log.info("deploy submission refused after the ack: fields %s", sorted(outcome.errors))
        else:
            text = user_facing_message(outcome.error)
        self.services.notifier.ephemeral(submission.reply_channel, submission.user_id, text)


def _label(submission: Submission) -> str:
    return echo(submission.project_label, limit=80)


_FIELD_NAMES = {
    Block.PROJECT.value: "Project",
    Block.NODE.value: "Node",
    Block.PROFILE.value: "Credential profile",
    Block.REASON.value: "Reason",
    "requester": "You",
    "brokerage": "Brokerage",
}


def _worded(block_id: str, message: Any) -> str:
    name = _FIELD_NAMES.get(str(block_id), str(block_id))
    return f"{name}: {message}"
