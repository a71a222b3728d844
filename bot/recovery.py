"""Recovery: at start and every few seconds, carry on the deploy work nobody alive runs, and heal.

Every replica runs it. A request whose owner's lease expired is claimed by exactly one replica (a
compare-and-set in the store) and resumed where it stands: compiled again if it had not reached
live/create, settled through live/read if it had. Self-healing runs less often, since it asks QuantConnect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.periodic import PeriodicWorker

if TYPE_CHECKING:
    from bot.deployer import Deployer

log = logging.getLogger("bot.recovery")


class Recovery(PeriodicWorker):
    """Runs `deployer.resume()` every `interval` seconds and `deployer.heal()` every `heal_interval`."""

    name = "recovery"

    def __init__(
        self,
        deployer: Deployer,
        *,
        interval: float,
        heal_interval: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval)
        self.deployer = deployer
        self.heal_interval = heal_interval
        self._monotonic = monotonic
        self._next_heal = 0.0

    def run_pass(self) -> list[str]:
        """One round: resume what is due or orphaned; heal when it is time. Returns the ids acted on."""
        acted = self.deployer.resume()
        if self._monotonic() >= self._next_heal:
            self._next_heal = self._monotonic() + self.heal_interval
            acted += self.deployer.heal()
        return acted
