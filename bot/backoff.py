"""How long to wait before trying again: exponential, capped, with jitter so replicas do not retry in step."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays after consecutive failures: `initial`, times `factor` per failure, never over `maximum`."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    # Up to this fraction of each delay is taken off at random: replicas that lost Slack together (an outage)
    # come back spread out instead of all at once.
    jitter: float = 0.5

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `failures` consecutive failed attempts (1 for the first failure)."""
        # The exponent stops growing long after the cap is reached: after about a thousand failures (hours of
        # outage) the power itself would overflow a float and end the reconnect loop.
        steps = min(max(0, failures - 1), 64)
        base = min(self.maximum, self.initial * self.factor**steps)
        return base * (1.0 - self.jitter * rand())
