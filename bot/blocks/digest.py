"""The daily digest: one message per channel summarising every running deployment. Pure functions only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks.common import Block, chunk_lines, context, escape, header, section, truncate
from bot.blocks.equity import listed_equity
from bot.store.models import Deployment, DeployRequest
from bot.store.statistics import LiveStatistics

MAX_LINES = 40


@dataclass(frozen=True)
class DigestRow:
    """One running deployment in the digest."""

    request: DeployRequest
    deployment: Deployment
    statistics: LiveStatistics | None
    fills: int


def digest_line(row: DigestRow) -> str:
    """Project, money, status, equity and P&L (when known), fills reported so far."""
    request = row.request
    money = "paper" if request.is_paper else "*real money*"
    parts = [f"*{escape(truncate(request.project_name, 120))}* (`{request.project_id}`)", money]
    parts.append(escape(row.deployment.status))
    values = dict(row.statistics.statistics) if row.statistics is not None else {}
    listed = listed_equity(row.statistics, row.deployment)  # the equity the card shows
    if listed is not None:
        values["Equity"] = listed
    for label, key in (("equity", "Equity"), ("total P&L", "Net Profit"), ("unrealised", "Unrealized")):
        if values.get(key):
            parts.append(f"{label} {escape(truncate(values[key], 40))}")
    parts.append(f"{row.fills} order{'s' if row.fills != 1 else ''} reported")
    return " · ".join(parts)


def digest_message(day: str, rows: Sequence[DigestRow]) -> tuple[str, list[Block]]:
    """(fallback text, blocks) of one channel's digest."""
    title = f"Daily digest {day}: {len(rows)} deployment{'s' if len(rows) != 1 else ''} running"
    lines = [digest_line(row) for row in rows[:MAX_LINES]]
    if len(rows) > MAX_LINES:
        lines.append(f"…and {len(rows) - MAX_LINES} more")
    blocks: list[Block] = [header(title)]
    blocks += [section(chunk) for chunk in chunk_lines(lines)]
    blocks.append(
        context(
            "Equity and P&L as the cards last showed them (QuantConnect's live list and runtime statistics)."
        )
    )
    return title, blocks
