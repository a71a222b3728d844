"""One `live/list` item as QuantConnect's OpenAPI file describes it (`LiveAlgorithmSummary`), with equity."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from bot.quantconnect.models import QCModel, _blank_to_none


class LiveSummary(QCModel):
    """A deployment in `live/list`: project, deploy id, status, brokerage, equity, the project's name."""

    project_id: int
    deploy_id: str | None = None
    status: str = ""
    brokerage: str | None = None
    equity: float | None = None
    description: str | None = None
    error: str | None = None

    _blank = field_validator("deploy_id", "brokerage", "description", "error", mode="before")(_blank_to_none)

    @field_validator("equity", mode="before")
    @classmethod
    def _equity(cls, value: Any) -> Any:
        return None if value in (None, "") else value
