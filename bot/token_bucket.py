"""A token bucket on the caller's clock: how many of something may be spent now at a steady rate."""

from __future__ import annotations

import math
import threading
from datetime import datetime


class TokenBucket:
    """Refills at `rate` tokens a second up to `burst`; thread-safe (workers on two threads may share one)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: datetime | None = None
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        """True when nothing is counted (an infinite rate)."""
        return math.isinf(self.rate)

    def available(self, now: datetime) -> int:
        """Whole tokens that may be spent now."""
        if self.unlimited:
            return 1 << 30
        with self._lock:
            if self._at is not None:
                elapsed = max(0.0, (now - self._at).total_seconds())
                self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._at = now
            return max(0, int(self._tokens))

    def spend(self, count: int = 1) -> None:
        """Count tokens as spent (the bucket may go below zero: it then refills before the next spend)."""
        if self.unlimited:
            return
        with self._lock:
            self._tokens -= count
