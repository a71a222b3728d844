"""A share of a channel's Slack pace for card refreshes that can wait (equity, P&L), as a token bucket.

Status changes cost two writes each (card and reply) and must not queue behind refreshes that only repeat a
number: refreshes may spend at most REFRESH_SHARE_OF_CHANNEL of the channel's writes.
"""

from __future__ import annotations

import math
from datetime import datetime

# The share of the channel's Slack writes (SLACK_CHANNEL_INTERVAL_SECONDS) card refreshes may use.
REFRESH_SHARE_OF_CHANNEL = 0.2
# At most this many refreshes may be spent at once, however long the bucket filled.
MAX_BURST = 50.0


class RefreshBudget:
    """How many card refreshes may be spent now; it refills at a share of the channel's pace."""

    def __init__(self, channel_interval_seconds: float, pass_seconds: float) -> None:
        self.rate = (
            math.inf if channel_interval_seconds <= 0 else REFRESH_SHARE_OF_CHANNEL / channel_interval_seconds
        )
        self.burst = max(1.0, min(self.rate * pass_seconds, MAX_BURST))
        self._tokens = self.burst
        self._at: datetime | None = None

    def available(self, now: datetime) -> int:
        """Whole refreshes that may be spent now."""
        if self._at is not None:
            elapsed = max(0.0, (now - self._at).total_seconds())
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._at = now
        return int(self._tokens)

    def spend(self, count: int) -> None:
        """Count refreshes as spent."""
        self._tokens -= count
