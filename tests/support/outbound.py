"""Invariants over what the bot sent to Slack: no stray mrkdwn control sequence, no secret in any spelling.

Written independently of bot/blocks/outbound.py, so that a mistake there does not hide itself here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from tests.fakes.fake_slack import TEAM_DOMAIN, SlackCall

_SEQUENCE = re.compile(r"<([^<>]*)>")
# What the bot itself may put between < and >: mentions and channels by id, dates, QuantConnect's pages and
# Slack permalinks.
_ALLOWED = (
    re.compile(r"@[UW][A-Z0-9]+"),
    re.compile(r"#C[A-Z0-9]+"),
    re.compile(r"!date\^\d+\^[^|]*\|[^|]*"),
    re.compile(r"https://www\.quantconnect\.com/project/\d+/live\|[^|]*"),
    re.compile(rf"https://{TEAM_DOMAIN}\.slack\.com/archives/[^|\s]+\|[^|]*"),
)


def mrkdwn_texts(body: Any, *, top_level: bool = True) -> Iterator[str]:
    """Every text Slack parses as mrkdwn in a message, view or answer: top-level `text` and mrkdwn objects."""
    if isinstance(body, dict):
        if top_level and isinstance(body.get("text"), str) and body.get("mrkdwn") is not False:
            yield body["text"]
        if body.get("type") == "mrkdwn" and isinstance(body.get("text"), str):
            yield body["text"]
        for key, value in body.items():
            if not (top_level and key == "text"):
                yield from mrkdwn_texts(value, top_level=False)
    elif isinstance(body, list):
        for item in body:
            yield from mrkdwn_texts(item, top_level=False)


def foreign_sequences(bodies: Iterable[Any]) -> list[str]:
    """Control sequences in mrkdwn that the bot did not build from ids and links it knows."""
    found = []
    for body in bodies:
        for text in mrkdwn_texts(body):
            for match in _SEQUENCE.finditer(text):
                if not any(allowed.fullmatch(match.group(1)) for allowed in _ALLOWED):
                    found.append(match.group(0))
    return found


def call_bodies(calls: Iterable[SlackCall]) -> list[Any]:
    """The bodies of recorded Slack calls (Web API and response_url)."""
    return [call.body for call in calls]


def spellings(value: str) -> set[str]:
    """A secret as it may appear in text: plain, JSON-escaped, repr-escaped, URL-encoded, mrkdwn-escaped."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        html.escape(value, quote=False),
    }


def leaked_spellings(secrets: Iterable[str], text: str) -> list[str]:
    """Every spelling of every secret that occurs in `text`."""
    return sorted({form for secret in secrets for form in spellings(secret) if form in text})


def leaked_secrets(secrets: Iterable[str], text: str) -> list[str]:
    """The secrets that occur in `text` as whole values, not inside a longer run of letters and digits.

    A short fake value such as a year of birth ("1985") turns up by chance inside random hex ids and
    memory addresses in a debug log; a real leak stands on its own, between quotes, spaces or punctuation.
    """
    return [
        secret
        for secret in secrets
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", text) is not None
    ]
