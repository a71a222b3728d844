"""The last step before anything reaches Slack: the secret mask on every string, the mrkdwn guard on mrkdwn.

Builders escape what came from users and QuantConnect (`common.escape`); this guard is the net under them.
In every mrkdwn text (a message's top-level `text`, any `{"type": "mrkdwn"}` object in blocks, views and
confirm dialogs) a control sequence `<...>` stays only if the bot builds such sequences itself: a user or
channel mention by id, a date, a link to QuantConnect or to a Slack message. Anything else (`<!channel>`,
`<!here>`, a link elsewhere) means a builder forgot to escape: it is shown as text and logged, so a test over
every outbound call catches the builder while the channel is never pinged in the bot's voice.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from bot.blocks.common import escape
from bot.secrets.masking import redact

log = logging.getLogger("bot.outbound")

_CONTROL = re.compile(r"<([^<>]*)>")
# The control sequences the bot builds itself, from ids it knows and links it made or got from Slack.
_BUILT_BY_BOT = re.compile(
    r"""
    @[UW][A-Z0-9]+(?:\|[^|]*)?                               # <@U123>: a user mention by id
    | \#[CG][A-Z0-9]+(?:\|[^|]*)?                            # <#C123>: a channel link by id
    | !date\^\d+\^[^|]*(?:\|[^|]*)?                          # <!date^epoch^format|fallback>
    | !subteam\^S[A-Z0-9]+(?:\|[^|]*)?                       # <!subteam^S123>: a user group by id
    | https://www\.quantconnect\.com/[^\s|]*(?:\|[^|]*)?     # QuantConnect's pages (live results)
    | https://[a-z0-9-]+\.slack\.com/archives/[^\s|]*(?:\|[^|]*)?  # permalinks from chat.getPermalink
    """,
    re.VERBOSE,
)


def guard_mrkdwn(text: str) -> tuple[str, list[str]]:
    """`text` with every control sequence the bot did not build shown as text; and those sequences."""
    found: list[str] = []

    def neutralize(match: re.Match[str]) -> str:
        if _BUILT_BY_BOT.fullmatch(match.group(1)):
            return match.group(0)
        found.append(match.group(0))
        return escape(match.group(0))

    return _CONTROL.sub(neutralize, text), found


def outbound_payload(payload: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """A copy of a Slack payload with secrets masked everywhere and foreign control sequences neutralized."""
    found: list[str] = []
    out = {key: _walk(value, found) for key, value in payload.items()}
    text = out.get("text")
    if isinstance(text, str) and payload.get("mrkdwn") is not False:
        # A message's top-level text is mrkdwn (the notification and fallback text included).
        out["text"], neutralized = guard_mrkdwn(text)
        found += neutralized
    if found:
        log.warning(
            "unescaped mrkdwn control sequence shown as text: a builder forgot escape()",
            extra={"where": where, "sequences": [sequence[:80] for sequence in found[:5]]},
        )
    return out


def outbound_body(body: str, *, where: str) -> str:
    """A serialized answer to Slack (an ack's HTTP body) through `outbound_payload`, or masked as text."""
    if not body:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        cleaned = outbound_payload(parsed, where=where)
        return body if cleaned == parsed else json.dumps(cleaned)
    # A plain-text answer is shown as a message, so it is mrkdwn as well.
    text, found = guard_mrkdwn(redact(body))
    if found:
        log.warning("unescaped mrkdwn control sequence shown as text", extra={"where": where})
    return text


def _walk(value: Any, found: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        out = {key: _walk(item, found) for key, item in value.items()}
        if out.get("type") == "mrkdwn" and isinstance(out.get("text"), str):
            out["text"], neutralized = guard_mrkdwn(out["text"])
            found += neutralized
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, found) for item in value]
    return value
