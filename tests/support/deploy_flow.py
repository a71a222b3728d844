"""The deploy modal driven as a person drives it, through the harness's transport (HTTP or Socket Mode).

Each step sends what Slack sends (a command, a select change, a submission) and returns the view as Slack
then holds it, so that the next step starts from what the person sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.ids import Action, Block
from tests.fakes.fake_slack import SlackCall
from tests.fakes.slack_requests import new_trigger_id, state_from_view, state_values
from tests.support.bot import REQUESTER, BotHarness


def block_of(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The block with `block_id` in `view`."""
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def view_update(bot: BotHarness, view_id: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Wait for a views.update of `view_id` whose view passes `check`; returns the view as Slack holds it."""

    def matches(call: SlackCall) -> bool:
        return call.body.get("view_id") == view_id and check(call.body["view"])

    call = bot.slack.wait_for("views.update", matches, timeout=10)
    return call.response["view"]


def open_deploy_modal(bot: BotHarness, text: str = "deploy", user_id: str = REQUESTER) -> dict[str, Any]:
    """Run the command and return the opened view as Slack holds it (id, hash)."""
    trigger = new_trigger_id()
    response = bot.sender.command(text, user_id=user_id, trigger_id=trigger, channel_id="CWORK")
    assert response.status_code == 200
    call = bot.slack.wait_for("views.open", lambda c: c.body.get("trigger_id") == trigger)
    return call.response["view"]


def with_state(view: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The view as the next payload carries it: its current state filled in by the person."""
    filled = dict(view)
    filled["state"] = {"values": state_values(view, state_from_view(view, overrides or {}))}
    return filled


def choose_brokerage(
    bot: BotHarness, view: dict[str, Any], model_key: str, **overrides: Any
) -> dict[str, Any]:
    """Pick `model_key` in the brokerage select (other fields as `overrides`); returns the rebuilt modal."""
    options = block_of(view, Block.BROKERAGE)["element"]["options"]
    chosen = next(o for o in options if o["value"] == model_key)
    response = bot.sender.action(
        Action.BROKERAGE_SELECT,
        user_id=REQUESTER,
        view=with_state(view, {Block.BROKERAGE: model_key, **overrides}),
        block_id=Block.BROKERAGE,
        action_type="static_select",
        selected_option=chosen,
    )
    assert response.status_code == 200
    return view_update(
        bot,
        view["id"],
        lambda v: block_of(v, Block.BROKERAGE)["element"].get("initial_option", {}).get("value") == model_key,
    )


def choose_project(bot: BotHarness, view: dict[str, Any], project_id: int, name: str) -> dict[str, Any]:
    """Pick a project in the type-ahead; returns the modal once its nodes are listed."""
    option = {"text": {"type": "plain_text", "text": f"{name} ({project_id})"}, "value": str(project_id)}
    response = bot.sender.action(
        Action.PROJECT_SELECT,
        user_id=REQUESTER,
        view=with_state(view, {Block.PROJECT: option}),
        block_id=Block.PROJECT,
        action_type="external_select",
        selected_option=option,
    )
    assert response.status_code == 200
    return view_update(bot, view["id"], lambda v: len(block_of(v, Block.NODE)["element"]["options"]) > 1)


def submit_modal(bot: BotHarness, view: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any] | None:
    """Submit the modal; returns the JSON the app answered (None for a plain acknowledgement)."""
    response = bot.sender.submit(view, state_from_view(view, overrides), user_id=REQUESTER)
    assert response.status_code == 200
    return json.loads(response.text) if response.text.strip() else None
