"""Quoting back what a person typed: one short line that cannot break the reply's formatting."""

from __future__ import annotations

import unicodedata

from bot.blocks.common import escape

ECHO_LIMIT = 40


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` as one line of at most `limit` characters, mrkdwn-escaped, for use inside `code` quotes."""
    # Control and format characters (newlines, RTL overrides, zero-width joiners) would reshape the reply.
    flat = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    flat = " ".join(flat.split()).replace("`", "'")
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return escape(flat)
