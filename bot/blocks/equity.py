"""The status card's equity section: QuantConnect's runtime statistics of a running deployment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.blocks.common import Block, context, escape, fields_section, truncate
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


def equity_pairs(statistics: LiveStatistics) -> list[tuple[str, str]]:
    """(label, value) pairs of the statistics the card shows; QuantConnect's text escaped."""
    values = statistics.statistics
    return [(label, escape(truncate(values[key], 60))) for label, key in SHOWN if values.get(key)]


def equity_blocks(statistics: LiveStatistics | None, date: Callable[[datetime], str]) -> list[Block]:
    """The section, or nothing when QuantConnect has given no statistics yet."""
    if statistics is None:
        return []
    pairs = equity_pairs(statistics)
    if not pairs:
        return []
    return [
        fields_section(pairs),
        context(f"QuantConnect runtime statistics as of {date(statistics.read_at)}"),
    ]
