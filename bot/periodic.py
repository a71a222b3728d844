"""A background thread that runs one pass of some work every few seconds until it is stopped."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("bot.periodic")


class PeriodicWorker:
    """Runs `run_pass()` at once, then every `interval` seconds on a daemon thread; failed passes are logged.

    Subclasses implement `run_pass`; `wake()` runs the next pass at once (work has arrived); `stop()` wakes
    the thread and waits for the pass in progress to end.
    """

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        # Set to cut the wait between passes short: by wake(), and by stop().
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run_pass(self) -> object:
        """One round of the work (override)."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        """True once stop() was called: long passes should end early."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the next pass now rather than after the interval (a pass in progress finishes first)."""
        self._poke.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait up to `timeout` seconds for the pass in progress."""
        self._stop.set()
        self._poke.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: work that arrives during it wakes the next one at once.
            self._poke.clear()
            try:
                self.run_pass()
            except Exception:
                # A database hiccup must not end the work for good: the next pass tries again.
                log.exception("%s pass failed", self.name)
            self._poke.wait(self.interval)
