"""The card's redeploy parts: its Redeploy button and the links between a request and its redeploys."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Block, escape, plain
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.store.models import DeployRequest

LINKS_SHOWN = 5


def redeploy_links(request: DeployRequest, redeployed_as: Sequence[str]) -> str:
    """The card's links to the request it redeploys and to the requests that redeploy it."""
    parts = []
    if request.redeploy_of:
        parts.append(f":repeat: Redeploy of request `{escape(request.redeploy_of)}`")
    if redeployed_as:
        shown = ", ".join(f"`{escape(rid)}`" for rid in redeployed_as[-LINKS_SHOWN:])
        parts.append(f":repeat: Redeployed as {shown}")
    return " · ".join(parts)


def redeploy_actions(request: DeployRequest) -> Block:
    """Redeploy: opens the deploy modal with this request's choices (a new request, approved anew)."""
    button = {
        "type": "button",
        "text": plain("Redeploy"),
        "action_id": Action.REDEPLOY.value,
        "value": request.id,
    }
    return {"type": "actions", "block_id": BlockId.REDEPLOY_ACTIONS.value, "elements": [button]}
