"""Reading the fills the bot reported in a card's thread: order ids listed, and orders only counted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_ID = re.compile(r"`#(\d+)`")
_MORE = re.compile(r"…and (\d+) more")


def fill_messages(payloads: Iterable[dict[str, Any]]) -> list[str]:
    """The mrkdwn of every fills message (title and order sections), one string per message."""
    texts = []
    for payload in payloads:
        if not str(payload.get("text") or "").startswith("📈"):
            continue
        parts = [
            str((block.get("text") or {}).get("text") or "")
            for block in payload.get("blocks") or []
            if block.get("type") == "section"
        ]
        texts.append("\n".join(parts))
    return texts


def listed_ids(messages: Iterable[str]) -> list[int]:
    """Order ids listed in the messages, in order (duplicates kept, so tests can see them)."""
    return [int(found) for text in messages for found in _ID.findall(text)]


def counted(messages: Iterable[str]) -> int:
    """Orders the messages account for: listed ones plus every `…and N more`."""
    return sum(len(_ID.findall(text)) + sum(int(n) for n in _MORE.findall(text)) for text in messages)
