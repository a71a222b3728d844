"""The deploy modal's Notifications section: built only when presets exist, read back and checked."""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks.modal import ModalInputs, deploy_modal
from bot.blocks.notify_fields import notification_blocks, notification_summary, presets_in_view
from bot.brokerages import registry
from bot.ids import Block
from bot.notify_form import MAX_TARGETS, parse_notifications

TOO_MANY = [f"p{i}" for i in range(MAX_TARGETS + 1)]


def _ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [str(block.get("block_id")) for block in blocks if block.get("block_id")]


@pytest.mark.parametrize("presets", [None, ()])
def test_no_presets_no_section(presets: tuple[str, ...] | None) -> None:
    assert notification_blocks(presets) == []
    view = deploy_modal(ModalInputs(presets=presets))
    assert Block.NOTIFY_EVENTS not in _ids(view["blocks"]) and presets_in_view(view) is None


def test_every_model_fits_with_the_section_and_keeps_what_was_entered() -> None:
    values = {Block.NOTIFY_EVENTS: ["insight"], Block.NOTIFY_TARGETS: ["ops-hook"]}
    for model in registry.all_models():
        view = deploy_modal(ModalInputs(model_key=model.key, presets=("ops-hook", "ops-mail"), values=values))
        ids = _ids(view["blocks"])
        assert ids.index(Block.NOTIFY_EVENTS) < ids.index(Block.NOTIFY_TARGETS) < ids.index(Block.REASON)
        events = next(b for b in view["blocks"] if b.get("block_id") == Block.NOTIFY_EVENTS)
        targets = next(b for b in view["blocks"] if b.get("block_id") == Block.NOTIFY_TARGETS)
        assert [o["value"] for o in events["element"]["initial_options"]] == ["insight"]
        assert [o["value"] for o in targets["element"]["initial_options"]] == ["ops-hook"]
        assert presets_in_view(view) == ("ops-hook", "ops-mail")


@pytest.mark.parametrize(
    ("values", "expected", "errors"),
    [
        ({}, ([], []), set()),
        (
            {Block.NOTIFY_EVENTS: ["insight", "orderEvent"], Block.NOTIFY_TARGETS: ["a", "b", "a"]},
            (["orderEvent", "insight"], ["a", "b"]),
            set(),
        ),
        ({Block.NOTIFY_EVENTS: ["orderEvent"]}, (["orderEvent"], []), {Block.NOTIFY_TARGETS}),
        ({Block.NOTIFY_TARGETS: ["a"]}, ([], ["a"]), {Block.NOTIFY_EVENTS}),
        ({Block.NOTIFY_EVENTS: ["fills"], Block.NOTIFY_TARGETS: ["a"]}, ([], ["a"]), {Block.NOTIFY_EVENTS}),
        (
            {Block.NOTIFY_EVENTS: ["insight"], Block.NOTIFY_TARGETS: ["Not A Name"]},
            (["insight"], ["Not A Name"]),
            {Block.NOTIFY_TARGETS},
        ),
        (
            {Block.NOTIFY_EVENTS: ["insight"], Block.NOTIFY_TARGETS: TOO_MANY},
            (["insight"], TOO_MANY),
            {Block.NOTIFY_TARGETS},
        ),
    ],
)
def test_parse_notifications(
    values: dict[str, Any], expected: tuple[list[str], list[str]], errors: set[str]
) -> None:
    found: dict[str, str] = {}
    assert parse_notifications(values, found) == expected
    assert set(found) == errors


def test_summary_escapes_and_names_the_presets() -> None:
    line = notification_summary(("orderEvent", "insight"), ("ops-mail", "ops-hook"))
    assert line == "*QuantConnect notifications*\nOrder events, Insights → `ops-mail`, `ops-hook`"
