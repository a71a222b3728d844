"""The `/qc orders` answer: the last orders of a running deployment, within Slack's limits."""

from __future__ import annotations

from bot.blocks.common import Block, chunk_lines, context, escape, section
from bot.blocks.fills import order_line
from bot.live_orders import OrdersAnswer


def orders_message(answer: OrdersAnswer) -> tuple[str, list[Block]]:
    """(text, blocks): one line per order, oldest first."""
    label = escape(answer.target.label)
    if not answer.orders:
        text = f"{label} has no orders yet."
        return text, [section(text)]
    title = (
        f"Last {len(answer.orders)} order{'s' if len(answer.orders) != 1 else ''} of {label}, oldest first:"
    )
    blocks: list[Block] = [section(title)]
    blocks += [section(chunk) for chunk in chunk_lines([order_line(order) for order in answer.orders])]
    note = "From QuantConnect's orders snapshot, which it refreshes about every 10 minutes."
    if answer.partial:
        note += " The history is long: these are the newest of the first pages read."
    blocks.append(context(note))
    return title, blocks
