"""This replica's heartbeat: renews its lease in the store every few seconds, whatever else it is doing.

Everything the replica holds (requests in flight, deployments it watches, Slack messages it delivers) lasts
as long as this lease. When a renewal fails (database down) the replica stops acting on its work once the
lease it last renewed runs out, because by then another replica may have taken the work over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.periodic import PeriodicWorker

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("bot.heartbeat")

# Forget replicas that have been gone this long (and hold nothing), so the table stays small.
FORGET_AFTER = timedelta(days=1)
# Delivered Slack messages are kept this long in the outbox (for troubleshooting), then deleted.
KEEP_DELIVERED = timedelta(days=7)
# Housekeeping runs on one beat in this many.
HOUSEKEEPING_EVERY = 720


class LeaseHolder(Protocol):
    """What workers ask before acting: whether this replica's lease is still surely ours (Heartbeat)."""

    def holds(self) -> bool: ...


class AlwaysHeld:
    """The lease of a worker without a heartbeat (tests that renew the lease themselves)."""

    def holds(self) -> bool:
        """Always."""
        return True


class Heartbeat(PeriodicWorker):
    """Renews the replica's lease every `interval` seconds; `holds()` says whether it is still surely ours."""

    name = "heartbeat"

    def __init__(
        self, store: Store, clock: Callable[[], datetime], *, lease_seconds: float, interval: float
    ) -> None:
        if interval * 2 > lease_seconds:
            raise ValueError("the heartbeat must renew the lease at least twice per lease length")
        super().__init__(interval)
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds
        self._held_until: datetime | None = None
        self._beats = 0
        self._state = threading.Lock()

    @property
    def replica_id(self) -> str:
        """The id this replica's work is held under."""
        return self.store.replica_id

    def run_pass(self) -> bool:
        """Renew the lease now; False (logged) when the store could not be reached."""
        now = self.clock()
        try:
            self.store.heartbeat(now, self.lease_seconds)
        except Exception as exc:
            log.warning(
                "could not renew this replica's lease",
                extra={
                    "replica": self.replica_id,
                    "error": type(exc).__name__,
                    "held_until": self._held_until,
                },
            )
            return False
        with self._state:
            self._held_until = now + timedelta(seconds=self.lease_seconds)
            self._beats += 1
            housekeeping = self._beats % HOUSEKEEPING_EVERY == 1
        if housekeeping:
            self._housekeeping(now)
        return True

    def holds(self) -> bool:
        """True while the lease this replica last renewed has not run out."""
        with self._state:
            held_until = self._held_until
        return held_until is not None and self.clock() < held_until

    def _housekeeping(self, now: datetime) -> None:
        try:
            self.store.forget_replicas(now - FORGET_AFTER)
            self.store.prune_outbox(now - KEEP_DELIVERED)
        except Exception:
            log.exception("store housekeeping failed")
