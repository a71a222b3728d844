"""The emergency stop-all as values: what it may do, what it acts on, and what came of each deployment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StopMode(StrEnum):
    """Stop (positions stay open) or liquidate (close every position, then stop)."""

    STOP = "stop"
    LIQUIDATE = "liquidate"

    @property
    def word(self) -> str:
        """The word a person types to confirm: STOP or LIQUIDATE."""
        return self.value.upper()


class StopResult(StrEnum):
    """What QuantConnect said about one deployment of a stop-all."""

    DONE = "done"
    ALREADY_STOPPED = "already stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class StopTarget:
    """A running deployment QuantConnect reports; paper only when the bot's own request says so."""

    project_id: int
    deploy_id: str | None
    name: str
    brokerage: str | None
    equity: float | None
    is_paper: bool
    request_id: str | None = None

    @property
    def label(self) -> str:
        """How the list and the report name the deployment."""
        return f"{self.name} ({self.project_id})"


@dataclass(frozen=True)
class StopOutcome:
    """The outcome for one deployment; `error` is QuantConnect's words when it failed."""

    target: StopTarget
    result: StopResult
    error: str | None = None
