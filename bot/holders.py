"""Who holds which work: one plain line per replica, for `python -m bot check` and the App Home."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store.models import Replica


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "an unknown time"


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, round((now - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def holder_line(replica: Replica, now: datetime) -> str:
    """What one replica holds and since when, in plain text (callers escape it for mrkdwn)."""
    state = (
        f"up since {_when(replica.started_at)}, last heartbeat {_ago(replica.heartbeat_at, now)}"
        if replica.alive
        else f"gone: its lease ran out {_ago(replica.lease_expires_at, now)}; any replica takes its work over"
    )
    held = [
        f"{held.status} {held.id} ({held.project_name}) since {_when(held.since)}"
        for held in replica.requests
    ]
    if replica.deployments:
        held.append(f"watching {replica.deployments} deployment{'s' if replica.deployments != 1 else ''}")
    if replica.messages:
        held.append(f"{replica.messages} Slack message{'s' if replica.messages != 1 else ''} to deliver")
    return f"{replica.id}: {state}; " + ("; ".join(held) if held else "holds nothing")


def holder_lines(replicas: Sequence[Replica], now: datetime) -> list[str]:
    """One line per replica that runs or still holds work (gone replicas holding nothing are left out)."""
    shown = [r for r in replicas if r.alive or r.requests or r.deployments or r.messages]
    if not any(r.alive for r in shown):
        return [
            "No replica is running: requests and deployments wait for the bot to start.",
            *(holder_line(r, now) for r in shown),
        ]
    return [holder_line(r, now) for r in shown]
