"""Expiry sweeper: a background thread that expires pending requests past their deadline, updating cards.

Deadlines live in the store, so a restart loses nothing: the first sweep after start catches up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.notifier import Notifier
    from bot.store import DeployRequest, Store

log = logging.getLogger("bot.sweeper")


class ExpirySweeper:
    """Calls `store.expire_due(now)` every `interval` seconds and refreshes the cards it expired."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Callable[[], datetime],
        interval: float = 30.0,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[DeployRequest]:
        """Expire what is due now; returns the requests this sweep expired."""
        expired = self.store.expire_due(self.clock())
        for request in expired:
            log.info("request expired", extra={"request_id": request.id})
            self.notifier.refresh_card(request.id)
        return expired

    def start(self) -> None:
        """Start sweeping in a daemon thread (a sweep runs at once, then every `interval`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="expiry-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sweeping and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                # A database hiccup must not end the sweeper; the next round tries again.
                log.exception("expiry sweep failed")
            self._stop.wait(self.interval)
