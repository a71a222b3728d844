"""One approved request's way to QuantConnect: compile, choose a node, build the body, send live/create.

Every move is a compare-and-set fenced by this replica's claim on the request (bot/deployer.py claims it), so
work taken over from a replica that died is never acted on twice. Each stage fails only from the status it
holds (a compile failure from `compiling`, a refusal of live/create from `deploying`).

`live/create` is sent at most once per request: the request moves to `deploying` (recording when, and which
deployment QuantConnect showed just before) before the call. From then on only QuantConnect's word ends it:
`live` when QuantConnect shows the deployment, `failed` on a refusal (`success: false`) or when QuantConnect
still shows nothing after the settle window (the create timeout plus SETTLE_SECONDS). Until then the request
settles (bot/settling.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.blocks.common import escape
from bot.brokerages.classification import classify_body
from bot.brokerages.errors import FieldErrors
from bot.errors import BotError
from bot.ids import NODE_AUTO
from bot.live_create import Credentials, live_create_request
from bot.notices import CardNotifier, card_notice, error_notices, thread_notice
from bot.quantconnect.errors import (
    AuthenticationError,
    BuildFailed,
    NotSent,
    QuantConnectError,
    RequestRefused,
)
from bot.secrets.notification_presets import NotificationPresets
from bot.statuses import IN_QUEUE, LIVE_TERMINAL, RequestStatus
from bot.store.models import DeployRequest, Notice

if TYPE_CHECKING:
    from bot.authorizing import Authorizer
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.models import Node
    from bot.secrets.profiles import CredentialProfiles
    from bot.store import Store

log = logging.getLogger("bot.deployer")

S = RequestStatus
ACTOR = "bot"
# Settle checks: the first soon after live/create, then less often, at most every minute.
FIRST_CHECK_SECONDS = 2.0
MAX_CHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Failure:
    """Why a deployment failed: a title for the thread and the full reasons, all free of secrets."""

    title: str
    errors: list[str]


class DeployAborted(BotError):
    """A deployment step failed; carries the readable reasons."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.errors[0] if failure.errors else failure.title)
        self.failure = failure


class HandedBack(Exception):
    """The process is stopping: the request goes back to the store for another replica to carry on."""


def next_check_delay(waited: timedelta) -> float:
    """Seconds until the next settle check: soon at first, then half the time waited, at most a minute."""
    return min(MAX_CHECK_SECONDS, max(FIRST_CHECK_SECONDS, waited.total_seconds() / 2))


def qc_failure(title: str, exc: QuantConnectError) -> Failure:
    """QuantConnect's own error list when it gave one, else the client's plain-language message."""
    if isinstance(exc, RequestRefused) and exc.errors:
        return Failure(f"{title}: QuantConnect refused {exc.endpoint or 'the request'}", list(exc.errors))
    return Failure(title, [str(exc)])


class DeployStages:
    """The stages of one request, run on the caller's thread; `closing` set means hand the request back."""

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        profiles: CredentialProfiles,
        notifier: CardNotifier,
        settings: Settings,
        clock: Callable[[], datetime],
        closing: threading.Event,
        *,
        compile_first_delay: float = 1.0,
        compile_max_delay: float = 10.0,
    ) -> None:
        self.store = store
        self.qc = qc
        self.profiles = profiles
        self.notifier = notifier
        self.settings = settings
        self.clock = clock
        self.closing = closing
        self.compile_first_delay = compile_first_delay
        self.compile_max_delay = compile_max_delay
        self.settle_window = timedelta(seconds=settings.settle_window_seconds)
        # The `authorizing` stage (bot/authorizing.py), set by the deployer; None means no OAuth step.
        self.authorizer: Authorizer | None = None

    # -- the way to live/create ------------------------------------------------------------------------

    def run(self, request: DeployRequest) -> DeployRequest | None:
        """Carry a claimed request from approved, authorizing or compiling through live/create."""
        if request.status in (S.APPROVED, S.AUTHORIZING) and self.authorizer is not None:
            advanced = self.authorizer.advance(request)
            if advanced is None:
                return self.store.get_request(request.id)  # waiting for the authorization, or ended
            request = advanced
        if request.status is S.APPROVED:
            moved = self.move(request, S.APPROVED, S.COMPILING, "compile_started")
            if moved is None:
                return self.store.get_request(request.id)
            request = moved
        stage = "compile"
        try:
            compile_id = self.compile(request)
            stage = "node"
            node = self.choose_node(request)
            stage = "credentials"
            body = self.body(request, compile_id, node)
            stage = "deploy"
            return self.create(request, compile_id, node, body)
        except DeployAborted as exc:
            return self.fail(request.id, S.COMPILING, exc.failure, stage)

    def compile(self, request: DeployRequest) -> str:
        """Compile the project and wait for the build; the compile id."""
        self.notifier.thread(request.id, f"🔨 Compiling *{escape(request.project_name)}*…")
        try:
            started = self.qc.create_compile(request.project_id)
            done = self.qc.wait_for_compile(
                request.project_id,
                started.compile_id,
                timeout=self.settings.compile_timeout_seconds,
                first_delay=self.compile_first_delay,
                max_delay=self.compile_max_delay,
                on_poll=self._stop_if_closing,
            )
        except BuildFailed as exc:
            raise DeployAborted(
                Failure(
                    f"Build failed for {request.project_name}; nothing was deployed. Build log:",
                    [str(exc), *exc.logs],
                )
            ) from None
        except QuantConnectError as exc:
            raise DeployAborted(qc_failure(f"Could not compile {request.project_name}", exc)) from None
        self.event("build_succeeded", request, {"compile_id": done.compile_id})
        self.notifier.thread(request.id, f"✅ Build succeeded (compile `{escape(done.compile_id)}`).")
        return done.compile_id

    def _stop_if_closing(self, _state: str) -> None:
        if self.closing.is_set():
            raise HandedBack

    def choose_node(self, request: DeployRequest) -> Node:
        """The node the request asked for, or the first free one."""
        wanted = request.node_id if request.node_id and request.node_id != NODE_AUTO else None
        try:
            node = self.qc.choose_node(request.project_id, wanted)
        except QuantConnectError as exc:
            raise DeployAborted(qc_failure(f"No live node for {request.project_name}", exc)) from None
        self.event("node_chosen", request, {"node_id": node.id, "node_name": node.name})
        return node

    def body(self, request: DeployRequest, compile_id: str, node: Node) -> dict[str, Any]:
        """Resolve the credentials now (never earlier, never stored) and build the live/create body."""
        title = f"Could not prepare the deployment of {request.project_name}"
        try:
            credentials: Credentials = (
                self.authorizer.credentials(request)
                if self.authorizer is not None
                else lambda model: self.profiles.resolve(request.profile, model)
            )
            body = live_create_request(
                request,
                credentials,
                compile_id=compile_id,
                node_id=node.id,
                # Header values and bot tokens are read now, like the credentials, and never stored.
                targets=NotificationPresets(self.profiles.store).resolve,
            ).to_body()
        except DeployAborted:
            raise
        except FieldErrors as exc:
            errors = [f"{field}: {message}" for field, message in exc.errors.items()]
            raise DeployAborted(
                Failure(f"{title}: the stored settings or profile `{request.profile}` are not valid", errors)
            ) from None
        except BotError as exc:
            raise DeployAborted(Failure(title, [str(exc)])) from None
        if request.is_paper:
            # Approved as paper (perhaps with no approval at all): the body that goes out must be paper too.
            verdict = classify_body(body)
            if not verdict.is_paper:
                raise DeployAborted(
                    Failure(
                        f"{title}: it was approved as paper trading, but the body would trade real money",
                        [
                            f"{verdict.reason}. Nothing was sent; request it again to have it approved "
                            "as real money."
                        ],
                    )
                )
        return body

    def create(
        self, request: DeployRequest, compile_id: str, node: Node, body: dict[str, Any]
    ) -> DeployRequest | None:
        """Record `deploying`, then send live/create once; its answer decides, or settling does."""
        try:
            before = self.qc.read_live(request.project_id)
        except QuantConnectError as exc:
            raise DeployAborted(qc_failure(f"Could not deploy {request.project_name}", exc)) from None
        if self.closing.is_set():
            raise HandedBack  # never start a live/create while stopping: another replica will
        previous = before.deploy_id if before.exists else None
        now = self.clock()
        # Recorded before live/create (fenced by our claim): from here on a crash is settled through
        # live/read, never by sending again.
        moved = self.store.transition(
            request.id,
            from_statuses={S.COMPILING},
            to=S.DEPLOYING,
            actor=ACTOR,
            action="deploying",
            detail={"node_id": node.id, "node_name": node.name, "previous_deploy_id": previous},
            now=now,
            owned=True,
            notices=[card_notice(), thread_notice(f"🚀 Deploying to node *{escape(node.label)}*…")],
            compile_id=compile_id,
            node_used=node.label,
            deploying_since=now,
            previous_deploy_id=previous,
            settle_deadline=now + self.settle_window,
        )
        if moved is None:
            log.info(
                "request left compiling or our claim meanwhile; not deploying",
                extra={"request_id": request.id},
            )
            return self.store.get_request(request.id)
        try:
            result = self.qc.create_live(body)
        except (RequestRefused, AuthenticationError, NotSent) as exc:
            # QuantConnect's word (or certainty that nothing left this machine): nothing was deployed.
            return self.fail(
                request.id,
                S.DEPLOYING,
                qc_failure(f"QuantConnect did not deploy {request.project_name}", exc),
                "deploy",
            )
        except QuantConnectError as exc:
            reason = getattr(exc, "reason", "") or type(exc).__name__
            return self._await_confirmation(moved, reason)
        return self.record_live(
            moved,
            result.deploy_id,
            result.status or IN_QUEUE,
            action="deployed",
            text=f"📡 QuantConnect accepted deployment `{escape(result.deploy_id)}` "
            f"(status {escape(result.status or IN_QUEUE)}). I will post every status change here.",
        )

    def _await_confirmation(self, request: DeployRequest, reason: str) -> DeployRequest | None:
        """live/create got no clear answer: keep the request deploying and ask QuantConnect until it knows."""
        now = self.clock()
        note = f"live/create got no clear answer ({reason}); waiting for QuantConnect to confirm"
        deadline = request.settle_deadline or now + self.settle_window
        self.store.schedule_check(
            request.id,
            S.DEPLOYING,
            now + timedelta(seconds=FIRST_CHECK_SECONDS),
            note,
            now=now,
            notices=[
                card_notice(),
                thread_notice(
                    f"⏳ QuantConnect did not confirm live/create ({escape(reason)}). It was sent once and "
                    "will not be sent again. I keep asking QuantConnect until it shows the deployment, or "
                    f"until {deadline:%H:%M} UTC; the project stays locked meanwhile."
                ),
            ],
        )
        return self.store.get_request(request.id)

    # -- recording outcomes ----------------------------------------------------------------------------

    def record_live(
        self,
        request: DeployRequest,
        deploy_id: str,
        status: str,
        *,
        action: str,
        text: str,
        from_status: RequestStatus = S.DEPLOYING,
    ) -> DeployRequest | None:
        """QuantConnect shows the deployment: record it to watch, then mark the request live (once)."""
        now = self.clock()
        # The deployment row first: a request marked live without one would never be watched. A deployment
        # that has already ended is recorded as queued, so the watcher reports its end like any other.
        initial = status if status not in LIVE_TERMINAL else IN_QUEUE
        self.store.start_deployment(request.id, request.project_id, deploy_id, initial, now=now)
        live = self.store.transition(
            request.id,
            from_statuses={from_status},
            to=S.LIVE,
            actor=ACTOR,
            action=action,
            detail={"deploy_id": deploy_id, "live_status": status},
            now=now,
            notices=[card_notice(), thread_notice(text)],
            deploy_id=deploy_id,
        )
        if live is not None and from_status is S.FAILED:
            # A healed request's deployment row may still carry the status that failed it: watch it again now.
            self.store.record_status(request.id, initial, None, now=now)
            self.store.schedule_poll(request.id, now)
        return live or self.store.get_request(request.id)

    def fail(
        self,
        request_id: str,
        source: RequestStatus,
        failure: Failure,
        stage: str,
        *,
        owned: bool | None = None,
    ) -> DeployRequest | None:
        """Fail the request from exactly `source`; fenced by our claim except for QuantConnect's refusals."""
        errors = failure.errors or [failure.title]
        notices: list[Notice] = [card_notice(), *error_notices(failure.title, errors)]
        failed = self.store.transition(
            request_id,
            from_statuses={source},
            to=S.FAILED,
            actor=ACTOR,
            action="deploy_failed",
            detail={"stage": stage, "reason": errors[0][:500]},
            now=self.clock(),
            owned=source is not S.DEPLOYING if owned is None else owned,
            notices=notices,
            errors=errors,
        )
        if failed is None:
            log.info("failure not recorded: request already moved on", extra={"request_id": request_id})
            return self.store.get_request(request_id)
        log.info("deployment failed", extra={"request_id": request_id, "stage": stage})
        return failed

    def move(
        self, request: DeployRequest, source: RequestStatus, target: RequestStatus, action: str
    ) -> DeployRequest | None:
        """An owned move from `source` to `target`, with a card refresh."""
        return self.store.transition(
            request.id,
            from_statuses={source},
            to=target,
            actor=ACTOR,
            action=action,
            now=self.clock(),
            owned=True,
            notices=[card_notice()],
        )

    def event(self, action: str, request: DeployRequest, detail: dict[str, Any]) -> None:
        """An audit event about the request, by the bot."""
        self.store.add_event(
            ACTOR,
            action,
            request_id=request.id,
            project_id=request.project_id,
            detail=detail,
            now=self.clock(),
        )
