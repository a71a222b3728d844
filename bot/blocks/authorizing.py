"""What a card says while its request waits for a brokerage authorization on QuantConnect, and after it
expired waiting: status lines and the requester's Cancel button. Pure builders, used by bot/blocks/card.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.blocks.common import Block, escape, mention, plain, truncate
from bot.brokerages import registry
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.store.models import DeployRequest


def authorizing_line(request: DeployRequest, date: Callable[[datetime], str]) -> str:
    """Whose authorization the request waits for, until when, and that nothing runs meanwhile."""
    until = f" until {date(request.settle_deadline)}" if request.settle_deadline else ""
    return (
        f"🔐 *Waiting for {escape(registry.display_name(request.model_key))} authorization by "
        f"{mention(request.requester_id)}* — they have QuantConnect's authorization link by DM. The "
        f"deployment continues once QuantConnect holds the token; I check{until}, then the request "
        "expires. Nothing is compiled or deployed meanwhile."
    )


def expired_waiting_line(request: DeployRequest, limit: int) -> str:
    """An approved request that expired waiting for its authorization: the recorded reason."""
    return f"⌛ *Expired*: {escape(truncate(' '.join(request.errors[0].split()), limit))}"


def authorizing_actions(request: DeployRequest) -> Block:
    """Nothing is compiled or sent while authorizing: the requester may still withdraw the request."""
    cancel: dict[str, Any] = {
        "type": "button",
        "text": plain("Cancel"),
        "action_id": Action.CANCEL.value,
        "value": request.id,
    }
    return {"type": "actions", "block_id": BlockId.REQUEST_ACTIONS.value, "elements": [cancel]}
