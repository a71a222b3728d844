"""Small Block Kit helpers shared by every builder, and splitting long lists to fit Slack's limits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

SECTION_TEXT_LIMIT = 3000
MESSAGE_BLOCK_LIMIT = 50
MODAL_BLOCK_LIMIT = 100
PLAIN_TEXT_LABEL_LIMIT = 2000
OPTION_TEXT_LIMIT = 75
VIEW_TITLE_LIMIT = 24

Block = dict[str, Any]


def plain(text: str, *, emoji: bool = True) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text, "emoji": emoji}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def section(text: str, *, block_id: str | None = None, accessory: dict[str, Any] | None = None) -> Block:
    """A section block; text longer than Slack's limit is truncated with a visible marker."""
    block: Block = {"type": "section", "text": mrkdwn(truncate(text, SECTION_TEXT_LIMIT))}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields_section(pairs: Sequence[tuple[str, str]]) -> Block:
    """A section of up to 10 two-column `*label*\nvalue` fields."""
    return {
        "type": "section",
        "fields": [
            mrkdwn(truncate(f"*{label}*\n{value}", PLAIN_TEXT_LABEL_LIMIT)) for label, value in pairs[:10]
        ],
    }


def header(text: str) -> Block:
    """A header block (150 characters at most)."""
    return {"type": "header", "text": plain(truncate(text, 150))}


def context(*texts: str) -> Block:
    """A context block of small mrkdwn texts."""
    return {"type": "context", "elements": [mrkdwn(truncate(t, SECTION_TEXT_LIMIT)) for t in texts[:10]]}


def divider() -> Block:
    """A divider block."""
    return {"type": "divider"}


def option(text: str, value: str) -> dict[str, Any]:
    """An option for selects (text at most 75 characters, value at most 150)."""
    return {"text": plain(truncate(text, OPTION_TEXT_LIMIT)), "value": value[:150]}


def truncate(text: str, limit: int) -> str:
    """Text cut to `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mention(user_id: str) -> str:
    """`<@U123>` for a Slack user id; anything else (the bot's own actors such as `policy`) as italic text."""
    return f"<@{user_id}>" if _SLACK_USER_ID.match(user_id) else f"_{escape(user_id)}_"


def chunk_lines(lines: Iterable[str], limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """Join lines into chunks of at most `limit` characters; a single overlong line is split."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def error_list_messages(
    title: str, errors: Sequence[str], *, max_blocks: int = MESSAGE_BLOCK_LIMIT
) -> list[list[Block]]:
    """A readable bulleted error list as messages, each within Slack's section and block limits."""
    bullets = [f"• {escape(e.strip())}" for e in errors if e and e.strip()] or ["• (no details were given)"]
    sections = [section(chunk) for chunk in chunk_lines(bullets)]
    messages: list[list[Block]] = []
    first_capacity = max_blocks - 1  # the title takes one block in the first message
    messages.append([section(f"*{escape(title)}*"), *sections[:first_capacity]])
    rest = sections[first_capacity:]
    while rest:
        messages.append(rest[:max_blocks])
        rest = rest[max_blocks:]
    return messages
