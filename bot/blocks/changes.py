"""The card's "What changes" section: a request's differences against the project's previous request."""

from __future__ import annotations

from bot.blocks.card import bounded_lines
from bot.blocks.common import Block, escape, section
from bot.changes import Change, Changes

LINE_LIMIT = 300


def change_line(change: Change) -> str:
    """One difference; the switch to real money in bold with an alarm."""
    what, before, after = (escape(part) for part in (change.what, change.before, change.after))
    if change.to_real_money:
        return f"• :rotating_light: *{what}: {before} → {after}*"
    return f"• {what}: {before} → {after}"


def changes_block(changes: Changes) -> Block:
    """The section listing what differs; unchanged choices stay out."""
    head = f"*What changes* against request `{escape(changes.baseline_id)}` ({changes.baseline_status.value})"
    lines = [change_line(change)[:LINE_LIMIT] for change in changes.items]
    return section(head + "\n" + (bounded_lines(lines, noun="changes") or "_Nothing differs._"))
