"""Answers about live algorithms: the `/qc status` list and the Liquidate button behind a confirm dialog."""

from __future__ import annotations

from bot.blocks.card import live_page_url, slack_date
from bot.blocks.common import MESSAGE_BLOCK_LIMIT, Block, context, escape, header, mention, plain, section
from bot.blocks.live_status import live_status_text
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.live_report import LiveRow, LiveTarget, StatusReport
from bot.statuses import RUNNING, RequestStatus

# Room for the header, problems and the "more" line within Slack's 50 blocks.
MAX_STATUS_ROWS = MESSAGE_BLOCK_LIMIT - 5


def status_row_text(row: LiveRow) -> str:
    """One project's line: name, status, brokerage, since, who requested it, link."""
    money = "" if row.is_paper is None else (" · 🧪 paper" if row.is_paper else " · 💰 real money")
    details = [f"Brokerage: {escape(row.brokerage)}" if row.brokerage else "Brokerage: unknown"]
    if row.since is not None:
        details.append(f"since {slack_date(row.since)}")
    details.append(
        f"requested by {mention(row.requester_id)}" if row.requester_id else "not deployed by this bot"
    )
    if row.request_id:
        details.append(f"request `{escape(row.request_id)}`")
    details.append(f"<{live_page_url(row.project_id)}|live page>")
    status = live_status_text(row.status)
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
