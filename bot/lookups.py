"""One bounded pool for slow look-ups (QuantConnect, secret store, Slack user groups), one load per key.

Handlers used to start a thread per request for a look-up under a deadline; when QuantConnect hung, every
type-ahead keystroke left a thread behind, each repeating the same failing load. Here a fixed number of
worker threads run look-ups, a key has at most one load in flight (later callers wait for that load's
future, each with its own deadline), and at most `max_pending` look-ups are queued or running: past that a
caller is told at once that the bot is busy instead of adding to a queue that cannot drain in time.

Rule that keeps this free of deadlocks: work run on the pool never waits for another future of the pool.
Callers that wait (Bolt listeners, the submission pool) are threads of their own.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import BotError

T = TypeVar("T")

LOOKUP_THREADS = 4
MAX_PENDING_LOOKUPS = 32
# An idle worker ends after this long, so a pool that nobody closes holds no threads while idle.
IDLE_SECONDS = 30.0


class DeadlineExceeded(BotError):
    """A look-up did not finish within the time the caller could wait (it may still finish later)."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not answer within {seconds:.1f} seconds.")
        self.what = what
        self.seconds = seconds


class LookupsBusy(BotError):
    """Too many look-ups are queued or running; the caller should answer without waiting."""


@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic) that several waits share, `seconds` after it was set; None: no limit."""

    at: float | None
    seconds: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline `seconds` from now (no limit for None)."""
        return cls(None if seconds is None else time.monotonic() + seconds, seconds)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a limit."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        """Whether the deadline is over."""
        return self.at is not None and time.monotonic() >= self.at


class WorkerPool:
    """At most `workers` daemon threads run submitted work; idle threads end after `idle_seconds`.

    Unlike ThreadPoolExecutor, its threads need no shutdown (they are daemons and end when idle) and its
    queue is bounded: `submit` raises LookupsBusy when `max_pending` pieces of work are queued or running.
    """

    def __init__(
        self,
        name: str,
        *,
        workers: int = LOOKUP_THREADS,
        max_pending: int = MAX_PENDING_LOOKUPS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.name = name
        self.workers = workers
        self.max_pending = max_pending
        self.idle_seconds = idle_seconds
        self._cond = threading.Condition()
        self._queue: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._threads = 0
        self._idle = 0
        self._signalled = 0
        self._pending = 0
        self._numbers = itertools.count(1)

    @property
    def thread_count(self) -> int:
        """Worker threads alive now."""
        with self._cond:
            return self._threads

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Queue `work`; its future holds the result or the exception. LookupsBusy when the queue is full."""
        future: Future[T] = Future()
        with self._cond:
            if self._pending >= self.max_pending:
                raise LookupsBusy(
                    "The bot is waiting on too many slow look-ups (QuantConnect, the secret store or Slack); "
                    "try again in a moment."
                )
            self._pending += 1
            self._queue.append((future, work))
            if self._idle - self._signalled > 0:
                self._signalled += 1
                self._cond.notify()
            elif self._threads < self.workers:
                self._threads += 1
                name = f"{self.name}-{next(self._numbers)}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._idle += 1
                    notified = self._cond.wait(self.idle_seconds)
                    self._idle -= 1
                    if notified:
                        self._signalled -= 1
                    elif not self._queue:
                        self._threads -= 1
                        return
                future, work = self._queue.popleft()
            try:
                # A future cancelled while queued (its caller gave up) is skipped, not run late.
                if future.set_running_or_notify_cancel():
                    try:
                        result = work()
                    except BaseException as exc:  # handed to whoever waits on the future
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._cond:
                    self._pending -= 1


class Lookups:
    """The bot's look-up pool plus single flight: `start(key, load)` shares one load per key."""

    def __init__(self, pool: WorkerPool | None = None) -> None:
        self.pool = pool or WorkerPool("lookup")
        self._flights: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Run `work` on the pool (no sharing); LookupsBusy when the pool's queue is full."""
        return self.pool.submit(work)

    def start(self, key: Hashable, load: Callable[[], T]) -> Future[T]:
        """The future of the load in flight for `key`, or of `load` started now."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight
            flight = self.pool.submit(load)
            self._flights[key] = flight
        flight.add_done_callback(lambda done: self._land(key, done))
        return flight

    def in_flight(self, key: Hashable) -> bool:
        """Whether a load for `key` is queued or running."""
        with self._lock:
            return key in self._flights

    def _land(self, key: Hashable, done: Future[Any]) -> None:
        with self._lock:
            if self._flights.get(key) is done:
                del self._flights[key]

    @staticmethod
    def wait(future: Future[T], deadline: Deadline, what: str) -> T:
        """The future's result within the deadline; DeadlineExceeded (the work goes on) when it passes."""
        try:
            return future.result(timeout=deadline.remaining())
        except FutureTimeout:
            raise DeadlineExceeded(what, deadline.seconds or 0.0) from None

    def run(self, key: Hashable, load: Callable[[], T], deadline: Deadline, what: str) -> T:
        """`start` then `wait`: the shared load's result within the deadline."""
        return self.wait(self.start(key, load), deadline, what)
