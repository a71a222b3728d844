"""The clocks tests hand to the bot: moved by hand, real time plus an offset, or moved by sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class ManualClock:
    """A UTC clock tests move by hand (from now, or from `start`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


class OffsetClock:
    """Real UTC time plus an offset that tests can advance (expiry, leases) while fakes keep real time."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> None:
        """Move the bot's clock forward by `delta` or timedelta(**kwargs)."""
        with self._lock:
            self._offset += delta if delta is not None else timedelta(**kwargs)


class SleepingClock:
    """Epoch seconds that move only when the code under test sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Sleep without waiting: the clock moves by `seconds`."""
        self.sleeps.append(seconds)
        self.now += seconds
