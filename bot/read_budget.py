"""The QuantConnect calls background reads may make (QC_READS_PER_MINUTE), shared by the readers of a replica.

Status changes are read at once and never wait for this budget. What waits is what only refreshes or adds:
runtime statistics for a card's P&L (bulk watching) and `live/orders/read` for fills. With many running
deployments each is read less often rather than QuantConnect being asked more.
"""

from __future__ import annotations

import math

from bot.token_bucket import TokenBucket


class ReadBudget(TokenBucket):
    """Refills at `per_minute` calls a minute, a minute's worth at most; 0 or less counts nothing."""

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            super().__init__(math.inf, math.inf)
        else:
            super().__init__(per_minute / 60.0, max(1.0, per_minute))


def unlimited() -> ReadBudget:
    """A budget that never says no (tests, and readers built without one)."""
    return ReadBudget(0)
