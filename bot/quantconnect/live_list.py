"""live/list read for the watcher: one light summary per deployment, read without a validation model.

The watcher reads QuantConnect's whole list every few seconds (thousands of items at scale), so each item is
turned into a small tuple of the fields it compares (OpenAPI `LiveAlgorithmSummary`); the full details of a
deployment that changed come from live/read, through the typed model.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from bot.quantconnect.errors import QuantConnectError
from bot.statuses import UNDEFINED


class LiveSummary(NamedTuple):
    """What live/list says about one deployment: enough to tell whether it changed."""

    project_id: int
    deploy_id: str | None  # None only when QuantConnect left it out: never a watched deployment
    status: str
    error: str | None
    equity: float | None
    # For the stop-all list: which brokerage it trades with and the project's name, as QuantConnect says.
    brokerage: str | None = None
    description: str | None = None


def _text(value: Any) -> str | None:
    """QuantConnect sends "" (and sometimes "null") where it means no value."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "null") else text


def _equity(value: Any) -> float | None:
    """A finite number, or None (missing, blank, or not a number: the card then shows no equity)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_live_list(payload: dict[str, Any]) -> list[LiveSummary]:
    """The summaries of a live/list answer; items without a project id are skipped.

    One without a deployment id is kept: an emergency stop-all must see every running project (it stops by
    project); the watcher never matches it with a deployment it watches.
    """
    items = payload.get("live")
    if items is None:
        return []
    if not isinstance(items, list):
        raise QuantConnectError("QuantConnect's answer to live/list could not be read (problem with: live).")
    summaries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        project_id, deploy_id = item.get("projectId"), _text(item.get("deployId"))
        if isinstance(project_id, bool) or not isinstance(project_id, int):
            continue
        summaries.append(
            LiveSummary(
                project_id=project_id,
                deploy_id=deploy_id,
                status=_text(item.get("status")) or UNDEFINED,
                error=_text(item.get("error")),
                equity=_equity(item.get("equity")),
                brokerage=_text(item.get("brokerage")),
                description=_text(item.get("description")),
            )
        )
    return summaries
