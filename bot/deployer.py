"""Approved request -> compile -> node -> credentials -> live/create -> recorded, on a bounded worker pool.

Ownership: a replica claims a request in the store before working on it, and every move it makes is a
compare-and-set fenced by that claim, so work taken over from a replica that died is never acted on twice.
Each stage fails only from the status it holds (a compile failure from `compiling`, a refusal of live/create
from `deploying`).

`live/create` is sent at most once per request: the request moves to `deploying` (recording when, and which
deployment QuantConnect showed just before) before the call. From then on only QuantConnect's word ends it:
`live` when QuantConnect shows the deployment, `failed` on a refusal (`success: false`) or when QuantConnect
still shows nothing after the settle window (the create timeout plus SETTLE_SECONDS). Until then the request
settles: its owner asks live/read with backoff, the card says it waits for QuantConnect, the project stays
locked. Whoever takes the request over after a crash carries on settling with the same deadline.

Self-healing: a request the bot recorded as failed whose deployment QuantConnect shows after all (running,
or queued on its way there) goes back to `live`, watched, with Stop and Liquidate on its card.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from bot.blocks.common import escape
from bot.brokerages import registry
from bot.brokerages.builder import build_live_create_request
from bot.brokerages.classification import classify_body
from bot.brokerages.data_providers import (
    QUANTCONNECT_PROVIDER_ID,
    DataProviderConfig,
    DataProviderOption,
    find_option,
)
from bot.brokerages.errors import FieldErrors
from bot.errors import BotError
from bot.ids import NODE_AUTO
from bot.notifier import card_notice, error_notices, thread_notice
from bot.quantconnect.errors import (
    AuthenticationError,
    BuildFailed,
    NotSent,
    QuantConnectError,
    RequestRefused,
)
from bot.quantconnect.models import TERMINAL_STATUSES
from bot.store.models import IN_FLIGHT, DeployRequest, Notice, RequestStatus

if TYPE_CHECKING:
    from bot.brokerages.base import BrokerageSettings
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.models import LiveAlgorithm, Node
    from bot.secrets.profiles import CredentialProfiles
    from bot.store import Store

log = logging.getLogger("bot.deployer")

S = RequestStatus
ACTOR = "bot"
# How far back self-healing looks for requests recorded as failed.
HEAL_HORIZON = timedelta(hours=24)
# Our clock and QuantConnect's may disagree: a deployment launched this much before the call still counts.
CLOCK_SKEW = timedelta(minutes=2)
# Settle checks: the first soon after live/create, then less often, at most every minute.
FIRST_CHECK_SECONDS = 2.0
MAX_CHECK_SECONDS = 60.0


class CardNotifier(Protocol):
    """The part of bot.notifier.Notifier the deployer and watcher use; it never raises."""

    def refresh_card(self, request_id: str) -> None: ...

    def thread(self, request_id: str, text: str) -> None: ...

    def post_error_list(self, request_id: str, title: str, errors: Sequence[str]) -> None: ...


class LeaseHolder(Protocol):
    """The part of bot.heartbeat.Heartbeat the workers ask before acting."""

    def holds(self) -> bool: ...


class _AlwaysHeld:
    """For a deployer without a heartbeat (tests that renew the lease themselves)."""

    def holds(self) -> bool:
        return True


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
        lease: LeaseHolder | None = None,
        compile_first_delay: float = 1.0,
        compile_max_delay: float = 10.0,
    ) -> None:
        self.store = store
        self.qc = qc
        self.profiles = profiles
        self.notifier = notifier
        self.settings = settings
        self.clock = clock
        self.lease = lease or _AlwaysHeld()
        self.compile_first_delay = compile_first_delay
        self.compile_max_delay = compile_max_delay
        self.settle_window = timedelta(seconds=settings.settle_window_seconds)
        self._executor = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="deployer")
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._closing = threading.Event()

    @property
    def owner(self) -> str:
        """The replica this deployer works for."""
        return self.store.replica_id

    # -- public API ----------------------------------------------------------------------------------

    def submit(self, request_id: str) -> Future[None] | None:
        """Claim an approved request and queue its deployment; None when not ours to run or already queued."""
        with self._lock:
            if request_id in self._queued:
                return None
        if self._closing.is_set() or not self.lease.holds():
            return None
        if self.store.claim_request(request_id, self.clock()) is None:
            return None  # another replica runs it (or it is no longer in flight)
        return self._enqueue(request_id)

    def resume(self) -> list[str]:
        """Take over in-flight requests nobody alive runs, and run our own due checks; returns the ids queued.

        Runs at start and then periodically: work of a replica whose lease expired is carried on here, and so
        is this replica's own work that no worker is running (a worker that failed on a database outage).
        """
        if self._closing.is_set() or not self.lease.holds():
            return []
        now = self.clock()
        queued: list[str] = []
        for request in self.store.resumable_requests(now):
            with self._lock:
                if request.id in self._queued:
                    continue
            mine = request.owner == self.owner
            if (
                mine
                and request.status is S.DEPLOYING
                and request.next_check_at
                and request.next_check_at > now
            ):
                continue  # settling, and not due yet
            if self.store.claim_request(request.id, now) is None:
                continue
            if not mine:
                log.info(
                    "taking over request",
                    extra={"request_id": request.id, "status": str(request.status), "from": request.owner},
                )
            if self._enqueue(request.id) is not None:
                queued.append(request.id)
        return queued

    def recover(self) -> list[str]:
        """On start: carry on with every in-flight request nobody alive runs (see `resume`)."""
        return self.resume()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop taking work: queued requests go back to the store, running ones finish or hand back."""
        self._closing.set()
        # Cancelled futures hand their request back (see _done); running ones end at their next step.
        self._executor.shutdown(wait=False, cancel_futures=True)
        if wait:
            waiter = threading.Thread(target=self._executor.shutdown, kwargs={"wait": True}, daemon=True)
            waiter.start()
            waiter.join(timeout)

    def deploy(self, request_id: str) -> DeployRequest | None:
        """Claim an in-flight request and run it through its next steps in this thread; returns it."""
        request = self.store.claim_request(request_id, self.clock())
        if request is None:
            current = self.store.get_request(request_id)
            log.info(
                "not ours to deploy",
                extra={"request_id": request_id, "status": str(current.status) if current else "unknown"},
            )
            return current
        if request.status is S.DEPLOYING:
            return self.settle(request_id)
        if request.status is S.APPROVED:
            moved = self._move(request, S.APPROVED, S.COMPILING, "compile_started")
            if moved is None:
                return self.store.get_request(request_id)
            request = moved
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
            return self._fail(request_id, S.COMPILING, exc.failure, stage)

    def settle(self, request_id: str) -> DeployRequest | None:
        """Ask QuantConnect about a deploying request: live if it shows the deployment, else wait or fail."""
        request = self.store.get_request(request_id)
        if request is None or request.status is not S.DEPLOYING or request.owner != self.owner:
            return request
        now = self.clock()
        since = request.deploying_since or request.updated_at
        deadline = request.settle_deadline or since + self.settle_window
        try:
            found = self.qc.find_deployment_since(request.project_id, since, request.previous_deploy_id)
        except QuantConnectError as exc:
            log.warning(
                "could not ask QuantConnect about a deployment",
                extra={"request_id": request_id, "error": type(exc).__name__},
            )
            return self._wait(request, now, f"QuantConnect could not be asked ({type(exc).__name__})")
        if found is not None and found.deploy_id is not None:
            return self._record_live(
                request,
                found.deploy_id,
                found.status,
                action="deployed",
                text=f"📡 QuantConnect shows deployment `{escape(found.deploy_id)}` ({escape(found.status)}) "
                "from this request: it went through (sent once, not resent). "
                "I will post every status change here.",
            )
        if now < deadline:
            return self._wait(request, now, request.settle_note or "QuantConnect does not show it yet")
        minutes = round((now - since).total_seconds() / 60)
        return self._fail(
            request_id,
            S.DEPLOYING,
            Failure(
                f"Deployment of {request.project_name} did not happen",
                [
                    f"QuantConnect still shows no deployment from this request {minutes} minutes after "
                    "live/create was sent, so nothing was deployed. It is safe to request it again. "
                    "If it ever shows up, I will mark this request live and watch it."
                ],
            ),
            "settle",
            owned=True,
        )

    def heal(self) -> list[str]:
        """Failed requests whose deployment QuantConnect shows after all go back to live; returns ids."""
        if self._closing.is_set() or not self.lease.holds():
            return []
        now = self.clock()
        candidates = self.store.healable_requests(now - HEAL_HORIZON)
        if not candidates:
            return []
        try:
            # Not just "Running": a deployment still queued or starting is on its way to real trading too.
            running = [live for live in self.qc.list_live() if live.status not in TERMINAL_STATUSES]
        except QuantConnectError as exc:
            log.info("self-healing skipped: live/list failed", extra={"error": type(exc).__name__})
            return []
        claimed = self.store.deploy_ids_in_use([live.deploy_id for live in running if live.deploy_id])
        healed: list[str] = []
        for request in candidates:
            found = _deployment_of(request, running, claimed)
            if found is None or found.deploy_id is None:
                continue
            done = self._record_live(
                request,
                found.deploy_id,
                found.status,
                action="healed",
                from_status=S.FAILED,
                text=f"🩹 QuantConnect shows deployment `{escape(found.deploy_id)}` ({escape(found.status)}) "
                "after all, "
                "although I had recorded this request as failed. It is live now: I watch it and the card "
                "has Stop and Liquidate again.",
            )
            if done is not None and done.status is S.LIVE:
                claimed.add(found.deploy_id)
                healed.append(request.id)
                log.warning("healed a failed request", extra={"request_id": request.id})
        return healed

    # -- steps ---------------------------------------------------------------------------------------

    def _compile(self, request: DeployRequest) -> str:
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
            raise DeployAborted(_qc_failure(f"Could not compile {request.project_name}", exc)) from None
        self._event("build_succeeded", request, {"compile_id": done.compile_id})
        self.notifier.thread(request.id, f"✅ Build succeeded (compile `{escape(done.compile_id)}`).")
        return done.compile_id

    def _stop_if_closing(self, _state: str) -> None:
        if self._closing.is_set():
            raise HandedBack

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
        body = live_request.to_body()
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
        if self._closing.is_set():
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
            return self._fail(
                request.id,
                S.DEPLOYING,
                _qc_failure(f"QuantConnect did not deploy {request.project_name}", exc),
                "deploy",
            )
        except QuantConnectError as exc:
            reason = getattr(exc, "reason", "") or type(exc).__name__
            return self._await_confirmation(moved, reason)
        return self._record_live(
            moved,
            result.deploy_id,
            result.status or "InQueue",
            action="deployed",
            text=f"📡 QuantConnect accepted deployment `{escape(result.deploy_id)}` "
            f"(status {escape(result.status or 'InQueue')}). I will post every status change here.",
        )

    def _await_confirmation(self, request: DeployRequest, reason: str) -> DeployRequest | None:
        """live/create got no clear answer: keep the request deploying and ask QuantConnect until it knows."""
        now = self.clock()
        note = f"live/create got no clear answer ({reason}); waiting for QuantConnect to confirm"
        deadline = request.settle_deadline or now + self.settle_window
        self.store.schedule_settle_check(
            request.id,
            now + timedelta(seconds=FIRST_CHECK_SECONDS),
            note,
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

    def _wait(self, request: DeployRequest, now: datetime, note: str) -> DeployRequest | None:
        waited = now - (request.deploying_since or request.updated_at)
        at = now + timedelta(seconds=next_check_delay(waited))
        self.store.schedule_settle_check(request.id, at, note)
        return self.store.get_request(request.id)

    def _record_live(
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
        initial = status if status not in TERMINAL_STATUSES else "InQueue"
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

    # -- failure, plumbing ---------------------------------------------------------------------------

    def _fail(
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

    def _move(
        self, request: DeployRequest, source: RequestStatus, target: RequestStatus, action: str
    ) -> DeployRequest | None:
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

    def _event(self, action: str, request: DeployRequest, detail: dict[str, Any]) -> None:
        self.store.add_event(
            ACTOR,
            action,
            request_id=request.id,
            project_id=request.project_id,
            detail=detail,
            now=self.clock(),
        )

    def _enqueue(self, request_id: str) -> Future[None] | None:
        with self._lock:
            if self._closing.is_set() or request_id in self._queued:
                return None
            self._queued.add(request_id)
        try:
            future = self._executor.submit(self._run_safely, request_id)
        except RuntimeError:
            # The pool shut down between the check and the submit: hand the request back.
            with self._lock:
                self._queued.discard(request_id)
            self.store.release_request(request_id)
            return None
        future.add_done_callback(lambda done: self._done(request_id, done))
        return future

    def _done(self, request_id: str, future: Future[None]) -> None:
        with self._lock:
            self._queued.discard(request_id)
        if future.cancelled():
            self._release(request_id)  # queued when the pool shut down: another replica carries on

    def _run_safely(self, request_id: str) -> None:
        try:
            self.deploy(request_id)
        except HandedBack:
            log.info("stopping: request handed back", extra={"request_id": request_id})
            self._release(request_id)
        except Exception as exc:
            self._unexpected(request_id, exc)

    def _release(self, request_id: str) -> None:
        try:
            self.store.release_request(request_id)
        except Exception:
            log.exception("could not hand a request back", extra={"request_id": request_id})

    def _unexpected(self, request_id: str, exc: Exception) -> None:
        """A bug or a database outage: never fail a request live/create may have reached; else fail it."""
        log.exception("unexpected error while deploying", extra={"request_id": request_id})
        try:
            request = self.store.get_request(request_id)
        except Exception:
            return  # the database is down: the request stays ours and is resumed once it answers
        if request is None or request.status not in IN_FLIGHT:
            return
        try:
            if request.status is S.DEPLOYING:
                # Only QuantConnect's word ends it: keep settling.
                self._wait(
                    request, self.clock(), f"an unexpected error ({type(exc).__name__}); checking again"
                )
                return
            self._fail(
                request_id,
                request.status,
                Failure(
                    "The deployment stopped on an unexpected error",
                    [
                        f"Unexpected error ({type(exc).__name__}) while deploying. Nothing was deployed; "
                        "it is safe to request it again."
                    ],
                ),
                "unexpected",
            )
        except Exception:
            log.exception("could not record the failure", extra={"request_id": request_id})


def _deployment_of(
    request: DeployRequest, running: Sequence[LiveAlgorithm], claimed: set[str]
) -> LiveAlgorithm | None:
    """The running deployment that belongs to a failed request, if QuantConnect shows one."""
    for live in running:
        if live.project_id != request.project_id or live.deploy_id is None:
            continue
        if request.deploy_id is not None:
            if live.deploy_id == request.deploy_id:
                return live
            continue
        if live.deploy_id in claimed or live.deploy_id == request.previous_deploy_id:
            continue
        if request.deploying_since is not None and (
            live.launched is None or live.launched >= request.deploying_since - CLOCK_SKEW
        ):
            return live
    return None


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
