"""Approved request -> compile -> node -> credentials -> live/create -> recorded, on a bounded worker pool.

Every step is a compare-and-set in the store plus a card refresh and a short reply in the card's thread.
`live/create` is sent at most once per request: the request moves to `deploying` (with its compile id, node
and the deployment QuantConnect showed before) before the call, so a process that dies during the call settles
the request on its next start through live/read instead of deploying again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from bot.blocks.common import escape
from bot.brokerages import registry
from bot.brokerages.builder import build_live_create_request
from bot.brokerages.data_providers import (
    QUANTCONNECT_PROVIDER_ID,
    DataProviderConfig,
    DataProviderOption,
    find_option,
)
from bot.brokerages.errors import FieldErrors
from bot.errors import BotError
from bot.ids import NODE_AUTO
from bot.quantconnect.errors import BuildFailed, QuantConnectError, RequestRefused
from bot.store.models import DeployRequest, RequestStatus

if TYPE_CHECKING:
    from bot.brokerages.base import BrokerageSettings
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.models import Node
    from bot.secrets.profiles import CredentialProfiles
    from bot.store import Store

log = logging.getLogger("bot.deployer")

S = RequestStatus
ACTOR = "bot"
# The audit action of the compiling -> deploying move; recovery reads its detail and time.
DEPLOYING_ACTION = "deploying"
IN_FLIGHT = frozenset({S.APPROVED, S.COMPILING, S.DEPLOYING})


class CardNotifier(Protocol):
    """The part of bot.notifier.Notifier the deployer and watcher use; it never raises."""

    def refresh_card(self, request_id: str) -> None: ...

    def thread(self, request_id: str, text: str) -> None: ...

    def post_error_list(self, request_id: str, title: str, errors: Sequence[str]) -> None: ...


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


class Deployer:
    """Runs approved requests to a live deployment on its own worker threads, never Bolt's."""

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        profiles: CredentialProfiles,
        notifier: CardNotifier,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        max_workers: int,
        compile_first_delay: float = 1.0,
        compile_max_delay: float = 10.0,
        recovery_delays: Sequence[float] = (2.0, 5.0, 15.0, 30.0, 60.0),
    ) -> None:
        self.store = store
        self.qc = qc
        self.profiles = profiles
        self.notifier = notifier
        self.settings = settings
        self.clock = clock
        self.compile_first_delay = compile_first_delay
        self.compile_max_delay = compile_max_delay
        self.recovery_delays = tuple(recovery_delays) or (1.0,)
        self._executor = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="deployer")
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._closing = threading.Event()

    # -- public API ----------------------------------------------------------------------------------

    def submit(self, request_id: str) -> Future[None] | None:
        """Queue an approved request for deployment; None when it is already queued or the pool is closing."""
        return self._enqueue(request_id, self._deploy_safely)

    def recover(self) -> list[str]:
        """On start: re-queue approved/compiling requests, settle deploying ones; returns the ids handled."""
        handled: list[str] = []
        in_flight = self.store.list_requests(statuses=IN_FLIGHT, limit=1000)
        for request in sorted(in_flight, key=lambda r: r.created_at):
            if request.status is S.DEPLOYING:
                queued = self._enqueue(request.id, self._settle_safely)
            else:
                # Compiling again is harmless: only live/create must never repeat.
                queued = self._enqueue(request.id, self._deploy_safely)
            if queued is not None:
                handled.append(request.id)
                log.info(
                    "recovering request", extra={"request_id": request.id, "status": str(request.status)}
                )
        return handled

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with `wait`, let running deployments finish (queued ones resume next start)."""
        self._closing.set()
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def deploy(self, request_id: str) -> DeployRequest | None:
        """Run one request through every step in this thread (what the workers call); returns it."""
        request = self.store.get_request(request_id)
        if request is None:
            log.warning("deploy of unknown request", extra={"request_id": request_id})
            return None
        if request.status is S.APPROVED:
            request = self._move(request, S.APPROVED, S.COMPILING, "compile_started")
            if request is None:
                return self.store.get_request(request_id)
        elif request.status is not S.COMPILING:
            # Someone else (another worker or process) got further already, or it was cancelled.
            log.info("not deploying", extra={"request_id": request_id, "status": str(request.status)})
            return request
        stage = "compile"
        try:
            compile_id = self._compile(request)
            stage = "node"
            node = self._choose_node(request)
            stage = "credentials"
            body = self._build_body(request, compile_id, node)
            stage = "deploy"
            return self._create(request, compile_id, node, body)
        except DeployAborted as exc:
            return self._fail(request_id, exc.failure, stage)

    def settle(self, request_id: str) -> DeployRequest | None:
        """Settle a request a stopped process left `deploying`: live if QuantConnect shows it, else failed."""
        request = self.store.get_request(request_id)
        if request is None or request.status is not S.DEPLOYING:
            return request
        since, previous = self._deploying_mark(request)
        found = self.qc.find_deployment_since(request.project_id, since, previous)
        if found is None or found.deploy_id is None:
            return self._fail(
                request_id,
                Failure(
                    f"Deployment of {request.project_name} did not happen",
                    [
                        f"The bot stopped while deploying {request.project_name}, and QuantConnect shows no "
                        "deployment from this request: nothing was deployed. It is safe to request it again."
                    ],
                ),
                "recover",
            )
        self.notifier.thread(
            request_id,
            f"♻️ The bot restarted while deploying; QuantConnect shows deployment `{escape(found.deploy_id)}` "
            f"({escape(found.status)}) from this request, so it went through.",
        )
        return self._record_live(request, found.deploy_id, found.status, recovered=True)

    # -- steps ---------------------------------------------------------------------------------------

    def _compile(self, request: DeployRequest) -> str:
        self.notifier.refresh_card(request.id)
        self.notifier.thread(request.id, f"🔨 Compiling *{escape(request.project_name)}*…")
        try:
            started = self.qc.create_compile(request.project_id)
            done = self.qc.wait_for_compile(
                request.project_id,
                started.compile_id,
                timeout=self.settings.compile_timeout_seconds,
                first_delay=self.compile_first_delay,
                max_delay=self.compile_max_delay,
            )
        except BuildFailed as exc:
            raise DeployAborted(
                Failure(
                    f"Build failed for {request.project_name}; nothing was deployed. Build log:",
                    [str(exc), *exc.logs],
                )
            ) from None
        except QuantConnectError as exc:
            raise DeployAborted(_qc_failure(f"Could not compile {request.project_name}", exc)) from None
        self._event("build_succeeded", request, {"compile_id": done.compile_id})
        self.notifier.thread(request.id, f"✅ Build succeeded (compile `{escape(done.compile_id)}`).")
        return done.compile_id

    def _choose_node(self, request: DeployRequest) -> Node:
        wanted = request.node_id if request.node_id and request.node_id != NODE_AUTO else None
        try:
            node = self.qc.choose_node(request.project_id, wanted)
        except QuantConnectError as exc:
            raise DeployAborted(_qc_failure(f"No live node for {request.project_name}", exc)) from None
        self._event("node_chosen", request, {"node_id": node.id, "node_name": node.name})
        return node

    def _build_body(self, request: DeployRequest, compile_id: str, node: Node) -> dict[str, Any]:
        """Resolve the credentials now (never earlier, never stored) and build the live/create body."""
        title = f"Could not prepare the deployment of {request.project_name}"
        try:
            model = registry.get(request.model_key)
            credentials = self.profiles.resolve(request.profile, model)
            providers = self._provider_configs(request, model)
            live_request = build_live_create_request(
                model=model,
                settings=request.settings,
                credentials=credentials,
                holdings=request.holdings,  # type: ignore[arg-type]  # the builder validates the stored dicts
                cash=request.cash,  # type: ignore[arg-type]
                data_providers=providers,
                project_id=request.project_id,
                compile_id=compile_id,
                node_id=node.id,
                version_id=request.version_id,
                automatic_redeploy=request.automatic_redeploy,
            )
        except FieldErrors as exc:
            errors = [f"{field}: {message}" for field, message in exc.errors.items()]
            raise DeployAborted(
                Failure(f"{title}: the stored settings or profile `{request.profile}` are not valid", errors)
            ) from None
        except BotError as exc:
            raise DeployAborted(Failure(title, [str(exc)])) from None
        return live_request.to_body()

    def _provider_configs(
        self, request: DeployRequest, model: type[BrokerageSettings]
    ) -> list[DataProviderConfig]:
        """Data providers in precedence order, with credentials from the request's profile."""
        configs: list[DataProviderConfig] = []
        for entry in request.data_providers:
            if entry == QUANTCONNECT_PROVIDER_ID:
                configs.append(DataProviderConfig(QUANTCONNECT_PROVIDER_ID, None))
                continue
            # Entries are provider ids, or model keys where several models share one id (the Binance family).
            option = _provider_option(entry, model)
            if option is None or option.model_key is None:
                raise BotError(f"Data provider {entry} cannot be used with {model.display_name}.")
            if option.model_key == model.key:
                # The builder reuses the brokerage's own (already resolved) credentials.
                configs.append(DataProviderConfig(option.provider_id, option.model_key))
                continue
            provider_model = registry.get(option.model_key)
            credentials: dict[str, SecretStr] = self.profiles.resolve(request.profile, provider_model)
            configs.append(DataProviderConfig(option.provider_id, option.model_key, credentials))
        return configs

    def _create(
        self, request: DeployRequest, compile_id: str, node: Node, body: dict[str, Any]
    ) -> DeployRequest | None:
        try:
            before = self.qc.read_live(request.project_id)
        except QuantConnectError as exc:
            raise DeployAborted(_qc_failure(f"Could not deploy {request.project_name}", exc)) from None
        previous = before.deploy_id if before.exists else None
        # Recorded before live/create so that a crash from here on is settled through live/read, not a resend.
        moved = self.store.transition(
            request.id,
            from_statuses={S.COMPILING},
            to=S.DEPLOYING,
            actor=ACTOR,
            action=DEPLOYING_ACTION,
            detail={"node_id": node.id, "node_name": node.name, "previous_deploy_id": previous},
            now=self.clock(),
            compile_id=compile_id,
            node_used=node.label,
        )
        if moved is None:
            log.info("request left compiling meanwhile; not deploying", extra={"request_id": request.id})
            return self.store.get_request(request.id)
        self.notifier.refresh_card(request.id)
        self.notifier.thread(request.id, f"🚀 Deploying to node *{escape(node.label)}*…")
        try:
            result = self.qc.create_live(body)
        except QuantConnectError as exc:
            raise DeployAborted(
                _qc_failure(f"QuantConnect did not deploy {request.project_name}", exc)
            ) from None
        if result.recovered:
            self.notifier.thread(
                request.id,
                f"QuantConnect did not answer live/create clearly, but live/read shows deployment "
                f"`{escape(result.deploy_id)}` from this request: it went through (sent once, not resent).",
            )
        return self._record_live(
            moved, result.deploy_id, result.status or "InQueue", recovered=result.recovered
        )

    def _record_live(
        self, request: DeployRequest, deploy_id: str, status: str, *, recovered: bool
    ) -> DeployRequest | None:
        now = self.clock()
        # The deployment row first: a request marked live without one would never be watched.
        self.store.start_deployment(request.id, request.project_id, deploy_id, status, now=now)
        live = self.store.transition(
            request.id,
            from_statuses={S.DEPLOYING},
            to=S.LIVE,
            actor=ACTOR,
            action="deployed",
            detail={"deploy_id": deploy_id, "live_status": status, "recovered": recovered},
            now=now,
            deploy_id=deploy_id,
        )
        self.notifier.refresh_card(request.id)
        self.notifier.thread(
            request.id,
            f"📡 QuantConnect accepted deployment `{escape(deploy_id)}` (status {escape(status)}). "
            "I will post every status change here.",
        )
        return live or self.store.get_request(request.id)

    # -- failure, recovery, plumbing ------------------------------------------------------------------

    def _fail(self, request_id: str, failure: Failure, stage: str) -> DeployRequest | None:
        errors = failure.errors or [failure.title]
        failed = self.store.transition(
            request_id,
            from_statuses=IN_FLIGHT,
            to=S.FAILED,
            actor=ACTOR,
            action="deploy_failed",
            detail={"stage": stage, "reason": errors[0][:500]},
            now=self.clock(),
            errors=errors,
        )
        if failed is None:
            log.info("failure not recorded: request already moved on", extra={"request_id": request_id})
            return self.store.get_request(request_id)
        log.info("deployment failed", extra={"request_id": request_id, "stage": stage})
        self.notifier.refresh_card(request_id)
        self.notifier.post_error_list(request_id, failure.title, errors)
        return failed

    def _deploying_mark(self, request: DeployRequest) -> tuple[datetime, str | None]:
        """When the request went to deploying and which deployment QuantConnect showed just before."""
        for event in reversed(self.store.events(request_id=request.id)):
            if event.action == DEPLOYING_ACTION:
                previous = event.detail.get("previous_deploy_id")
                return event.at, str(previous) if previous else None
        return request.updated_at, None

    def _move(
        self, request: DeployRequest, source: RequestStatus, target: RequestStatus, action: str
    ) -> DeployRequest | None:
        return self.store.transition(
            request.id, from_statuses={source}, to=target, actor=ACTOR, action=action, now=self.clock()
        )

    def _event(self, action: str, request: DeployRequest, detail: dict[str, Any]) -> None:
        self.store.add_event(
            ACTOR,
            action,
            request_id=request.id,
            project_id=request.project_id,
            detail=detail,
            now=self.clock(),
        )

    def _enqueue(self, request_id: str, work: Callable[[str], None]) -> Future[None] | None:
        with self._lock:
            if self._closing.is_set() or request_id in self._queued:
                return None
            self._queued.add(request_id)
        try:
            future = self._executor.submit(work, request_id)
        except RuntimeError:
            # The pool shut down between the check and the submit; the request resumes on the next start.
            with self._lock:
                self._queued.discard(request_id)
            return None
        future.add_done_callback(lambda _f: self._done(request_id))
        return future

    def _done(self, request_id: str) -> None:
        with self._lock:
            self._queued.discard(request_id)

    def _deploy_safely(self, request_id: str) -> None:
        try:
            self.deploy(request_id)
        except Exception as exc:
            self._unexpected(request_id, exc)

    def _settle_safely(self, request_id: str) -> None:
        """Settle a deploying request, retrying while QuantConnect cannot be asked (never failing on that)."""
        for attempt, delay in enumerate((*self.recovery_delays, None), start=1):
            try:
                self.settle(request_id)
                return
            except QuantConnectError as exc:
                log.warning(
                    "could not ask QuantConnect about an interrupted deployment",
                    extra={"request_id": request_id, "attempt": attempt, "error": type(exc).__name__},
                )
                if delay is None or self._closing.wait(delay):
                    return
            except Exception as exc:
                self._unexpected(request_id, exc)
                return

    def _unexpected(self, request_id: str, exc: Exception) -> None:
        """A bug or an outage of the database: log it and, if possible, tell the channel plainly."""
        log.exception("unexpected error while deploying", extra={"request_id": request_id})
        try:
            request = self.store.get_request(request_id)
        except Exception:
            request = None
        sent = request is not None and request.status is S.DEPLOYING
        outcome = (
            "live/create may have been sent: check the project's live page on QuantConnect "
            "before requesting again."
            if sent
            else "Nothing was deployed; it is safe to request it again."
        )
        try:
            self._fail(
                request_id,
                Failure(
                    "The deployment stopped on an unexpected error",
                    [f"Unexpected error ({type(exc).__name__}) while deploying. {outcome}"],
                ),
                "unexpected",
            )
        except Exception:
            log.exception("could not record the failure", extra={"request_id": request_id})


def _provider_option(entry: str, model: type[BrokerageSettings]) -> DataProviderOption | None:
    """The data-provider option a stored entry names (a model key or a provider id)."""
    try:
        provider_model = registry.get(entry)
    except BotError:
        provider_model = None
    if provider_model is not None:
        return find_option(provider_model.brokerage_id, provider_model.key)
    if entry == model.brokerage_id:
        return find_option(entry, model.key)
    return find_option(entry)


def _qc_failure(title: str, exc: QuantConnectError) -> Failure:
    """QuantConnect's own error list when it gave one, else the client's plain-language message."""
    if isinstance(exc, RequestRefused) and exc.errors:
        return Failure(f"{title}: QuantConnect refused {exc.endpoint or 'the request'}", list(exc.errors))
    return Failure(title, [str(exc)])
