"""How the deploy modal and the card say where starting holdings and cash came from. Pure functions only."""

from __future__ import annotations

from bot.blocks.card import slack_date
from bot.blocks.common import Block, context, escape, truncate
from bot.book import BookOrigin, BookSource
from bot.ids import Action
from bot.ids import Block as BlockId

NOTE_LIMIT = 1900


def book_action_id(digest: str | None) -> str:
    """The action id of the holdings and cash inputs.

    Slack keeps what a person entered across views.update when block_id and action_id stay the same, which
    would hide a new prefill; a prefill therefore gets an action id of its own (parsing ignores action ids).
    """
    return f"{Action.VALUE.value}-{digest[:12]}" if digest else Action.VALUE.value


def book_origin_text(source: BookSource) -> str:
    """Where the numbers came from, in mrkdwn (`as of <time> from QuantConnect`, or the earlier request)."""
    if source.origin is BookOrigin.QUANTCONNECT:
        when = f"as of {slack_date(source.as_of)} " if source.as_of is not None else ""
        return f"{when}from QuantConnect's live portfolio"
    request = f"request `{escape(source.request_id)}`" if source.request_id else "the project's last request"
    when = f" of {slack_date(source.as_of)}" if source.as_of is not None else ""
    return f"from {request}{when} (QuantConnect shows no live deployment of this project)"


def book_note_block(source: BookSource | None, note: str | None) -> Block | None:
    """The modal's line under holdings and cash: their source and, when something went wrong, why."""
    parts: list[str] = []
    if source is not None:
        parts.append(
            f"Holdings and cash prefilled {book_origin_text(source)}. "
            + (
                "QuantConnect refreshes this snapshot about every 10 minutes: check it before you send. "
                if source.origin is BookOrigin.QUANTCONNECT
                else ""
            )
            + "Edit them if they are not what the algorithm should start with."
        )
    if note:
        parts.append(f":warning: {escape(note)}")
    if not parts:
        return None
    return {**context(truncate(" ".join(parts), NOTE_LIMIT)), "block_id": BlockId.BOOK_NOTE.value}


def book_card_text(source: BookSource) -> str:
    """The card's line about the source of holdings and cash."""
    edited = ", then edited by the requester" if source.edited else ""
    return f"Holdings and cash {book_origin_text(source)}{edited}."
