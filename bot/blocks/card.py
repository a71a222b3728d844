"""The request card: one message per deploy request that shows every phase, from approval to the live status.

Pure builder: the notifier re-renders it from the store on every change and replaces the message in place.
Whatever the size of the settings or holdings, the card stays within 50 blocks and 3000 characters a section.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.blocks.authorizing import authorizing_actions, authorizing_line, expired_waiting_line
from bot.blocks.card_links import book_source_blocks, changes_blocks, redeploy_actions, redeploy_links
from bot.blocks.common import (
    Block,
    context,
    divider,
    escape,
    fields_section,
    header,
    mention,
    plain,
    section,
    truncate,
)
from bot.blocks.equity import equity_blocks
from bot.blocks.live_status import live_status_text
from bot.blocks.notify_fields import notification_summary
from bot.changes import Changes
from bot.ids import VERSION_LATEST, Action, Callback
from bot.ids import Block as BlockId
from bot.statuses import IN_QUEUE, RequestStatus
from bot.store.models import Deployment, DeployRequest
from bot.store.statistics import LiveStatistics

S = RequestStatus

# Room for settings/holdings/cash lines inside one section, leaving space for the label and the "more" line.
LIST_TEXT_BUDGET = 2600
CONFIRM_TEXT_LIMIT = 300
ONE_LINE_LIMIT = 300

QC_LIVE_URL = "https://www.quantconnect.com/project/{project_id}/live"
# QuantConnect's live/create description: -1 "can create problems with live deployments".
MASTER_WARNING = ":warning: Lean master (-1): QuantConnect advises against master for live trading."


def slack_date(moment: datetime) -> str:
    """A date Slack shows in each reader's own time zone, with an ISO fallback."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def money_label(is_paper: bool) -> str:
    """The large, unmistakable paper or real-money label."""
    return "🧪 PAPER" if is_paper else "💰 REAL MONEY"


def live_page_url(project_id: int) -> str:
    """QuantConnect's live results page of a project."""
    return QC_LIVE_URL.format(project_id=project_id)


def bounded_lines(lines: Sequence[str], budget: int = LIST_TEXT_BUDGET, *, noun: str = "lines") -> str:
    """Lines joined up to `budget` characters, then a note of how many more were left out."""
    shown: list[str] = []
    used = 0
    for line in lines:
        line = truncate(line, 200)
        if used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    rest = len(lines) - len(shown)
    if rest:
        shown.append(f"_… and {rest:,} more {noun} ({len(lines):,} in total)_")
    return "\n".join(shown)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return escape(str(value))
    return f"{number:,.8f}".rstrip("0").rstrip(".") if number != int(number) else f"{int(number):,}"


def holding_lines(holdings: Iterable[dict[str, Any]]) -> list[str]:
    """One readable line per starting position."""
    lines = []
    for item in holdings:
        symbol = escape(str(item.get("symbol", "?")))
        qty = _number(item.get("quantity"))
        price = _number(item.get("averagePrice", item.get("average_price")))
        lines.append(f"• `{symbol}` {qty} @ {price}")
    return lines


def cash_lines(cash: Iterable[dict[str, Any]]) -> list[str]:
    """One readable line per starting cash balance."""
    return [f"• {_number(item.get('amount'))} {escape(str(item.get('currency', '?')))}" for item in cash]


def setting_lines(settings: dict[str, Any]) -> list[str]:
    """One line per chosen brokerage setting (never a credential: the store refuses those)."""
    return [f"• `{escape(str(name))}`: {escape(str(value))}" for name, value in settings.items()]


def _button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(title: str, text: str, yes: str, *, danger: bool = False) -> dict[str, Any]:
    dialog: dict[str, Any] = {
        "title": plain(truncate(title, 100)),
        "text": {"type": "mrkdwn", "text": truncate(text, CONFIRM_TEXT_LIMIT)},
        "confirm": plain(yes),
        "deny": plain("Go back"),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def approve_confirm(request: DeployRequest, model_name: str) -> dict[str, Any]:
    """The confirm dialog of Approve; for real money it says so in capitals."""
    what = f"project {request.project_name} with profile {request.profile}"
    if request.is_paper:
        text = f"This deploys on PAPER trading on {model_name}: {what}."
    else:
        text = f"This deploys with REAL MONEY on {model_name}: {what}."
    return _confirm("Approve this deployment?", escape(text), "Approve", danger=not request.is_paper)


def _status_line(
    request: DeployRequest, approvals: Sequence[str], deployment: Deployment | None, now: datetime
) -> str:
    status = request.status
    if status is S.PENDING:
        if request.expires_at is not None and request.expires_at <= now:
            return "⌛ *Expired* — waiting to be closed; it can no longer be approved."
        return f"⏳ *Waiting for approval* — {len(approvals)} of {request.approvals_needed} given"
    if status is S.APPROVED:
        return "✅ *Approved* — the deployment starts now"
    if status is S.AUTHORIZING:
        return authorizing_line(request, slack_date)
    if status is S.COMPILING:
        compile_note = f" (compile `{escape(request.compile_id)}`)" if request.compile_id else ""
        return f"🔨 *Compiling the project*{compile_note}"
    if request.is_settling:
        until = f" until {slack_date(request.settle_deadline)}" if request.settle_deadline else ""
        return (
            "⏳ *Waiting for QuantConnect to confirm* — live/create was sent once and got no clear answer "
            f"({escape(request.settle_note or 'no answer')}). I ask QuantConnect{until} and never send it "
            "again; the project stays locked. Stop and Liquidate act on whatever runs on the project."
        )
    if status is S.DEPLOYING:
        return "🚀 *Deploying* — sending the algorithm to QuantConnect"
    if status is S.LIVE:
        qc = deployment.status if deployment else IN_QUEUE
        return f"*Live* — QuantConnect status: {live_status_text(qc)}"
    if status is S.ENDED:
        qc = deployment.status if deployment else "Stopped"
        return f"*Ended* — QuantConnect status: {live_status_text(qc)}"
    if status is S.FAILED:
        first = request.errors[0] if request.errors else "no reason was given"
        one_line = truncate(" ".join(first.split()), ONE_LINE_LIMIT)
        more = " (details in the thread)" if len(request.errors) > 1 or len(first) > ONE_LINE_LIMIT else ""
        return f"❌ *Failed*: {escape(one_line)}{more}"
    if status is S.REJECTED:
        by = f" by {mention(request.decided_by)}" if request.decided_by else ""
        when = f" on {slack_date(request.decided_at)}" if request.decided_at else ""
        note = (
            f"\n>{escape(truncate(request.decision_note.strip(), 1000))}"
            if request.decision_note and request.decision_note.strip()
            else "\n_No reason given._"
        )
        return f"🚫 *Rejected*{by}{when}{note}"
    if status is S.CANCELLED:
        by = f" by {mention(request.decided_by)}" if request.decided_by else ""
        when = f" on {slack_date(request.decided_at)}" if request.decided_at else ""
        return f"↩️ *Cancelled*{by}{when}"
    if status is S.EXPIRED and request.errors:  # expired after approval: waiting for an authorization
        return expired_waiting_line(request, ONE_LINE_LIMIT)
    if status is S.EXPIRED:
        when = f" on {slack_date(request.expires_at)}" if request.expires_at else ""
        given = f"{len(approvals)} of {request.approvals_needed}"
        return f"⌛ *Expired*{when} with {given} approvals; nothing was deployed"
    return f"*{escape(str(status))}*"


def _approvals_text(request: DeployRequest, approvals: Sequence[str]) -> str:
    if request.approvals_needed == 0 and not approvals:
        return "none needed"
    who = ", ".join(mention(user) for user in approvals[:10])
    if len(approvals) > 10:
        who += f" and {len(approvals) - 10} more"
    return f"{len(approvals)} of {request.approvals_needed}" + (f": {who}" if who else "")


def _node_text(request: DeployRequest) -> str:
    if request.node_used:
        return f"`{escape(request.node_used)}`"
    if request.node_id:
        return f"`{escape(request.node_id)}`"
    return "first free live node"


def request_card(
    request: DeployRequest,
    *,
    approvals: Sequence[str],
    deployment: Deployment | None = None,
    model_name: str,
    now: datetime,
    statistics: LiveStatistics | None = None,
    redeployed_as: Sequence[str] = (),
    changes: Changes | None = None,
) -> tuple[str, list[Block]]:
    """The card of a request in its current phase: (notification text, blocks).

    `redeployed_as` are the requests that redeploy this one; the card links both ways. `changes` are the
    differences against the project's previous request (bot/changes.py), shown under the reason.
    """
    money = money_label(request.is_paper)
    project = escape(request.project_name)
    status_line = _status_line(request, approvals, deployment, now)
    blocks: list[Block] = [
        header(f"{money} — deploy {request.project_name}"),
        section(status_line),
        fields_section(
            [
                ("Requested by", mention(request.requester_id)),
                ("Project", f"{project} (`{request.project_id}`)"),
                ("Brokerage", escape(model_name)),
                ("Money", "Paper trading" if request.is_paper else "*REAL MONEY*"),
                ("Credential profile", f"`{escape(request.profile)}`"),
                ("Live node", _node_text(request)),
            ]
        ),
        fields_section(
            [
                (
                    "Lean version",
                    "master (`-1`)" if request.version_id == VERSION_LATEST else escape(request.version_id),
                ),
                ("Data providers", escape(", ".join(request.data_providers)) or "QuantConnect"),
                ("Automatic redeploy", "on" if request.automatic_redeploy else "off"),
                ("Approvals", _approvals_text(request, approvals)),
            ]
            + (
                [("Expires", slack_date(request.expires_at))]
                if request.status is S.PENDING and request.expires_at is not None
                else []
            )
        ),
    ]
    if request.version_id == VERSION_LATEST:
        blocks.append(context(MASTER_WARNING))
    if request.settings:
        blocks.append(
            section("*Settings*\n" + bounded_lines(setting_lines(request.settings), noun="settings"))
        )
    if request.holdings:
        blocks.append(
            section("*Starting holdings*\n" + bounded_lines(holding_lines(request.holdings), noun="holdings"))
        )
    if request.cash:
        blocks.append(section("*Starting cash*\n" + bounded_lines(cash_lines(request.cash), noun="balances")))
    if request.notify_events:
        blocks.append(section(notification_summary(request.notify_events, request.notify_targets)))
    blocks += book_source_blocks(request)
    reason = request.reason.strip() or "(none given)"
    blocks.append(section("*Reason*\n" + escape(truncate(reason, 2000))))
    blocks += changes_blocks(changes)
    if request.status is S.LIVE:
        blocks.extend(equity_blocks(statistics, slack_date, deployment))
    blocks.extend(_phase_blocks(request, deployment, model_name, now))
    links = redeploy_links(request, redeployed_as)
    if links:
        blocks.append(context(links))
    footer = [f"Request `{escape(request.id)}`", f"updated {slack_date(request.updated_at)}"]
    if request.deploy_id:
        footer.insert(1, f"deploy `{escape(request.deploy_id)}`")
    blocks.append(context(" · ".join(footer)))
    text = f"{money} deploy request by {mention(request.requester_id)} for {project}: " + _plain_status(
        request, deployment
    )
    return truncate(text, 3000), blocks


def _plain_status(request: DeployRequest, deployment: Deployment | None) -> str:
    if request.status in (S.LIVE, S.ENDED) and deployment is not None:
        return f"{request.status.value} ({deployment.status})"
    return request.status.value


def _phase_blocks(
    request: DeployRequest, deployment: Deployment | None, model_name: str, now: datetime
) -> list[Block]:
    status = request.status
    blocks: list[Block] = []
    if status is S.PENDING and request.expires_at is not None and request.expires_at <= now:
        return blocks  # past its deadline: nothing left to click until the sweeper closes it
    if status is S.PENDING:
        blocks.append(divider())
        blocks.append(
            {
                "type": "actions",
                "block_id": BlockId.REQUEST_ACTIONS.value,
                "elements": [
                    _button(
                        "Approve",
                        Action.APPROVE,
                        request.id,
                        style="primary",
                        confirm=approve_confirm(request, model_name),
                    ),
                    _button("Reject", Action.REJECT, request.id, style="danger"),
                    _button("Cancel", Action.CANCEL, request.id),
                    _button("Preview", Action.PREVIEW, request.id),
                ],
            }
        )
        return blocks
    if status in (S.APPROVED, S.AUTHORIZING, S.COMPILING, S.DEPLOYING) and request.decided_by:
        when = f" on {slack_date(request.decided_at)}" if request.decided_at else ""
        blocks.append(context(f"Approved by {mention(request.decided_by)}{when}"))
    if status is S.AUTHORIZING:
        blocks.append(authorizing_actions(request))
    if request.deploy_id or status in (S.LIVE, S.ENDED):
        lines = [f"<{live_page_url(request.project_id)}|Open the live page on QuantConnect>"]
        if deployment is not None:
            if deployment.message:
                lines.append(escape(truncate(" ".join(deployment.message.split()), ONE_LINE_LIMIT)))
            if deployment.launched:
                lines.append(f"Launched {slack_date(deployment.launched)}")
            if deployment.stopped:
                lines.append(f"Stopped {slack_date(deployment.stopped)}")
        blocks.append(section("\n".join(lines)))
    # A settling request may be running on QuantConnect already: it keeps its emergency buttons.
    if (status is S.LIVE and (deployment is None or deployment.is_active)) or request.is_settling:
        blocks.append(
            {
                "type": "actions",
                "block_id": BlockId.LIVE_ACTIONS.value,
                "elements": [
                    _button(
                        "Stop",
                        Action.STOP,
                        request.id,
                        style="danger",
                        confirm=_confirm(
                            "Stop the algorithm?",
                            escape(
                                f"This stops {request.project_name} on {model_name}. "
                                "Open positions stay open at the brokerage."
                            ),
                            "Stop",
                            danger=True,
                        ),
                    ),
                    _button(
                        "Liquidate",
                        Action.LIQUIDATE,
                        request.id,
                        style="danger",
                        confirm=_confirm(
                            "Liquidate and stop?",
                            escape(
                                f"This sells or closes EVERY position of {request.project_name} at market on "
                                f"{model_name}"
                                + (" with REAL MONEY" if not request.is_paper else " (paper)")
                                + ", then stops the algorithm."
                            ),
                            "Liquidate",
                            danger=True,
                        ),
                    ),
                ],
            }
        )
    if status in (S.ENDED, S.FAILED):
        blocks.append(redeploy_actions(request))
    return blocks


def reject_modal(request: DeployRequest, *, private_metadata: str) -> dict[str, Any]:
    """The modal asking an approver for an optional reason before rejecting a request."""
    return {
        "type": "modal",
        "callback_id": Callback.REJECT_REASON.value,
        "title": plain("Reject request"),
        "submit": plain("Reject"),
        "close": plain("Go back"),
        "private_metadata": private_metadata,
        "blocks": [
            section(
                f"Reject {money_label(request.is_paper)} request `{escape(request.id)}` for "
                f"*{escape(request.project_name)}* by {mention(request.requester_id)}?"
            ),
            {
                "type": "input",
                "block_id": BlockId.REJECT_REASON.value,
                "optional": True,
                "label": plain("Reason (optional)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Action.VALUE.value,
                    "multiline": True,
                    "max_length": 1000,
                    "placeholder": plain("Tell the requester why, e.g. wrong trading mode"),
                },
            },
        ],
    }
