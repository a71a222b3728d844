"""QuantConnect notifications end to end, in both modes: presets offered in the deploy modal, checked at
submission, shown on the card and masked in Preview, and sent in `live/create` exactly as lean-cli does."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.ids import Action, Block, Callback
from bot.store import DeployRequest, RequestStatus
from tests.fakes.qc_schema import validate_live_create
from tests.support.bot import APPROVERS, BotHarness, running_bot
from tests.support.deploy_flow import (
    block_of,
    choose_brokerage,
    choose_project,
    open_deploy_modal,
    submit_modal,
    view_update,
)
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import card_text, card_ts, click, wait_for
from tests.support.presets import GOOD_PRESETS, PRESET_ENV, PRESET_SECRETS, SENT_TARGETS
from tests.support.waiting import eventually

IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"][1]
ORDERS = ["orderEvent"]
PROFILES = {"ib-main": ("InteractiveBrokersBrokerage", IB_CREDENTIALS)}


@pytest.fixture(scope="module", params=["http", "socket"])
def bot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(
        tmp_path_factory.mktemp("notifications"), profiles=PROFILES, env=PRESET_ENV, mode=request.param
    ) as harness:
        harness.services.notifier.min_interval = 0.02
        yield harness


def _modal(bot: BotHarness, name: str) -> tuple[int, dict]:
    project_id = bot.qc.add_project(name)
    opened = open_deploy_modal(bot)
    # The presets are listed after views.open (a secret-store call), in one update: continue from it.
    listed = view_update(bot, opened["id"], lambda v: _has_block(v, Block.NOTIFY_TARGETS))
    view = choose_brokerage(bot, listed, "InteractiveBrokersSettings")
    return project_id, choose_project(bot, view, project_id, name)


def _has_block(view: dict, block_id: str) -> bool:
    return any(block.get("block_id") == block_id for block in view.get("blocks") or [])


def _card(bot: BotHarness, request: DeployRequest) -> str:
    eventually(lambda: card_ts(bot, request.id), what="the card")
    return card_text(bot, request)


def _fields(**extra: object) -> dict:
    return {Block.PROFILE: "ib-main", "ib-trading-mode": "live", Block.REASON: "Watch the fills", **extra}


def test_the_modal_offers_every_preset_by_name(bot: BotHarness) -> None:
    _, view = _modal(bot, "Offered Strategy")
    events = block_of(view, Block.NOTIFY_EVENTS)["element"]
    targets = block_of(view, Block.NOTIFY_TARGETS)["element"]
    assert [o["value"] for o in events["options"]] == ["orderEvent", "insight"]
    assert [o["value"] for o in targets["options"]] == sorted([*GOOD_PRESETS, "plain-hook", "half-mail"])
    assert block_of(view, Block.NOTIFY_EVENTS)["optional"]
    assert block_of(view, Block.NOTIFY_TARGETS)["optional"]


def test_a_deployment_with_notifications_sends_the_exact_object(bot: BotHarness) -> None:
    project_id, view = _modal(bot, "Notified Strategy")
    chosen = ["ops-hook", "ops-mail", "desk-sms", "desk-tg", "public-tg"]
    answer = submit_modal(
        bot, view, _fields(**{Block.NOTIFY_EVENTS: ["insight", "orderEvent"], Block.NOTIFY_TARGETS: chosen})
    )
    assert answer is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    assert request.notify_events == ("orderEvent", "insight")
    assert request.notify_targets == tuple(chosen)
    card = _card(bot, request)
    assert "`ops-hook`" in card and "Order events, Insights" in card

    click(bot, Action.PREVIEW, request.id, APPROVERS[0])
    bot.slack.wait_for("views.open", lambda c: c.body["view"].get("callback_id") == Callback.PREVIEW)
    shown = json.dumps(bot.slack.last_view(Callback.PREVIEW)["blocks"])
    assert "hooks.example.com" in shown and "x-api-key" in shown

    click(bot, Action.APPROVE, request.id, APPROVERS[0])
    wait_for(bot, request.id, {RequestStatus.LIVE}, timeout=30)
    [create] = [c for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id]
    assert create.body["notification"] == {
        "events": ["orderEvent", "insight"],
        "targets": [SENT_TARGETS[name] for name in chosen],
    }
    assert validate_live_create(create.body) == []
    for secret in PRESET_SECRETS:
        assert secret not in bot.slack.all_text()


def test_without_notifications_the_body_has_no_notification(bot: BotHarness) -> None:
    project_id, view = _modal(bot, "Quiet Strategy")
    assert submit_modal(bot, view, _fields()) is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    assert request.notify_events == () and "QuantConnect notifications" not in _card(bot, request)
    click(bot, Action.APPROVE, request.id, APPROVERS[0])
    wait_for(bot, request.id, {RequestStatus.LIVE}, timeout=30)
    [create] = [c for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id]
    assert "notification" not in create.body


@pytest.mark.parametrize(
    ("fields", "block", "words"),
    [
        ({Block.NOTIFY_EVENTS: ORDERS, Block.NOTIFY_TARGETS: ["plain-hook"]}, Block.NOTIFY_TARGETS, "https"),
        ({Block.NOTIFY_EVENTS: ORDERS, Block.NOTIFY_TARGETS: ["half-mail"]}, Block.NOTIFY_TARGETS, "subject"),
        ({Block.NOTIFY_EVENTS: ["orderEvent"]}, Block.NOTIFY_TARGETS, "at least one preset"),
        ({Block.NOTIFY_TARGETS: ["ops-mail"]}, Block.NOTIFY_EVENTS, "Tick the events"),
    ],
)
def test_unusable_notifications_are_refused_next_to_the_field(
    bot: BotHarness, fields: dict, block: Block, words: str
) -> None:
    project_id, view = _modal(bot, f"Refused {block} {words}")
    answer = submit_modal(bot, view, _fields(**fields))
    assert answer is not None and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {block.value}
    assert words in answer["errors"][block]
    assert not bot.services.store.list_requests(project_id=project_id)
