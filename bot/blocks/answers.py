"""What the person who asked is told about their request (mrkdwn): posted, not posted yet, or closed."""

from __future__ import annotations

from bot.blocks.card import slack_date
from bot.blocks.common import escape, mention
from bot.statuses import ACTIVE, RequestStatus
from bot.store.models import DeployRequest

S = RequestStatus


def posted_message(request: DeployRequest, channel: str, link: str | None) -> str:
    """The requester's confirmation that the card is posted, with a link and what happens next."""
    card = f"<{link}|the request card>" if link else f"the request card in <#{channel}>"
    if request.status is S.APPROVED:
        next_step = "It needs no approval, so the deployment starts now."
    else:
        needed = request.approvals_needed
        next_step = (
            f"It needs {needed} approval{'s' if needed != 1 else ''} before "
            f"{slack_date(request.expires_at) if request.expires_at else 'it expires'}."
        )
    return (
        f"Your deploy request `{escape(request.id)}` for *{escape(request.project_name)}* is posted: "
        f"{card}. " + next_step
    )


def not_posted_message(request: DeployRequest, channel: str) -> str:
    """The requester's note that the request is stored but Slack refused its card for now."""
    return (
        f"Your request `{escape(request.id)}` for *{escape(request.project_name)}* is saved, but I "
        f"could not post it to <#{channel}> yet; I will keep trying."
    )


def closed_message(request: DeployRequest) -> str:
    """Plain words for a request that is no longer waiting for a decision."""
    rid = f"Request `{escape(request.id)}`"
    by = f" by {mention(request.decided_by)}" if request.decided_by and request.decided_by != "policy" else ""
    status = request.status
    if status is S.EXPIRED:
        when = f" on {slack_date(request.expires_at)}" if request.expires_at else ""
        return (
            f"{rid} expired{when} before it had enough approvals; nothing was deployed. "
            "Ask again with `/qc deploy`."
        )
    if status is S.REJECTED:
        return f"{rid} was already rejected{by}."
    if status is S.CANCELLED:
        return f"{rid} was cancelled{by}."
    if status in ACTIVE:
        return f"{rid} was already approved{by}; it is {status.value} now."
    return f"{rid} has already finished ({status.value})."
