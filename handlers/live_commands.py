"""`/qc status [project]`, `/qc stop <project>`, `/qc liquidate <project>`: ack in 3 s, then answer privately.

QuantConnect can take seconds, so each command acknowledges first and answers with an ephemeral message.
Liquidate never acts from the command itself: it answers with a Liquidate button behind a confirm dialog.
"""

from __future__ import annotations

import logging

from bot.blocks.common import escape
from bot.blocks.live import liquidate_confirm_message, status_message
from bot.errors import BotError
from handlers.commands import CommandContext, subcommand

log = logging.getLogger("bot.handlers.live_commands")


def _usage(ctx: CommandContext, command: str) -> None:
    ctx.reply(
        f"Name the project: `/qc {command} &lt;project name or id&gt;`, "
        f"e.g. `/qc {command} Momentum Strategy`."
    )


@subcommand(
    "status",
    "what runs on QuantConnect now, or the latest state of one project (requesters and approvers)",
    "/qc status Momentum",
)
def status(ctx: CommandContext) -> None:
    """List running algorithms (live/list plus the bot's own in-flight requests) to whoever may request."""
    ctx.ack()
    decision = ctx.services.policy.may_view_status(ctx.user_id)
    if not decision:
        ctx.tell(decision.reason)
        return
    try:
        report = ctx.services.live_ops.status(ctx.args or None)
    except BotError as exc:
        # Error messages are plain text; the answer is mrkdwn.
        ctx.tell(escape(str(exc)))
        return
    text, blocks = status_message(report)
    ctx.tell(text, blocks)


@subcommand(
    "stop", "stop a project's live algorithm (positions stay open; approvers only)", "/qc stop Momentum"
)
def stop(ctx: CommandContext) -> None:
    """Stop at once: the command itself is the deliberate act (the card button has a confirm dialog)."""
    if not ctx.args:
        _usage(ctx, "stop")
        return
    ctx.ack()
    result = ctx.services.live_ops.stop(ctx.args, ctx.user_id)
    log.info("stop command", extra={"user_id": ctx.user_id, "ok": result.ok})
    ctx.tell(result.message)


@subcommand(
    "liquidate",
    "close every position of a project's live algorithm and stop it (asks to confirm; approvers only)",
    "/qc liquidate Momentum",
)
def liquidate(ctx: CommandContext) -> None:
    """Answer with a Liquidate button behind a confirm dialog instead of acting at once."""
    if not ctx.args:
        _usage(ctx, "liquidate")
        return
    ctx.ack()
    check = ctx.services.live_ops.check("liquidate", ctx.args, ctx.user_id)
    if not check.ok or check.target is None:
        ctx.tell(check.message)
        return
    text, blocks = liquidate_confirm_message(check.target, check.message)
    ctx.tell(text, blocks)
