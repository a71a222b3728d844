"""The validated content of a deploy modal submission: what the modal hands to the request service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DeployForm(BaseModel):
    """A deploy request as the requester filled it in. Holds choices only, never a credential."""

    model_config = ConfigDict(frozen=True)

    model_key: str = Field(description="Seed model name of the brokerage, e.g. InteractiveBrokersSettings")
    profile: str = Field(description="Credential profile name (the secret store holds the values)")
    project_id: int
    project_name: str
    node_id: str | None = Field(default=None, description="A live node id, or None for the first free one")
    version_id: str = Field(description="Lean version id, or -1 for master (only when chosen on purpose)")
    settings: dict[str, Any] = Field(default_factory=dict, description="Cleaned setting fields, QC names")
    holdings: list[dict[str, Any]] = Field(default_factory=list, description="BrokerageHolding dicts")
    cash: list[dict[str, Any]] = Field(default_factory=list, description="CashAmount dicts")
    data_providers: list[str] = Field(default_factory=lambda: ["QuantConnectBrokerage"])
    automatic_redeploy: bool = False
    notify_events: list[str] = Field(default_factory=list, description="orderEvent and/or insight")
    notify_targets: list[str] = Field(default_factory=list, description="Notification preset names")
    reason: str
    book_source: dict[str, Any] | None = Field(
        default=None, description="Where holdings and cash came from (bot/book.py BookSource), if prefilled"
    )
    redeploy_of: str | None = Field(default=None, description="The earlier request this one redeploys")
