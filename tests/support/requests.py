"""Deploy requests as tests build them: a new one for the store, or one as the store hands it out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.statuses import RequestStatus
from bot.store import DeployRequest, NewRequest

S = RequestStatus

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# When `stored_request` was created and last changed.
STORED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def new_request(**overrides: Any) -> NewRequest:
    """A valid live IB request needing one approval; override any field."""
    values: dict[str, Any] = {
        "project_id": 101,
        "project_name": "Momentum",
        "model_key": "InteractiveBrokersSettings",
        "brokerage_id": "InteractiveBrokersBrokerage",
        "profile": "ib-main",
        "version_id": "-1",
        "node_id": None,
        "settings": {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"},
        "holdings": [],
        "cash": [{"amount": 1000, "currency": "USD"}],
        "data_providers": ("InteractiveBrokersBrokerage", "QuantConnectBrokerage"),
        "automatic_redeploy": True,
        "reason": "rebalance",
        "requester_id": "U-REQ",
        "is_paper": False,
        "approvals_needed": 1,
        "channel_id": "C-DEPLOY",
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(overrides)
    return NewRequest(**values)


def stored_request(**overrides: Any) -> DeployRequest:
    """A stored-looking request with sensible values, changed by `overrides`."""
    values: dict[str, Any] = {
        "id": "r-0001abcd",
        "project_id": 12345,
        "project_name": "Momentum <Alpha> & Co",
        "model_key": "InteractiveBrokersSettings",
        "brokerage_id": "InteractiveBrokersBrokerage",
        "profile": "ib-main",
        "node_id": None,
        "version_id": "17202",
        "settings": {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"},
        "holdings": [],
        "cash": [],
        "data_providers": ("QuantConnectBrokerage",),
        "automatic_redeploy": False,
        "reason": "Rebalance after the FOMC meeting",
        "requester_id": "UREQUESTER",
        "is_paper": False,
        "approvals_needed": 2,
        "status": S.PENDING,
        "channel_id": "CDEPLOY",
        "message_ts": "1714564800.000100",
        "compile_id": None,
        "node_used": None,
        "deploy_id": None,
        "errors": (),
        "created_at": STORED_AT,
        "updated_at": STORED_AT,
        "expires_at": STORED_AT + timedelta(minutes=60),
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
        "dedupe_key": None,
        "revision": 1,
    }
    values.update(overrides)
    return DeployRequest.model_validate(values)
