"""`/qc status [project]`, `/qc stop <project>`, `/qc liquidate <project>`: ack in 3 s, then answer privately.

QuantConnect can take seconds, so each command acknowledges first and answers with an ephemeral message.
Liquidate never acts from the command itself: it answers with a Liquidate button behind a confirm dialog.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.blocks.card import slack_date
from bot.blocks.common import MESSAGE_BLOCK_LIMIT, Block, context, escape, header, mention, plain, section
from bot.blocks.live_status import live_status_text
from bot.errors import BotError
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.statuses import RUNNING, RequestStatus
from handlers.commands import CommandContext, subcommand

if TYPE_CHECKING:
    from bot.live_ops import LiveRow, LiveTarget, StatusReport

log = logging.getLogger("bot.handlers.live_commands")

# Room for the header, problems and the "more" line within Slack's 50 blocks.
MAX_STATUS_ROWS = MESSAGE_BLOCK_LIMIT - 5


def status_row_text(row: LiveRow) -> str:
    """One project's line: name, status, brokerage, since, who requested it, link."""
    status = live_status_text(row.status)
    money = "" if row.is_paper is None else (" · 🧪 paper" if row.is_paper else " · 💰 real money")
    details = [f"Brokerage: {escape(row.brokerage)}" if row.brokerage else "Brokerage: unknown"]
    if row.since is not None:
        details.append(f"since {slack_date(row.since)}")
    details.append(
        f"requested by {mention(row.requester_id)}" if row.requester_id else "not deployed by this bot"
    )
    if row.request_id:
        details.append(f"request `{escape(row.request_id)}`")
    details.append(f"<{row.url}|live page>")
    return f"*{escape(row.project_name)}* (`{row.project_id}`) — {status}{money}\n" + " · ".join(details)


def status_message(report: StatusReport) -> tuple[str, list[Block]]:
    """The `/qc status` answer: (notification text, blocks) within Slack's limits."""
    title = f"Live status of {report.project.project_name}" if report.project else "What runs on QuantConnect"
    blocks: list[Block] = [header(title)]
    for problem in report.problems:
        blocks.append(section(f"⚠️ {escape(problem)}"))
    if not report.rows:
        empty = (
            f"Nothing is deployed for {escape(report.project.label)}."
            if report.project
            else "Nothing is running, and no deployment request is in flight."
        )
        blocks.append(section(empty))
    rows = report.rows[:MAX_STATUS_ROWS]
    blocks.extend(section(status_row_text(row)) for row in rows)
    if len(report.rows) > len(rows):
        blocks.append(
            context(
                f"…and {len(report.rows) - len(rows)} more; ask for one with `/qc status &lt;project&gt;`."
            )
        )
    running = sum(1 for row in report.rows if row.status == RUNNING)
    text = f"{escape(title)}: {len(report.rows)} project(s), {running} running"
    return text, blocks


def liquidate_button_value(target: LiveTarget) -> str:
    """The request id when the bot deployed what runs, else the project id."""
    if target.request is not None and target.request.status is RequestStatus.LIVE:
        return target.request.id
    return str(target.project_id)


def liquidate_confirm_message(target: LiveTarget, status_note: str) -> tuple[str, list[Block]]:
    """A message with a Liquidate button guarded by a confirm dialog (nothing happens until both clicks).

    `status_note` is mrkdwn (a LiveOpResult message, escaped where it was composed).
    """
    paper = target.request.is_paper if target.request is not None else None
    money = " with REAL MONEY" if paper is False else (" (paper)" if paper else "")
    button = {
        "type": "button",
        "action_id": Action.LIQUIDATE.value,
        "value": liquidate_button_value(target),
        "style": "danger",
        "text": plain("Liquidate"),
        "confirm": {
            "title": plain("Liquidate and stop?"),
            "text": plain(
                f"This sells or closes EVERY position of {target.label}{money} at market, "
                "then stops the algorithm."
            ),
            "confirm": plain("Liquidate"),
            "deny": plain("Cancel"),
            "style": "danger",
        },
    }
    text = f"Liquidate {escape(target.label)}? Click Liquidate and confirm to go ahead."
    blocks: list[Block] = [
        section(
            f"*Liquidate {escape(target.label)}?*\n{status_note} Liquidating closes every "
            "position at market and stops the algorithm. Nothing has happened yet."
        ),
        {"type": "actions", "block_id": BlockId.LIQUIDATE_CONFIRM.value, "elements": [button]},
    ]
    return text, blocks


def _tell(ctx: CommandContext, text: str, blocks: list[Block] | None = None) -> None:
    """Answer only the person who typed the command (after the ack)."""
    ctx.services.notifier.ephemeral(ctx.channel_id, ctx.user_id, text, blocks)


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
        _tell(ctx, decision.reason)
        return
    try:
        report = ctx.services.live_ops.status(ctx.args or None)
    except BotError as exc:
        # Error messages are plain text; the answer is mrkdwn.
        _tell(ctx, escape(str(exc)))
        return
    text, blocks = status_message(report)
    _tell(ctx, text, blocks)


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
    _tell(ctx, result.message)


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
        _tell(ctx, check.message)
        return
    text, blocks = liquidate_confirm_message(check.target, check.message)
    _tell(ctx, text, blocks)
