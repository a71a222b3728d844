"""The App Home tab: requests awaiting the viewer's approval, running deployments, recently finished requests.

Pure builder. The Approve/Reject buttons are taken from the request card itself, so the Home tab and the card
always carry the same action ids, values and confirm dialogs. However many requests there are, the view stays
within Slack's 100-block limit: what does not fit is summarized with a pointer to the deploy channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks.card import (
    money_label,
    request_card,
    slack_date,
)
from bot.blocks.common import (
    MODAL_BLOCK_LIMIT,
    Block,
    chunk_lines,
    context,
    divider,
    escape,
    header,
    mention,
    section,
    truncate,
)
from bot.blocks.live_status import live_status_text
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.statuses import IN_QUEUE, RequestStatus
from bot.store.models import Deployment, DeployRequest

S = RequestStatus

HOME_BLOCK_LIMIT = MODAL_BLOCK_LIMIT
# Shown per section before the rest is summarized; pending items take two blocks (summary + buttons).
MAX_PENDING_SHOWN = 15
MAX_RUNNING_SHOWN = 25
MAX_FINISHED_SHOWN = 20
# The buttons an approver needs on the Home tab; Cancel belongs to the requester and stays on the card.
HOME_BUTTONS = frozenset({Action.APPROVE.value, Action.REJECT.value, Action.PREVIEW.value})

STATUS_ICONS: dict[RequestStatus, str] = {
    S.PENDING: "⏳",
    S.APPROVED: "✅",
    S.COMPILING: "🔨",
    S.DEPLOYING: "🚀",
    S.LIVE: "🟢",
    S.ENDED: "⏹️",
    S.FAILED: "❌",
    S.REJECTED: "🚫",
    S.CANCELLED: "↩️",
    S.EXPIRED: "⌛",
}


@dataclass(frozen=True)
class PendingItem:
    """A pending request the viewer may approve, with what its card needs."""

    request: DeployRequest
    approvals: Sequence[str]
    model_name: str


@dataclass(frozen=True)
class RunningItem:
    """A request on its way to live or live, with its deployment once there is one."""

    request: DeployRequest
    deployment: Deployment | None
    model_name: str


def card_buttons(item: PendingItem, now: datetime) -> Block | None:
    """The card's Approve/Reject/Preview buttons for one request, in a block id unique within the view."""
    _, blocks = request_card(
        item.request, approvals=item.approvals, model_name=item.model_name, now=now, deployment=None
    )
    actions = next((b for b in blocks if b.get("block_id") == BlockId.REQUEST_ACTIONS), None)
    if actions is None:
        return None
    elements = [e for e in actions["elements"] if e.get("action_id") in HOME_BUTTONS]
    # Block ids must be unique within a view; the handlers match on action_id and value only.
    return {
        "type": "actions",
        "block_id": f"{BlockId.REQUEST_ACTIONS.value}:{item.request.id}",
        "elements": elements,
    }


def _pending_summary(item: PendingItem) -> str:
    request = item.request
    given = f"{len(item.approvals)} of {request.approvals_needed} approvals"
    expires = f" · expires {slack_date(request.expires_at)}" if request.expires_at else ""
    reason = escape(truncate(" ".join(request.reason.split()), 300)) or "_no reason given_"
    return (
        f"*{money_label(request.is_paper)}* — *{escape(request.project_name)}* on {escape(item.model_name)}"
        f" with profile `{escape(request.profile)}`\n"
        f"Requested by {mention(request.requester_id)} · {given}{expires} · request `{escape(request.id)}`\n"
        f">{reason}"
    )


def _running_line(item: RunningItem) -> str:
    request = item.request
    if request.status is S.LIVE:
        qc = item.deployment.status if item.deployment is not None else IN_QUEUE
        status = live_status_text(qc)
    else:
        status = f"{STATUS_ICONS.get(request.status, '')} {request.status.value}".strip()
    deploy = f" · deploy `{escape(request.deploy_id)}`" if request.deploy_id else ""
    return (
        f"*{escape(request.project_name)}* (`{request.project_id}`) — {status}\n"
        f"{money_label(request.is_paper)} · {escape(item.model_name)} · requested by "
        f"{mention(request.requester_id)} · request `{escape(request.id)}`{deploy}"
    )


def _finished_line(request: DeployRequest) -> str:
    icon = STATUS_ICONS.get(request.status, "")
    by = (
        f" by {mention(request.decided_by)}" if request.decided_by and request.status is not S.EXPIRED else ""
    )
    problem = ""
    if request.status is S.FAILED and request.errors:
        problem = ": " + escape(truncate(" ".join(request.errors[0].split()), 120))
    return (
        f"{icon} {slack_date(request.updated_at)} *{escape(request.project_name)}* "
        f"{request.status.value}{by}{problem} · request `{escape(request.id)}`"
    )


def _more(count: int, what: str, channel_id: str) -> Block:
    return context(f"_… and {count:,} more {what} — see <#{channel_id}>_")


def home_view(
    *,
    viewer_id: str,
    is_approver: bool,
    pending: Sequence[PendingItem],
    running: Sequence[RunningItem],
    finished: Sequence[DeployRequest],
    channel_id: str,
    now: datetime,
    pending_elsewhere: int = 0,
    own_only: bool = False,
    holders: Sequence[str] = (),
) -> dict[str, Any]:
    """The Home tab for one viewer; `pending` are the requests awaiting that viewer's approval.

    `own_only`: `running` and `finished` hold only the viewer's own requests, and the headers say so.
    `holders`: for approvers, which bot replica holds which work (plain lines, see bot/holders.py).
    """
    running_title = "Your running deployments" if own_only else "Running deployments"
    finished_title = "Your last {} finished requests" if own_only else "Last {} finished requests"
    blocks: list[Block] = [
        header("QuantConnect deployments"),
        context(
            f"Requests are posted and approved in <#{channel_id}>; start one with `/qc deploy`. "
            f"Updated {slack_date(now)}."
        ),
        divider(),
        header(f"Waiting for your approval ({len(pending)})"),
    ]
    if not is_approver:
        blocks.append(
            section(
                f"{mention(viewer_id)}, you are not an approver, so nothing waits for you. "
                f"{pending_elsewhere:,} request(s) are pending in <#{channel_id}>."
            )
        )
    elif not pending:
        blocks.append(section("Nothing waits for your approval."))
    for item in pending[:MAX_PENDING_SHOWN]:
        blocks.append(section(_pending_summary(item)))
        buttons = card_buttons(item, now)
        if buttons is not None:
            blocks.append(buttons)
    if len(pending) > MAX_PENDING_SHOWN:
        blocks.append(_more(len(pending) - MAX_PENDING_SHOWN, "pending", channel_id))

    blocks += [divider(), header(f"{running_title} ({len(running)})")]
    if not running:
        blocks.append(section("No deployment is running."))
    blocks += [section(_running_line(item)) for item in running[:MAX_RUNNING_SHOWN]]
    if len(running) > MAX_RUNNING_SHOWN:
        blocks.append(_more(len(running) - MAX_RUNNING_SHOWN, "running", channel_id))

    shown_finished = list(finished[:MAX_FINISHED_SHOWN])
    blocks += [divider(), header(finished_title.format(len(shown_finished)))]
    if not shown_finished:
        blocks.append(section("No request has finished yet."))
    finished_sections = [section(chunk) for chunk in chunk_lines(_finished_line(r) for r in shown_finished)]
    # The sections above are capped, so this only trims if a future change lets them grow.
    holder_blocks: list[Block] = []
    if holders:
        holder_blocks = [divider(), header("Bot replicas and the work they hold")]
        holder_blocks += [context(chunk) for chunk in chunk_lines(escape(line) for line in holders)][:3]
    room = HOME_BLOCK_LIMIT - len(blocks) - len(holder_blocks)
    blocks += finished_sections[: max(room, 0)]
    blocks += holder_blocks
    return {"type": "home", "blocks": blocks[:HOME_BLOCK_LIMIT]}
