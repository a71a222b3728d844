"""Expiry sweeper: a background thread that expires pending requests past their deadline, updating cards.

Deadlines live in the store, so a restart loses nothing: the first sweep after start catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.periodic import PeriodicWorker

if TYPE_CHECKING:
    from bot.store import DeployRequest, Store

log = logging.getLogger("bot.sweeper")


class ExpirySweeper(PeriodicWorker):
    """Calls `store.expire_due(now)` every `interval` seconds; each expiry queues its card refresh."""

    name = "expiry-sweeper"

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        interval: float = 30.0,
        *,
        remind: Callable[[datetime], object] | None = None,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.clock = clock
        # The approval reminders (bot/reminders.py) ride on the same pass over pending deadlines.
        self.remind = remind

    def run_once(self) -> list[DeployRequest]:
        """Remind and expire what is due now; returns the requests this sweep expired."""
        if self.remind is not None:
            self.remind(self.clock())
        expired = self.store.expire_due(self.clock())
        for request in expired:
            log.info("request expired", extra={"request_id": request.id})
        return expired

    def run_pass(self) -> list[DeployRequest]:
        """One sweep."""
        return self.run_once()
