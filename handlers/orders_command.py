"""`/qc orders <project> [n]`: ack in 3 s, then the last orders privately (see bot/live_orders.py)."""

from __future__ import annotations

from bot.blocks.common import escape
from bot.blocks.orders import orders_message
from bot.errors import BotError
from handlers.commands import CommandContext, subcommand


@subcommand(
    "orders",
    "the last orders (default 20, at most 100) of a running deployment (approvers, and its requester)",
    "/qc orders Momentum 20",
)
def orders(ctx: CommandContext) -> None:
    """Answer privately: QuantConnect may take seconds, so ack first."""
    if not ctx.args:
        ctx.reply(
            "Name the project: `/qc orders &lt;project name or id&gt; [n]`, e.g. `/qc orders Momentum 20`."
        )
        return
    ctx.ack()
    query = ctx.services.orders
    if query is None:
        ctx.tell("Orders are not available in this process.")
        return
    try:
        answer = query.last_orders(ctx.args, ctx.user_id)
    except BotError as exc:
        ctx.tell(escape(str(exc)))
        return
    text, blocks = orders_message(answer)
    ctx.tell(text, blocks)
