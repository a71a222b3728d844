"""The card's parts added for the trader's daily loop: where the book came from, what changes against the
previous request, the Redeploy button and the links between a request and its redeploys."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Block, context, escape, plain
from bot.book import BookSource
from bot.changes import Changes
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.store.models import DeployRequest

LINKS_SHOWN = 5


def book_source_blocks(request: DeployRequest) -> list[Block]:
    """The line saying where the request's holdings and cash came from, when they were prefilled."""
    source = BookSource.from_json(request.book_source)
    if source is None:
        return []
    # Imported here: bot/blocks/book.py builds on bot/blocks/card.py, which builds on this module.
    from bot.blocks.book import book_card_text

    return [context(book_card_text(source))]


def changes_blocks(changes: Changes | None) -> list[Block]:
    """The "What changes" section against the project's previous request, when there is one."""
    if changes is None:
        return []
    # Imported here, for the same reason as above (bot/blocks/changes.py uses card.bounded_lines).
    from bot.blocks.changes import changes_block

    return [changes_block(changes)]


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
