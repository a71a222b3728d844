"""Typed views of QuantConnect's responses; unknown fields are ignored, names follow the API's camelCase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from bot.statuses import LIVE_TERMINAL, UNDEFINED


class QCModel(BaseModel):
    """Base of the response models: camelCase aliases, snake_case attributes, extra fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


def _blank_to_none(value: Any) -> Any:
    """QuantConnect sends "" (and sometimes "null") where it means no value."""
    if isinstance(value, str) and value.strip() in ("", "null"):
        return None
    return value


def _as_utc(value: datetime | None) -> datetime | None:
    """QuantConnect's timestamps are UTC even when they carry no offset."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Project(QCModel):
    """One project from projects/read."""

    project_id: int
    name: str
    organization_id: str | None = None
    lean_version_id: int | None = None
    language: str | None = None
    modified: datetime | None = None
    created: datetime | None = None

    _blank = field_validator("modified", "created", mode="before")(_blank_to_none)

    @field_validator("modified", "created")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class LeanVersion(QCModel):
    """One Lean version from lean/versions/read; `id` is what live/create's versionId takes."""

    id: int
    name: str | None = None
    description: str | None = None
    created: datetime | None = None
    lean_hash: str | None = None
    lean_cloud_hash: str | None = None
    ref: str | None = None
    public: bool | None = None

    _blank = field_validator("name", "description", "created", "ref", mode="before")(_blank_to_none)

    @field_validator("created")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class Compile(QCModel):
    """A compile job from compile/create or compile/read; `state` is InQueue, BuildSuccess or BuildError."""

    compile_id: str
    state: str
    project_id: int | None = None
    logs: list[str] = Field(default_factory=list)

    @field_validator("logs", mode="before")
    @classmethod
    def _logs(cls, value: Any) -> Any:
        return [] if value is None else value


class Node(QCModel):
    """One node from projects/nodes/read."""

    id: str
    name: str = ""
    busy: bool = False
    used_by: str | None = None
    has_gpu: bool = False
    sku: str | None = None
    description: str | None = None
    project_name: str | None = None
    active: bool | None = None

    _blank = field_validator("used_by", "sku", "description", "project_name", mode="before")(_blank_to_none)

    @property
    def label(self) -> str:
        """How a trader recognises the node: its name and id."""
        return f"{self.name} ({self.id})" if self.name else self.id


class ProjectNodes(QCModel):
    """Backtest, research and live nodes available to a project."""

    live: list[Node] = Field(default_factory=list)
    backtest: list[Node] = Field(default_factory=list)
    research: list[Node] = Field(default_factory=list)
    auto_select_node: bool | None = None


class LiveAlgorithm(QCModel):
    """A live deployment as live/read, live/list or live/create describe it; `status` is kept as sent."""

    project_id: int | None = None
    deploy_id: str | None = None
    status: str = UNDEFINED
    launched: datetime | None = None
    stopped: datetime | None = None
    brokerage: str | None = None
    error: str | None = None
    message: str | None = None
    project_name: str | None = None

    _blank = field_validator(
        "deploy_id", "launched", "stopped", "brokerage", "error", "message", "project_name", mode="before"
    )(_blank_to_none)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return UNDEFINED if value in (None, "") else value

    @field_validator("launched", "stopped")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    @property
    def exists(self) -> bool:
        """True when QuantConnect reports a deployment (not the Undefined placeholder)."""
        return self.deploy_id is not None and self.status != UNDEFINED

    @property
    def is_terminal(self) -> bool:
        """True once the algorithm no longer runs."""
        return self.status in LIVE_TERMINAL

    @property
    def problem(self) -> str | None:
        """QuantConnect's error text for this deployment, whichever field carried it."""
        return self.error or self.message


class LiveCreateResult(QCModel):
    """What live/create reported, in either response shape."""

    deploy_id: str
    project_id: int
    status: str | None = None
    version_id: str | None = None

    @field_validator("version_id", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        # The spec types it as an integer in responses and a string in requests; keep one type.
        return None if value in (None, "") else str(value)

    @classmethod
    def from_response(cls, payload: dict[str, Any], project_id: int) -> LiveCreateResult:
        """Parse the newer `{live: {...}}` shape or the older flat `{deployId, versionId, ...}` shape."""
        live = payload.get("live") if isinstance(payload.get("live"), dict) else {}
        deploy_id = live.get("deployId") or payload.get("deployId")
        if not deploy_id:
            raise ValueError("live/create answered success without a deployId")
        return cls(
            deploy_id=deploy_id,
            project_id=live.get("projectId") or payload.get("projectId") or project_id,
            status=live.get("status") or None,
            version_id=payload.get("versionId") or live.get("versionId"),
        )
