"""What LiveOps answers about live algorithms: the values its callers render (bot/blocks/live.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.store.models import DeployRequest


@dataclass(frozen=True)
class LiveTarget:
    """A project to act on, with the bot's request for it when there is one."""

    project_id: int
    project_name: str
    request: DeployRequest | None = None

    @property
    def label(self) -> str:
        """How replies name the project."""
        return f"{self.project_name} ({self.project_id})"


@dataclass(frozen=True)
class LiveOpResult:
    """The outcome of stop / liquidate: whether it was done and a mrkdwn message for the person who asked."""

    ok: bool
    message: str
    target: LiveTarget | None = None


@dataclass(frozen=True)
class LiveRow:
    """One line of `/qc status`: a project with what QuantConnect and the store know about it."""

    project_id: int
    project_name: str
    status: str
    brokerage: str | None = None
    since: datetime | None = None
    requester_id: str | None = None
    request_id: str | None = None
    deploy_id: str | None = None
    is_paper: bool | None = None


@dataclass(frozen=True)
class StatusReport:
    """What runs, plus problems met while asking (QuantConnect down: the store's view is still shown)."""

    rows: list[LiveRow]
    problems: list[str] = field(default_factory=list)
    project: LiveTarget | None = None
