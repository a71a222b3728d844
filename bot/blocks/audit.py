"""Audit events as readable mrkdwn: one line per event, and the `/qc audit` answer split to fit a message."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from bot.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    Block,
    chunk_lines,
    context,
    escape,
    mention,
    section,
    truncate,
)
from bot.secrets.masking import redact
from bot.store.models import AuditEvent

DETAIL_VALUE_LIMIT = 200


def actor_text(actor: str) -> str:
    """A Slack user as a mention (`<@U123>`); the bot's own actors (bot, watcher, policy) as they are."""
    return mention(actor)


def detail_text(detail: Mapping[str, Any]) -> str:
    """The event detail as `key=value` pairs, each value shortened and escaped for Slack."""
    parts = []
    for key, value in detail.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{escape(str(key))}={escape(truncate(' '.join(shown.split()), DETAIL_VALUE_LIMIT))}")
    return ", ".join(parts)


def event_line(event: AuditEvent) -> str:
    """One readable line: time, actor, action, request id, detail; secrets masked."""
    when = event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    request = f" `{escape(event.request_id)}`" if event.request_id else ""
    project = (
        f" project `{event.project_id}`" if event.project_id is not None and not event.request_id else ""
    )
    detail = detail_text(event.detail)
    line = f"`{when}` {actor_text(event.actor)} *{escape(event.action)}*{request}{project}" + (
        f" — {detail}" if detail else ""
    )
    # Events are masked when written; rows written before that (or before a value was known) are masked here.
    return redact(line)


def audit_message(
    label: str, events: Sequence[AuditEvent], *, everything: bool
) -> tuple[str, list[Block] | None]:
    """The `/qc audit` answer for events found under `label` (mrkdwn): (text, blocks or None)."""
    limited = "" if everything else " Approvers see everyone's trail; you see your own requests."
    if not events:
        return f"The audit trail has no events for {label} yet.{limited}", None
    title = f"*Audit trail for {label}* — the last {len(events)} events, oldest first (times UTC)"
    sections = [section(chunk) for chunk in chunk_lines(event_line(event) for event in events)]
    footer = context(
        "Export everything with `python -m bot audit --since YYYY-MM-DD --format csv`." + limited
    )
    room = MESSAGE_BLOCK_LIMIT - 2
    return f"Audit trail for {label}: {len(events)} events", [section(title), *sections[-room:], footer]
