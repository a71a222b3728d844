"""The status card's equity section: the equity and P&L of a running deployment, one section.

Equity comes from whichever source is newer: live/list (the watcher's bulk list, `Deployment.equity`) or the
runtime statistics of the last live/read; the P&L figures come from the runtime statistics only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.blocks.common import Block, context, escape, fields_section, truncate
from bot.store.models import Deployment
from bot.store.statistics import LiveStatistics

# (label on the card, QuantConnect's runtime statistic); shown in this order when QuantConnect gives them.
SHOWN = (
    ("Equity", "Equity"),
    ("Unrealised P&L", "Unrealized"),
    ("Total P&L", "Net Profit"),
    ("Return", "Return"),
    ("Fees", "Fees"),
    ("Holdings value", "Holdings"),
)


def listed_equity(statistics: LiveStatistics | None, deployment: Deployment | None) -> str | None:
    """live/list's equity as text when it is newer than the statistics (or they have none), else None."""
    if deployment is None or deployment.equity is None or deployment.equity_at is None:
        return None
    stated = statistics is not None and bool(statistics.statistics.get("Equity"))
    if stated and statistics is not None and statistics.read_at >= deployment.equity_at:
        return None
    return f"{deployment.equity:,.2f}"


def equity_pairs(
    statistics: LiveStatistics | None, deployment: Deployment | None = None
) -> list[tuple[str, str]]:
    """(label, value) pairs the card shows, equity the newer of live/list and the statistics; text escaped."""
    values = dict(statistics.statistics) if statistics is not None else {}
    listed = listed_equity(statistics, deployment)
    if listed is not None:
        values["Equity"] = listed
    return [(label, escape(truncate(values[key], 60))) for label, key in SHOWN if values.get(key)]


def equity_blocks(
    statistics: LiveStatistics | None,
    date: Callable[[datetime], str],
    deployment: Deployment | None = None,
) -> list[Block]:
    """The section, or nothing when QuantConnect has given neither statistics nor a listed equity yet."""
    pairs = equity_pairs(statistics, deployment)
    if not pairs:
        return []
    listed = listed_equity(statistics, deployment)
    sources = []
    if listed is not None and deployment is not None and deployment.equity_at is not None:
        sources.append(f"Equity from QuantConnect's live list as of {date(deployment.equity_at)}")
    from_statistics = {key for _, key in SHOWN if statistics is not None and statistics.statistics.get(key)}
    if listed is not None:
        from_statistics.discard("Equity")
    if statistics is not None and from_statistics:
        sources.append(f"QuantConnect runtime statistics as of {date(statistics.read_at)}")
    return [fields_section(pairs), context("; ".join(sources))]
