"""The QuantConnect calls background reads may make (QC_READS_PER_MINUTE), shared by the readers of a replica.

Status changes are read at once and never wait for this budget. What waits is what only refreshes or adds:
runtime statistics for a card's P&L (bulk watching) and `live/orders/read` for fills. With many running
deployments each is read less often rather than QuantConnect being asked more.

Each reader has an equal share, so neither starves the other (a thousand first reads of orders after a start
do not stop P&L refreshes for hours, nor the reverse); a share its reader leaves unspent flows to the others.
"""

from __future__ import annotations

import threading
from datetime import datetime

FILLS = "fills"
STATISTICS = "statistics"
READERS = (FILLS, STATISTICS)
# What `available` answers without a limit.
NO_LIMIT = 1 << 30


class ReadBudget:
    """Refills at `per_minute` calls a minute split evenly between READERS; 0 or less counts nothing."""

    def __init__(self, per_minute: float) -> None:
        self.unlimited = per_minute <= 0
        share = max(per_minute, 0.0) / len(READERS)
        self.rate = share / 60.0  # per reader, per second
        self.burst = max(1.0, share)  # per reader: about a minute's share, at least one call
        # Empty at first: a start (or a restart loop) adds no burst to what QuantConnect is asked.
        self._tokens = dict.fromkeys(READERS, 0.0)
        self._at: datetime | None = None
        self._lock = threading.Lock()

    def share(self, reader: str) -> ReadShare:
        """The view one reader spends from."""
        if reader not in self._tokens:
            raise ValueError(f"unknown reader {reader!r}; expected one of {READERS}")
        return ReadShare(self, reader)

    def available(self, reader: str, now: datetime) -> int:
        """Whole calls `reader` may make now."""
        if self.unlimited:
            return NO_LIMIT
        with self._lock:
            self._refill(now)
            return max(0, int(self._tokens[reader]))

    def spend(self, reader: str, count: int = 1) -> None:
        """Count calls as made (a share may go below zero: it then refills before the next call)."""
        if self.unlimited:
            return
        with self._lock:
            self._tokens[reader] -= count

    def _refill(self, now: datetime) -> None:
        """Add what the time since the last look brought; a full share's overflow goes to the others."""
        elapsed = 0.0 if self._at is None else max(0.0, (now - self._at).total_seconds())
        self._at = now
        spill = 0.0
        for reader in READERS:
            self._tokens[reader] += elapsed * self.rate
            if self._tokens[reader] > self.burst:
                spill += self._tokens[reader] - self.burst
                self._tokens[reader] = self.burst
        for reader in READERS:
            room = self.burst - self._tokens[reader]
            if spill <= 0:
                break
            if room > 0:
                taken = min(room, spill)
                self._tokens[reader] += taken
                spill -= taken


class ReadShare:
    """One reader's view of the budget: how many calls it may make now, and what it made."""

    def __init__(self, budget: ReadBudget, reader: str) -> None:
        self.budget = budget
        self.reader = reader

    def available(self, now: datetime) -> int:
        """Whole calls this reader may make now."""
        return self.budget.available(self.reader, now)

    def spend(self, count: int = 1) -> None:
        """Count calls as made."""
        self.budget.spend(self.reader, count)


def unlimited(reader: str) -> ReadShare:
    """A share that never says no (tests, and readers built without a budget)."""
    return ReadBudget(0).share(reader)
