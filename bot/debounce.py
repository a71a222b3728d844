"""Run a callback at most once per interval, however often it is asked for, on its own thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("bot.debounce")


class Debouncer:
    """Coalesces bursts of `trigger()` calls into one run of `callback` at most every `interval` seconds."""

    def __init__(self, callback: Callable[[], object], interval: float, *, name: str = "debouncer") -> None:
        self.callback = callback
        self.interval = interval
        self.name = name
        self._pending = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._last_run = float("-inf")

    def trigger(self, *_: object) -> None:
        """Ask for a run; runs already asked for and not yet started are merged into one."""
        with self._cond:
            if self._closed:
                return
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread; a pending run is dropped (the next start publishes fresh state)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                wait = self._last_run + self.interval - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._pending = False
                self._last_run = time.monotonic()
            try:
                self.callback()
            except Exception:
                log.exception("%s callback failed", self.name)
