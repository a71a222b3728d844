"""Follows live/read for every active deployment and reports each real status change on the request's card.

Everything the watcher needs lives in the deployments table (status, next poll, lease), so a restarted
process simply carries on. A lease per deployment, owned by a per-process id, keeps two replicas from watching
the same deployment. QuantConnect outages never fail a deployment: the watcher backs off, records once that
the status is unknown, and reports the real status when QuantConnect answers again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.blocks.common import escape
from bot.deployer import CardNotifier
from bot.quantconnect.errors import QuantConnectError
from bot.quantconnect.models import FAILURE_STATUSES
from bot.store.models import TERMINAL_LIVE_STATUSES, Deployment, DeployRequest, RequestStatus

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.models import LiveAlgorithm
    from bot.store import Store

log = logging.getLogger("bot.watcher")

S = RequestStatus
ACTOR = "watcher"
RUNNING = "Running"
# Recorded (once) while QuantConnect cannot be asked; not terminal, so polling goes on.
UNKNOWN_STATUS = "Unknown"
MAX_BACKOFF_SECONDS = 600.0

# What a status change means, in the short thread reply.
STATUS_REPLIES: dict[str, str] = {
    "InQueue": "⏳ InQueue: waiting for the live node",
    "LoggingIn": "🔑 LoggingIn: logging in to the brokerage",
    "Initializing": "⚙️ Initializing: the algorithm is starting",
    "History": "📚 History: loading historical data",
    "Running": "🟢 Running",
    "PendingInput": "✋ PendingInput: the brokerage is waiting for input (e.g. 2FA)",
    "Idle": "💤 Idle",
    "Stopped": "⏹️ Stopped: the algorithm has ended",
    "Liquidated": "⏹️ Liquidated: positions were closed and the algorithm has ended",
    "Completed": "🏁 Completed: the algorithm has ended",
    "Deleted": "🗑️ Deleted: the deployment was deleted on QuantConnect",
}


def process_owner_id() -> str:
    """A lease owner id unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Watcher:
    """Polls live/read for due deployments on a background thread; `run_once(now)` does one pass (tests)."""

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        notifier: CardNotifier,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        owner: str | None = None,
        batch_size: int = 50,
        tick_seconds: float | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.qc = qc
        self.notifier = notifier
        self.clock = clock
        self.owner = owner or process_owner_id()
        self.batch_size = batch_size
        self.interval = settings.watch_interval_seconds
        self.running_interval = settings.watch_running_interval_seconds
        self.max_backoff = max(self.running_interval, min(MAX_BACKOFF_SECONDS, 10 * self.running_interval))
        self.tick = tick_seconds if tick_seconds is not None else min(self.interval, 1.0)
        # Long enough to outlive the gap between two polls, so the lease stays ours while we watch.
        self.lease_seconds = lease_seconds or max(
            60.0, 2 * self.max_backoff + settings.qc_timeout_seconds * 4
        )
        self._failures: dict[str, int] = {}
        self._held: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="watcher", daemon=True)
            self._thread.start()
        log.info("watcher started", extra={"owner": self.owner})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and give back every lease, so the next process resumes at once."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=timeout)
        for request_id in list(self._held):
            try:
                self.store.release_lease(request_id, self.owner)
            except Exception:
                log.exception("could not release a lease", extra={"request_id": request_id})
        self._held.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(self.clock())
            except Exception:
                # A database hiccup must not end the watching for good.
                log.exception("watcher pass failed")
            self._stop.wait(self.tick)

    # -- one pass ------------------------------------------------------------------------------------

    def run_once(self, now: datetime) -> int:
        """Poll every deployment that is due at `now` and whose lease we get; returns how many were polled."""
        polled = 0
        due = self.store.due_deployments(now, self.batch_size)
        # One transaction claims the whole batch: a lease per deployment cost a write per poll.
        ours = self.store.acquire_leases(
            (d.request_id for d in due), self.owner, now=now, ttl_seconds=self.lease_seconds
        )
        self._held.update(ours)
        for deployment in due:
            if self._stop.is_set():
                break
            if deployment.request_id not in ours:
                continue
            try:
                self.poll(deployment, now)
            except Exception:
                log.exception("poll failed", extra={"request_id": deployment.request_id})
                self._schedule(deployment.request_id, now, self._backoff(deployment.request_id))
            polled += 1
        return polled

    def poll(self, deployment: Deployment, now: datetime) -> None:
        """Read one deployment's status from QuantConnect and report it if it changed."""
        request_id = deployment.request_id
        request = self.store.get_request(request_id)
        if request is not None and request.status is S.DEPLOYING:
            # The deployer has not marked the request live yet; report nothing before it has.
            self._schedule(request_id, now, self.interval)
            return
        try:
            live = self.qc.read_live(deployment.project_id, deployment.deploy_id)
        except QuantConnectError as exc:
            self._unreachable(deployment, request, exc, now)
            return
        self._failures.pop(request_id, None)
        if live.status not in TERMINAL_LIVE_STATUSES and self.store.schedule_if_status(
            request_id, live.status, now + timedelta(seconds=self._interval_for(live.status))
        ):
            return  # unchanged (checked against the store, not our snapshot): next poll set, nothing to say
        changed = self.store.record_status(
            request_id, live.status, live.problem, now=now, launched=live.launched, stopped=live.stopped
        )
        if live.status in TERMINAL_LIVE_STATUSES:
            self._finish(deployment, request, live, changed, now)
            return
        if changed:
            self.notifier.refresh_card(request_id)
            self.notifier.thread(request_id, self._reply(deployment, live))
        self._schedule(request_id, now, self._interval_for(live.status))

    def _interval_for(self, status: str) -> float:
        """Seconds until the next poll: Running rarely changes, every other status is watched closely."""
        return self.running_interval if status == RUNNING else self.interval

    # -- outcomes ------------------------------------------------------------------------------------

    def _finish(
        self,
        deployment: Deployment,
        request: DeployRequest | None,
        live: LiveAlgorithm,
        changed: bool,
        now: datetime,
    ) -> None:
        """A terminal status: the request ends or fails, once, and the lease goes back."""
        request_id = deployment.request_id
        name = request.project_name if request is not None else f"project {deployment.project_id}"
        if live.status in FAILURE_STATUSES:
            problem = live.problem or "QuantConnect gave no message."
            moved = self.store.transition(
                request_id,
                from_statuses={S.LIVE},
                to=S.FAILED,
                actor=ACTOR,
                action="live_failed",
                detail={"live_status": live.status},
                now=now,
                errors=[f"{live.status}: {problem}"],
            )
            if changed or moved is not None:
                self.notifier.refresh_card(request_id)
                self.notifier.post_error_list(
                    request_id, f"{name} stopped with {live.status} (deployment {live.deploy_id})", [problem]
                )
        else:
            moved = self.store.transition(
                request_id,
                from_statuses={S.LIVE},
                to=S.ENDED,
                actor=ACTOR,
                action="ended",
                detail={"live_status": live.status},
                now=now,
            )
            if changed or moved is not None:
                self.notifier.refresh_card(request_id)
                self.notifier.thread(request_id, self._reply(deployment, live))
        # Terminal deployments are never due again (due_deployments skips them): nothing to schedule.
        self._failures.pop(request_id, None)
        self.store.release_lease(request_id, self.owner)
        self._held.discard(request_id)
        log.info("deployment finished", extra={"request_id": request_id, "live_status": live.status})

    def _unreachable(
        self, deployment: Deployment, request: DeployRequest | None, exc: QuantConnectError, now: datetime
    ) -> None:
        """Keep the deployment, say once that its status is unknown, and try again later and later."""
        request_id = deployment.request_id
        delay = self._backoff(request_id)
        log.warning(
            "live/read failed; retrying later",
            extra={"request_id": request_id, "error": type(exc).__name__, "retry_in": delay},
        )
        reason = f"QuantConnect could not be asked for the status: {exc}"
        if self.store.record_status(request_id, UNKNOWN_STATUS, reason, now=now):
            self.notifier.refresh_card(request_id)
            self.notifier.thread(
                request_id,
                f"❔ Status unknown: {escape(str(exc))} "
                "I keep the deployment and will keep asking, less often.",
            )
        self._schedule(request_id, now, delay)

    def _backoff(self, request_id: str) -> float:
        failures = self._failures.get(request_id, 0) + 1
        self._failures[request_id] = failures
        return min(self.interval * 2**failures, self.max_backoff)

    def _reply(self, deployment: Deployment, live: LiveAlgorithm) -> str:
        text = STATUS_REPLIES.get(live.status) or escape(live.status)
        if deployment.status == UNKNOWN_STATUS:
            text = f"QuantConnect answers again. {text}"
        if live.problem:
            text += f" — {escape(live.problem)}"
        return text

    def _schedule(self, request_id: str, now: datetime, delay: float) -> None:
        self.store.schedule_poll(request_id, now + timedelta(seconds=delay))
