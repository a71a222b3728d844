"""Approved request -> compile -> node -> credentials -> live/create -> recorded, on a bounded worker pool.

Ownership: a replica claims a request in the store before working on it, and every move it makes is a
compare-and-set fenced by that claim (bot/deploy_stages.py), so work taken over from a replica that died is
never acted on twice. `live/create` is sent at most once per request; after it only QuantConnect's word ends
the request (bot/settling.py). A graceful stop hands queued and running requests back to the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from bot.deploy_stages import DeployStages, Failure, HandedBack
from bot.heartbeat import AlwaysHeld, LeaseHolder
from bot.notices import CardNotifier
from bot.settling import Settler
from bot.statuses import IN_FLIGHT, RequestStatus
from bot.store.models import DeployRequest

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.secrets.profiles import CredentialProfiles
    from bot.store import Store

log = logging.getLogger("bot.deployer")

S = RequestStatus


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
        self.clock = clock
        self.lease = lease or AlwaysHeld()
        self._closing = threading.Event()
        self.stages = DeployStages(
            store,
            qc,
            profiles,
            notifier,
            settings,
            clock,
            self._closing,
            compile_first_delay=compile_first_delay,
            compile_max_delay=compile_max_delay,
        )
        self.settler = Settler(self.stages)
        self._executor = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="deployer")
        self._lock = threading.Lock()
        self._queued: set[str] = set()

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
            return self.settler.settle(request_id)
        return self.stages.run(request)

    def settle(self, request_id: str) -> DeployRequest | None:
        """Ask QuantConnect about a deploying request we own (see bot/settling.py)."""
        return self.settler.settle(request_id)

    def heal(self) -> list[str]:
        """Move requests recorded as failed back to live when QuantConnect shows them running; returns ids."""
        if self._closing.is_set() or not self.lease.holds():
            return []
        return self.settler.heal()

    # -- the worker pool -----------------------------------------------------------------------------

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
                self.settler.wait(
                    request, self.clock(), f"an unexpected error ({type(exc).__name__}); checking again"
                )
                return
            self.stages.fail(
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
