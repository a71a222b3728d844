"""Data providers through the deploy modal: one select per place, the order of the places is the order of
`dataProviders` (QuantConnect's precedence), each provider's keys from the deployment's credential profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Block, data_provider_slot
from bot.statuses import RequestStatus
from tests.fakes.qc_schema import validate_live_create
from tests.support.bot import BotHarness, running_bot
from tests.support.deploy_flow import (
    block_of,
    choose_brokerage,
    choose_project,
    open_deploy_modal,
    submit_modal,
)
from tests.support.examples import EXAMPLE_DATA_FEED_KEYS, EXAMPLE_PROFILES
from tests.support.flows import quick, wait_for
from tests.support.waiting import eventually

ALPACA = EXAMPLE_PROFILES["AlpacaBrokerageSettings"][1]
POLYGON_KEY = EXAMPLE_DATA_FEED_KEYS["polygon-api-key"]
PROFILES = {
    "alpaca-main": ("AlpacaBrokerage", {**ALPACA, **EXAMPLE_DATA_FEED_KEYS}),
    "alpaca-no-polygon": ("AlpacaBrokerage", ALPACA),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(tmp_path_factory.mktemp("data-providers"), profiles=PROFILES) as harness:
        yield quick(harness)


def _submit(bot: BotHarness, project: str, profile: str, order: list[str]) -> tuple[int, Any]:
    project_id = bot.qc.add_project(project)
    view = open_deploy_modal(bot)
    view = choose_project(bot, choose_brokerage(bot, view, "AlpacaBrokerageSettings"), project_id, project)
    places = {data_provider_slot(position): value for position, value in enumerate(order, start=1)}
    answer = submit_modal(
        bot,
        view,
        {Block.PROFILE: profile, "alpaca-environment": "paper", Block.REASON: "Data precedence", **places},
    )
    return project_id, answer


@pytest.mark.parametrize(
    ("order", "keys"),
    [
        (
            ["PolygonDataProviderSettings", "AlpacaDataProviderSettings", "QuantConnectBrokerage"],
            ["PolygonDataFeed", "AlpacaBrokerage", "QuantConnectBrokerage"],
        ),
        (
            ["QuantConnectBrokerage", "AlpacaDataProviderSettings", "PolygonDataProviderSettings"],
            ["QuantConnectBrokerage", "AlpacaBrokerage", "PolygonDataFeed"],
        ),
        (["AlpacaDataProviderSettings"], ["AlpacaBrokerage"]),
    ],
)
def test_data_providers_keep_the_order_of_their_places(
    bot: BotHarness, order: list[str], keys: list[str]
) -> None:
    project_id, answer = _submit(bot, f"Precedence {'-'.join(keys)}", "alpaca-main", order)
    assert answer is None, answer
    [request] = eventually(lambda: bot.services.store.list_requests(project_id=project_id), what="request")
    assert list(request.data_providers) == keys
    wait_for(bot, request.id, {RequestStatus.LIVE}, timeout=30)
    [sent] = [c.body for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id]
    assert validate_live_create(sent) == []
    assert list(sent["dataProviders"]) == keys
    if "PolygonDataFeed" in keys:
        assert sent["dataProviders"]["PolygonDataFeed"] == {"id": "Polygon", "polygon-api-key": POLYGON_KEY}
    assert request.is_paper and POLYGON_KEY not in bot.slack.all_text()


def test_the_modal_offers_one_place_per_provider_first_quantconnect(bot: BotHarness) -> None:
    view = choose_brokerage(bot, open_deploy_modal(bot), "AlpacaBrokerageSettings")
    first = block_of(view, Block.DATA_PROVIDERS)
    assert first["element"]["type"] == "static_select"
    assert first["element"]["initial_option"]["value"] == "QuantConnectBrokerage"
    for position in (2, 3):
        later = block_of(view, data_provider_slot(position))
        assert later["optional"] and "initial_option" not in later["element"]
    assert all(b.get("block_id") != data_provider_slot(4) for b in view["blocks"])


def test_a_provider_chosen_twice_is_refused_next_to_the_later_place(bot: BotHarness) -> None:
    project_id, answer = _submit(
        bot, "Twice", "alpaca-main", ["PolygonDataProviderSettings", "PolygonDataProviderSettings"]
    )
    assert answer is not None and answer["response_action"] == "errors"
    assert "already chosen above" in answer["errors"][data_provider_slot(2)]
    assert not bot.services.store.list_requests(project_id=project_id)


def test_a_provider_whose_key_the_profile_lacks_is_refused_naming_the_field(bot: BotHarness) -> None:
    project_id, answer = _submit(bot, "No Polygon", "alpaca-no-polygon", ["PolygonDataProviderSettings"])
    assert answer is not None and answer["response_action"] == "errors"
    message = answer["errors"][Block.DATA_PROVIDERS]
    assert "Polygon" in message and "polygon-api-key" in message
    assert not bot.services.store.list_requests(project_id=project_id)
