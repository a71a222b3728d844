"""Stop and liquidate live algorithms and list what runs: the service behind the card buttons and commands.

A project is named by its request id, its QuantConnect project id or its name. Policy decides who may act;
every attempt is an audit event with the user; the watcher then reports Stopped / Liquidated on the card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.blocks.common import escape, mention
from bot.echo import echo
from bot.errors import BotError
from bot.live_report import LiveOpResult, LiveRow, LiveTarget, StatusReport
from bot.numbers import id_problem, is_ascii_digits, parse_id
from bot.quantconnect.errors import QuantConnectError, RequestRefused
from bot.quantconnect.models import LiveAlgorithm
from bot.request_ids import is_request_id
from bot.statuses import ACTIVE, RUNNING, RequestStatus
from bot.store.models import Deployment, DeployRequest

if TYPE_CHECKING:
    from bot.quantconnect.client import QuantConnectClient
    from bot.store import Store

log = logging.getLogger("bot.live_ops")

S = RequestStatus
# Longer than any project name QuantConnect allows; longer text is refused before any look-up.
MAX_NAME_LENGTH = 200


class _Decision(Protocol):
    allowed: bool
    reason: str


class LivePolicy(Protocol):
    """The part of bot.policy.Policy used here."""

    def may_stop(self, user_id: str) -> _Decision: ...

    def may_liquidate(self, user_id: str) -> _Decision: ...


class ThreadNotifier(Protocol):
    """The part of bot.notifier.Notifier used here."""

    def refresh_card(self, request_id: str) -> None: ...

    def thread(self, request_id: str, text: str) -> None: ...


class UnknownProject(BotError):
    """The text names no request, project id or project name the bot can find."""


class LiveOps:
    """Stop, liquidate and status of live algorithms, with policy checks and audit events."""

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        policy: LivePolicy,
        notifier: ThreadNotifier,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.qc = qc
        self.policy = policy
        self.notifier = notifier
        self.clock = clock

    # -- finding the project -------------------------------------------------------------------------

    def resolve(self, project_or_request: str) -> LiveTarget:
        """The project named by a request id, a project id or a project name; raises UnknownProject."""
        text = project_or_request.strip().strip("`'\"").strip()
        if not text:
            raise UnknownProject("Name a project: its name as QuantConnect shows it, or its id.")
        if len(text) > MAX_NAME_LENGTH:
            raise UnknownProject(
                f"That is too long for a project name or id: {len(text)} characters, at most "
                f"{MAX_NAME_LENGTH}."
            )
        request = self.store.get_request(text) if is_request_id(text) else None
        if request is not None:
            return LiveTarget(
                request.project_id, request.project_name, self._current_request(request.project_id)
            )
        project_id = parse_id(text)
        if project_id is not None:
            return self._by_id(project_id)
        if is_ascii_digits(text):
            raise UnknownProject(id_problem(text, "a project id"))
        return self._by_name(text)

    def _by_id(self, project_id: int) -> LiveTarget:
        current = self._current_request(project_id)
        if current is not None:
            return LiveTarget(project_id, current.project_name, current)
        known = self.store.list_requests(project_id=project_id, limit=1)
        if known:
            return LiveTarget(project_id, known[0].project_name, None)
        try:
            projects = self.qc.read_projects(project_id)
        except RequestRefused:
            projects = []
        if not projects:
            raise UnknownProject(f"QuantConnect has no project with id {project_id}.")
        return LiveTarget(project_id, projects[0].name, None)

    def _by_name(self, name: str) -> LiveTarget:
        wanted = name.casefold()
        for request in self.store.list_requests(limit=500):
            if request.project_name.casefold() == wanted:
                return LiveTarget(
                    request.project_id, request.project_name, self._current_request(request.project_id)
                )
        projects = self.qc.read_projects()
        exact = [p for p in projects if p.name.casefold() == wanted]
        matches = exact or [p for p in projects if wanted in p.name.casefold()]
        if len(matches) == 1:
            project = matches[0]
            return LiveTarget(project.project_id, project.name, self._current_request(project.project_id))
        if not matches:
            raise UnknownProject(
                f"I can't find a project called '{echo(name)}'. Use its name as QuantConnect shows it, "
                "or its id."
            )
        listed = ", ".join(f"{p.name} ({p.project_id})" for p in matches[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise UnknownProject(f"'{echo(name)}' matches several projects: {listed}{more}. Use the project id.")

    def _current_request(self, project_id: int) -> DeployRequest | None:
        """The bot's request that runs (or is about to run) the project, else its latest live-ish one."""
        holder = self.store.open_request_for_project(project_id)
        if holder is not None and holder.status in ACTIVE:
            return holder
        ran = self.store.list_requests(statuses={S.LIVE, S.ENDED, S.FAILED}, project_id=project_id, limit=5)
        return next((r for r in ran if r.deploy_id), None)

    # -- acting --------------------------------------------------------------------------------------

    def may_stop(self, user_id: str) -> _Decision:
        """Whether the user may stop live algorithms."""
        return self.policy.may_stop(user_id)

    def may_liquidate(self, user_id: str) -> _Decision:
        """Whether the user may liquidate live algorithms."""
        return self.policy.may_liquidate(user_id)

    def check(self, action: str, project_or_request: str, user_id: str) -> LiveOpResult:
        """Whether `action` (stop or liquidate) could go ahead now: allowed, project found, something runs."""
        decision = self.may_stop(user_id) if action == "stop" else self.may_liquidate(user_id)
        if not decision.allowed:
            return LiveOpResult(False, decision.reason)
        try:
            target = self.resolve(project_or_request)
            live = self.qc.read_live(target.project_id)
        except BotError as exc:
            # Error messages are plain text; LiveOpResult messages are mrkdwn.
            return LiveOpResult(False, escape(str(exc)))
        label, status = escape(target.label), escape(live.status)
        if not live.exists or live.is_terminal:
            return LiveOpResult(False, f"Nothing runs on {label} (QuantConnect says {status}).", target)
        return LiveOpResult(True, f"{label} is {status}.", target)

    def stop(self, project_or_request: str, user_id: str) -> LiveOpResult:
        """Stop the project's live algorithm (positions stay open)."""
        return self._act("stop", project_or_request, user_id)

    def liquidate(self, project_or_request: str, user_id: str) -> LiveOpResult:
        """Liquidate every position of the project's live algorithm, then stop it."""
        return self._act("liquidate", project_or_request, user_id)

    def _act(self, action: str, project_or_request: str, user_id: str) -> LiveOpResult:
        decision = self.may_stop(user_id) if action == "stop" else self.may_liquidate(user_id)
        if not decision.allowed:
            self.store.add_event(
                user_id, f"{action}_refused", detail={"target": project_or_request[:200]}, now=self.clock()
            )
            return LiveOpResult(False, decision.reason)
        try:
            target = self.resolve(project_or_request)
        except BotError as exc:
            return LiveOpResult(False, escape(str(exc)))
        label = escape(target.label)
        # Only a request whose algorithm runs gets the thread reply; an older card is not about this run.
        request = target.request if target.request is not None and target.request.status is S.LIVE else None
        request_id = request.id if request is not None else None
        try:
            if action == "stop":
                self.qc.stop_live(target.project_id)
            else:
                self.qc.liquidate_live(target.project_id)
        except QuantConnectError as exc:
            self.store.add_event(
                user_id,
                f"{action}_failed",
                request_id=request_id,
                project_id=target.project_id,
                detail={"error": str(exc)[:500]},
                now=self.clock(),
            )
            verb = "stop" if action == "stop" else "liquidate"
            return LiveOpResult(False, f"QuantConnect did not {verb} {label}: {escape(str(exc))}", target)
        now = self.clock()
        self.store.add_event(
            user_id,
            action,
            request_id=request_id,
            project_id=target.project_id,
            detail={"project_name": target.project_name},
            now=now,
        )
        log.info(
            action, extra={"user_id": user_id, "project_id": target.project_id, "request_id": request_id}
        )
        if action == "stop":
            done = f"⏹️ {mention(user_id)} stopped the algorithm (open positions stay open)."
            reply = f"Stopping {label}. Open positions stay open; the card will show Stopped shortly."
        else:
            done = f"⏹️ {mention(user_id)} liquidated every position and stopped the algorithm."
            reply = f"Liquidating {label} and stopping it; the card will show Liquidated shortly."
        if request is not None:
            self.notifier.thread(request.id, done)
            self._poll_soon(request.id, now)
        return LiveOpResult(True, reply, target)

    def _poll_soon(self, request_id: str, now: datetime) -> None:
        """Ask the watcher to look now, so the card shows the outcome quickly."""
        deployment = self.store.get_deployment(request_id)
        if deployment is not None and deployment.is_active:
            self.store.schedule_poll(request_id, now)

    # -- status --------------------------------------------------------------------------------------

    def status(self, project: str | None = None) -> StatusReport:
        """What runs now (or the latest state of one project), from live/list, live/read and the store."""
        if project is not None and project.strip():
            return self._project_status(project)
        problems: list[str] = []
        running: list[LiveAlgorithm] = []
        try:
            running = self.qc.list_live(status=RUNNING)
        except QuantConnectError as exc:
            problems.append(f"QuantConnect could not be asked what runs: {exc}")
        rows: dict[int, LiveRow] = {}
        names = self._project_names([a.project_id for a in running if a.project_id is not None])
        for algorithm in running:
            if algorithm.project_id is None:
                continue
            request = self._current_request(algorithm.project_id)
            rows[algorithm.project_id] = _row(algorithm.project_id, names, algorithm, request)
        # The bot's own in-flight requests and watched deployments, even when live/list does not show them.
        for request in self.store.list_requests(statuses=ACTIVE, limit=200):
            if request.project_id in rows:
                continue
            deployment = self.store.get_deployment(request.id)
            rows[request.project_id] = _row_from_store(request, deployment)
        ordered = sorted(rows.values(), key=lambda row: row.project_name.casefold())
        return StatusReport(ordered, problems)

    def _project_status(self, project: str) -> StatusReport:
        target = self.resolve(project)
        request = target.request
        problems: list[str] = []
        try:
            live = self.qc.read_live(target.project_id)
        except QuantConnectError as exc:
            problems.append(f"QuantConnect could not be asked about {target.label}: {exc}")
            deployment = self.store.get_deployment(request.id) if request is not None else None
            rows = [_row_from_store(request, deployment)] if request is not None else []
            return StatusReport(rows, problems, target)
        if not live.exists and request is not None and request.status is not S.LIVE:
            return StatusReport([_row_from_store(request, self.store.get_deployment(request.id))], [], target)
        names = {target.project_id: target.project_name}
        return StatusReport([_row(target.project_id, names, live, request)], problems, target)

    def _project_names(self, project_ids: Sequence[int]) -> dict[int, str]:
        """Names for project ids: from the bot's requests, else one projects/read of the account."""
        names: dict[int, str] = {}
        for project_id in set(project_ids):
            known = self.store.list_requests(project_id=project_id, limit=1)
            if known:
                names[project_id] = known[0].project_name
        if set(project_ids) - set(names):
            try:
                names.update(
                    {p.project_id: p.name for p in self.qc.read_projects() if p.project_id not in names}
                )
            except QuantConnectError as exc:
                log.info("project names unavailable", extra={"error": type(exc).__name__})
        return names


def _row(
    project_id: int, names: dict[int, str], live: LiveAlgorithm, request: DeployRequest | None
) -> LiveRow:
    """A status row from QuantConnect's view, plus the bot's request when it is the same deployment."""
    ours = request is not None and (request.deploy_id is None or request.deploy_id == live.deploy_id)
    return LiveRow(
        project_id=project_id,
        project_name=names.get(project_id) or live.project_name or f"project {project_id}",
        status=live.status,
        brokerage=live.brokerage or (request.brokerage_id if ours and request else None),
        since=live.launched,
        requester_id=request.requester_id if ours and request else None,
        request_id=request.id if ours and request else None,
        deploy_id=live.deploy_id,
        is_paper=request.is_paper if ours and request else None,
    )


def _row_from_store(request: DeployRequest, deployment: Deployment | None) -> LiveRow:
    """A status row from the store alone (in flight, or QuantConnect unreachable)."""
    status = deployment.status if deployment is not None else f"request {request.status.value}"
    since = (deployment.launched or deployment.created_at) if deployment is not None else request.updated_at
    return LiveRow(
        project_id=request.project_id,
        project_name=request.project_name,
        status=status,
        brokerage=request.brokerage_id,
        since=since,
        requester_id=request.requester_id,
        request_id=request.id,
        deploy_id=request.deploy_id,
        is_paper=request.is_paper,
    )
