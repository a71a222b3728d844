"""The Notifications section of a submitted deploy modal: events and preset names, checked for shape.

Whether each preset exists and is complete is a secret-store question, asked at submission
(RequestService.check_notifications) beside the other look-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.brokerages.notifications import EVENT_LABELS, ordered_events
from bot.ids import Block
from bot.secrets.keys import is_segment

MAX_TARGETS = 10


def _chosen(raw: Any) -> list[str]:
    return list(dict.fromkeys(str(value) for value in raw)) if isinstance(raw, list) else []


def parse_notifications(values: Mapping[str, Any], errors: dict[str, str]) -> tuple[list[str], list[str]]:
    """(events in lean-cli's order, preset names); problems go into `errors` next to their block."""
    events = _chosen(values.get(Block.NOTIFY_EVENTS))
    targets = _chosen(values.get(Block.NOTIFY_TARGETS))
    unknown = [event for event in events if event not in EVENT_LABELS]
    if unknown:
        errors[Block.NOTIFY_EVENTS] = (
            f"{', '.join(unknown)} is not a QuantConnect notification event: tick Order events or Insights."
        )
    bad_names = [name for name in targets if not is_segment(name)]
    if bad_names:
        errors[Block.NOTIFY_TARGETS] = f"{', '.join(bad_names)} is not a preset name: choose from the list."
    elif len(targets) > MAX_TARGETS:
        errors[Block.NOTIFY_TARGETS] = f"Choose at most {MAX_TARGETS} notification presets."
    elif events and not targets:
        errors[Block.NOTIFY_TARGETS] = (
            "Choose at least one preset to send the notifications to, or untick the events."
        )
    elif targets and not events and Block.NOTIFY_EVENTS not in errors:
        errors[Block.NOTIFY_EVENTS] = (
            "Tick the events QuantConnect should notify about (order events, insights), or clear the presets."
        )
    return list(ordered_events(events)), targets
