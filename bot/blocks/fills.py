"""The thread message reporting a deployment's new fills (and other final orders), within Slack's limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.blocks.common import Block, chunk_lines, context, escape, section, truncate
from bot.quantconnect.orders import FILLED, LiveOrder

# Order lines one message lists; the rest are counted ("and 37 more"). Keeps a message well inside Slack's
# 50 blocks and 3,000 characters per section whatever the burst.
MAX_LINES = 40
TEXT_LIMIT = 3000


def _number(value: float) -> str:
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def order_line(order: LiveOrder) -> str:
    """One order: id, side, quantity, symbol, price, type and status (QuantConnect's text escaped)."""
    price = "" if order.price is None else f" @ {_number(order.price)}"
    currency = f" {escape(order.price_currency)}" if order.price is not None and order.price_currency else ""
    ident = f"`#{order.id}` " if order.id is not None else ""
    return (
        f"{ident}{order.side} {_number(abs(order.quantity))} *{escape(truncate(order.ticker, 60))}*"
        f"{price}{currency} · {order.type_name} · {order.status_name}"
    )


def _title(project_name: str, orders: Sequence[LiveOrder]) -> str:
    counts = Counter(order.status_name for order in orders)
    filled = sum(1 for order in orders if order.status == FILLED)
    others = ", ".join(
        f"{count} {name.lower()}" for name, count in sorted(counts.items()) if name != "Filled"
    )
    what = f"{filled} fill{'s' if filled != 1 else ''}" + (f", {others}" if others else "")
    return f"📈 {what} for {escape(truncate(project_name, 200))}"


def fills_message(
    project_name: str, orders: Sequence[LiveOrder], dropped: Sequence[tuple[int, int | None]]
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) of one batch: up to MAX_LINES orders, then how many more."""
    title = _title(project_name, orders)
    lines = [order_line(order) for order in orders[:MAX_LINES]]
    if len(orders) > MAX_LINES:
        lines.append(f"…and {len(orders) - MAX_LINES} more")
    blocks: list[Block] = [section(title)]
    blocks += [section(chunk) for chunk in chunk_lines(lines)] if lines else []
    if dropped:
        ids = ", ".join(f"#{oid}" if oid is not None else f"index {index}" for index, oid in dropped)
        note = f"Still open and no longer followed here (too old or too many): {ids}."
        blocks.append(context(truncate(note, TEXT_LIMIT)))
    return truncate(title, TEXT_LIMIT), blocks
