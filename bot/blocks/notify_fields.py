"""The deploy modal's optional Notifications section: which events QuantConnect notifies, and to which
preset (block ids `notify-events` and `notify-targets`, a contract in DESIGN.md). Pure functions only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import Block, context, divider, escape, header, option, plain
from bot.brokerages.notifications import EVENT_LABELS
from bot.ids import Action
from bot.ids import Block as BlockId

# Slack's limit on a select's options.
PRESET_OPTION_LIMIT = 100


def _entered(entered: Any) -> list[str]:
    return [str(value) for value in entered] if isinstance(entered, list | tuple) else []


def events_block(entered: Any = None) -> Block:
    """Checkboxes for order events and insights (optional)."""
    options = [option(label, event) for event, label in EVENT_LABELS.items()]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": Action.VALUE.value, "options": options}
    chosen = [o for o in options if o["value"] in _entered(entered)]
    if chosen:
        element["initial_options"] = chosen
    return {
        "type": "input",
        "block_id": BlockId.NOTIFY_EVENTS.value,
        "optional": True,
        "label": plain("QuantConnect notifies on"),
        "element": element,
    }


def targets_block(presets: Sequence[str], entered: Any = None) -> Block:
    """A multi-select of notification preset names (optional); the values stay in the secret store."""
    options = [option(name, name) for name in presets[:PRESET_OPTION_LIMIT]]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": Action.VALUE.value,
        "placeholder": plain("Choose notification presets"),
        "options": options,
    }
    chosen = [o for o in options if o["value"] in _entered(entered)]
    if chosen:
        element["initial_options"] = chosen
    return {
        "type": "input",
        "block_id": BlockId.NOTIFY_TARGETS.value,
        "optional": True,
        "label": plain("Send them to"),
        "element": element,
    }


def notification_blocks(
    presets: Sequence[str] | None, events: Any = None, targets: Any = None
) -> list[Block]:
    """The section; none at all while presets are unknown or none is configured (nothing to choose)."""
    if not presets:
        return []
    return [
        divider(),
        header("Notifications (optional)"),
        context(
            "QuantConnect itself emails, calls a webhook, texts or messages Telegram on the events you tick. "
            "Targets are presets kept in the secret store: header values and bot tokens are never typed here."
        ),
        events_block(events),
        targets_block(presets, targets),
    ]


def notification_summary(events: Sequence[str], presets: Sequence[str]) -> str:
    """The card's line: which QuantConnect notifications the request asks for, and which presets get them."""
    what = ", ".join(EVENT_LABELS.get(event, event) for event in events)
    where = ", ".join(f"`{escape(name)}`" for name in presets) or "no preset"
    return f"*QuantConnect notifications*\n{escape(what)} → {where}"


def presets_in_view(view: dict[str, Any] | Any) -> tuple[str, ...] | None:
    """The preset names an open view already offers (no secret-store call), or None when it shows none."""
    for block in view.get("blocks") or []:
        if block.get("block_id") == BlockId.NOTIFY_TARGETS and block.get("type") == "input":
            return tuple(str(o.get("value")) for o in (block.get("element") or {}).get("options") or [])
    return None
