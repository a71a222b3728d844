"""Redeploy end to end through the signed HTTP app: the card's Redeploy button and `/qc redeploy <project>`
open the deploy modal with the earlier request's choices; the submission is a new request with its own
approval, linked to the earlier one on both cards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Action, Block, Callback
from bot.statuses import RequestStatus
from bot.store import DeployRequest
from tests.fakes.slack_requests import new_trigger_id
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.deploy_flow import block_of, submit_modal, view_update
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import (
    approve_if_needed,
    ask,
    card_message,
    card_ts,
    click,
    wait_for,
    wait_live_status,
)
from tests.support.waiting import eventually

S = RequestStatus
IB = ("InteractiveBrokersBrokerage", EXAMPLE_PROFILES["InteractiveBrokersSettings"][1])


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    profiles = {"ib-main": IB, "ib-spare": IB}
    with running_bot(tmp_path_factory.mktemp("redeploy"), profiles=profiles) as harness:
        yield harness


def _ended(bot: BotHarness, name: str) -> DeployRequest:
    """A real-money IB request that was approved, ran, and was stopped through the bot."""
    request = ask(bot, name)
    request = eventually(lambda: card_ts(bot, request.id) and bot.services.store.get_request(request.id))
    approve_if_needed(bot, request)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    click(bot, Action.STOP, request.id, APPROVERS[0])
    return wait_for(bot, request.id, {S.ENDED})


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        e.get("action_id") for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]
    ]


def _redeploy_view(bot: BotHarness, old_id: str) -> dict[str, Any]:
    """The redeploy modal once its nodes, versions and book are filled in."""

    def redeploys(view: dict[str, Any]) -> bool:
        return json.loads(view.get("private_metadata") or "{}").get("redeploy_of") == old_id

    opened = bot.slack.wait_for("views.open", lambda c: redeploys(c.body["view"]))
    view = opened.response["view"]
    assert view["callback_id"] == Callback.DEPLOY
    return view_update(
        bot, view["id"], lambda v: redeploys(v) and len(block_of(v, Block.NODE)["element"]["options"]) > 1
    )


def _card(bot: BotHarness, request_id: str) -> str:
    return json.dumps(card_message(bot, request_id))


def test_redeploy_button_opens_the_same_choices_and_needs_a_new_approval(bot: BotHarness) -> None:
    old = _ended(bot, "Redeploy Alpha")
    card = eventually(lambda: (m := card_message(bot, old.id)) and Action.REDEPLOY in _buttons(m) and m)
    assert (
        bot.sender.action(
            Action.REDEPLOY, old.id, user_id=REQUESTER, channel_id=DEPLOY_CHANNEL, message=card
        ).status_code
        == 200
    )
    view = _redeploy_view(bot, old.id)
    assert (
        block_of(view, Block.BROKERAGE)["element"]["initial_option"]["value"] == "InteractiveBrokersSettings"
    )
    assert block_of(view, Block.PROFILE)["element"]["initial_option"]["value"] == "ib-main"
    assert block_of(view, "ib-trading-mode")["element"]["initial_option"]["value"] == "live"
    assert block_of(view, Block.VERSION)["element"]["initial_option"]["value"] == old.version_id
    assert f"Redeploy of request `{old.id}`" in json.dumps(view["blocks"])

    assert submit_modal(bot, view, {Block.REASON: "Code fix, same settings"}) is None
    new = eventually(
        lambda: next(
            (r for r in bot.services.store.list_requests(project_id=old.project_id) if r.id != old.id), None
        )
    )
    assert new.redeploy_of == old.id and new.status is S.PENDING and new.approvals_needed == 1
    assert (new.model_key, new.profile, new.settings, new.version_id) == (
        old.model_key,
        old.profile,
        old.settings,
        old.version_id,
    )
    eventually(lambda: card_ts(bot, new.id) and f"Redeploy of request `{old.id}`" in _card(bot, new.id))
    eventually(lambda: f"Redeployed as `{new.id}`" in _card(bot, old.id), what="old card links the new one")
    # Its own approval: nothing deploys until an approver clicks.
    assert bot.services.store.get_request(new.id).status is S.PENDING  # type: ignore[union-attr]
    approve_if_needed(bot, bot.services.store.get_request(new.id))  # type: ignore[arg-type]
    wait_for(bot, new.id, {S.LIVE})


def test_qc_redeploy_takes_the_projects_last_request(bot: BotHarness) -> None:
    old = _ended(bot, "Redeploy Beta")
    trigger = new_trigger_id()
    response = bot.sender.command(
        "redeploy Redeploy Beta", user_id=REQUESTER, trigger_id=trigger, channel_id="CWORK"
    )
    assert response.status_code == 200
    view = _redeploy_view(bot, old.id)
    assert json.loads(view["private_metadata"])["channel_id"] == "CWORK"


def test_redeploy_of_a_running_project_is_refused_with_the_reason(bot: BotHarness) -> None:
    old = _ended(bot, "Redeploy Gamma")
    pending = ask(bot, "Redeploy Gamma Two")
    response = bot.sender.command(f"redeploy {pending.id}", user_id=REQUESTER, trigger_id=new_trigger_id())
    assert response.status_code == 200
    told = bot.slack.wait_for("response_url", lambda c: pending.id in json.dumps(c.body))
    assert "still pending" in json.dumps(told.body)
    unknown = bot.sender.command("redeploy Never Deployed", user_id=REQUESTER, trigger_id=new_trigger_id())
    assert unknown.status_code == 200
    bot.slack.wait_for("response_url", lambda c: "no earlier request" in json.dumps(c.body))
    assert old.status is S.ENDED


def test_a_profile_that_no_longer_exists_is_named_next_to_the_field(bot: BotHarness) -> None:
    old = _ended(bot, "Redeploy Delta")
    with bot.services.store.engine.begin() as connection:
        # The profile was renamed in the secret store since: the stored request names one that is gone.
        connection.exec_driver_sql("UPDATE requests SET profile = 'ib-retired' WHERE id = ?", (old.id,))
    bot.sender.command(f"redeploy {old.id}", user_id=REQUESTER, trigger_id=new_trigger_id())
    view = _redeploy_view(bot, old.id)
    note = json.dumps(block_of(view, Block.PROFILE_NOTE))
    assert "ib-retired" in note and "no longer exists" in note
    assert "initial_option" not in block_of(view, Block.PROFILE)["element"]


def test_a_project_that_no_longer_exists_is_named_in_the_modal(bot: BotHarness) -> None:
    request = ask(bot, "Redeploy Gone")
    eventually(lambda: card_ts(bot, request.id))
    assert bot.services.requests.cancel(request.id, REQUESTER).changed
    bot.qc.remove_project(request.project_id)
    bot.sender.command(f"redeploy {request.id}", user_id=REQUESTER, trigger_id=new_trigger_id())
    opened = bot.slack.wait_for(
        "views.open", lambda c: request.id in str(c.body["view"].get("private_metadata"))
    )
    view = view_update(
        bot, opened.response["view"]["id"], lambda v: "no longer exists" in json.dumps(v["blocks"])
    )
    note = json.dumps(block_of(view, Block.NODE_NOTE))
    assert f"Redeploy Gone ({request.project_id})" in note and request.id in note
