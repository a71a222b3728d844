"""The newer brokerages (Alpaca, TradeStation, Tastytrade, Charles Schwab) through the deploy modal: their
settings, their own data feeds, and profiles refused before approval naming the field, never its value."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.brokerages import registry
from bot.brokerages.classification import classify_body
from bot.ids import Block
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
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import approve_if_needed, quick, wait_for, wait_live_status
from tests.support.waiting import eventually

ALPACA = EXAMPLE_PROFILES["AlpacaBrokerageSettings"][1]
TASTY = EXAMPLE_PROFILES["TastytradeSettings"][1]
BAD_ACCOUNT = "ACCT-5WT0001X"  # Tastytrade's web shows letters; QuantConnect's API takes an integer
PROFILES = {
    "alpaca-main": ("AlpacaBrokerage", ALPACA),
    "alpaca-trading-only": ("AlpacaBrokerage", {"alpaca-access-token": ALPACA["alpaca-access-token"]}),
    "tasty-main": ("TastytradeBrokerage", TASTY),
    "tasty-bad": ("TastytradeBrokerage", {**TASTY, "tastytrade-account-number": BAD_ACCOUNT}),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(tmp_path_factory.mktemp("oauth-brokerages"), profiles=PROFILES) as harness:
        yield quick(harness)


def _modal(bot: BotHarness, model_key: str, project: str) -> tuple[int, dict]:
    project_id = bot.qc.add_project(project)
    view = choose_project(bot, choose_brokerage(bot, open_deploy_modal(bot), model_key), project_id, project)
    return project_id, view


@pytest.mark.parametrize(
    ("model_key", "own_feed"),
    [
        ("AlpacaBrokerageSettings", "AlpacaDataProviderSettings"),
        ("TradeStationSettings", "TradeStationSettings"),
        ("TastytradeSettings", "TastytradeSettings"),
        ("CharlesSchwabSettings", "CharlesSchwabSettings"),
    ],
)
def test_each_newer_brokerage_offers_its_settings_and_its_own_data_feed(
    bot: BotHarness, model_key: str, own_feed: str
) -> None:
    view = choose_brokerage(bot, open_deploy_modal(bot), model_key)
    inputs = {b.get("block_id") for b in view["blocks"] if b["type"] == "input"}
    model = registry.get(model_key)
    assert {info.name for info in model.setting_fields()} <= inputs
    assert not {info.name for info in model.credential_fields()} & inputs
    offered = [o["value"] for o in block_of(view, Block.DATA_PROVIDERS)["element"]["options"]]
    assert offered == ["QuantConnectBrokerage", own_feed, "PolygonDataProviderSettings"]


def test_malformed_tastytrade_account_number_is_refused_naming_the_field(bot: BotHarness) -> None:
    project_id, view = _modal(bot, "TastytradeSettings", "Tasty Strategy")
    answer = submit_modal(bot, view, {Block.PROFILE: "tasty-bad", Block.REASON: "Options income"})
    assert answer is not None and answer["response_action"] == "errors"
    message = answer["errors"][Block.PROFILE]
    assert "Tastytrade account number" in message and "whole number" in message
    assert BAD_ACCOUNT not in message and BAD_ACCOUNT not in bot.slack.all_text()
    assert not bot.services.store.list_requests(project_id=project_id)


def test_alpaca_data_without_its_api_key_is_refused_next_to_the_data_providers(bot: BotHarness) -> None:
    project_id, view = _modal(bot, "AlpacaBrokerageSettings", "Alpaca Data Strategy")
    answer = submit_modal(
        bot,
        view,
        {
            Block.PROFILE: "alpaca-trading-only",
            "alpaca-environment": "paper",
            Block.DATA_PROVIDERS: "AlpacaDataProviderSettings",
            "data-providers-2": "QuantConnectBrokerage",
            Block.REASON: "Alpaca feed",
        },
    )
    assert answer is not None and answer["response_action"] == "errors"
    message = answer["errors"][Block.DATA_PROVIDERS]
    assert "alpaca-api-key" in message and "alpaca-api-secret" in message
    assert ALPACA["alpaca-access-token"] not in bot.slack.all_text()
    assert not bot.services.store.list_requests(project_id=project_id)


def test_alpaca_live_with_its_own_data_deploys_a_spec_valid_real_money_body(bot: BotHarness) -> None:
    project_id, view = _modal(bot, "AlpacaBrokerageSettings", "Alpaca Live Strategy")
    answer = submit_modal(
        bot,
        view,
        {
            Block.PROFILE: "alpaca-main",
            "alpaca-environment": "live",
            Block.DATA_PROVIDERS: "AlpacaDataProviderSettings",
            "data-providers-2": "QuantConnectBrokerage",
            Block.REASON: "Go live on Alpaca",
        },
    )
    assert answer is None
    [request] = eventually(lambda: bot.services.store.list_requests(project_id=project_id), what="request")
    assert not request.is_paper and request.approvals_needed == 1
    request = eventually(lambda: (r := bot.services.store.get_request(request.id)) and r.message_ts and r)
    approve_if_needed(bot, request)
    wait_for(bot, request.id, {RequestStatus.LIVE}, timeout=60)
    wait_live_status(bot, request.id, "Running", timeout=30)
    [sent] = [c.body for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id]
    assert validate_live_create(sent) == []
    assert sent["brokerage"] == {
        "id": "AlpacaBrokerage",
        "alpaca-access-token": ALPACA["alpaca-access-token"],
        "alpaca-environment": "live",
    }
    assert sent["dataProviders"] == {
        "AlpacaBrokerage": {
            "id": "AlpacaBrokerage",
            "alpaca-api-key": ALPACA["alpaca-api-key"],
            "alpaca-api-secret": ALPACA["alpaca-api-secret"],
        },
        "QuantConnectBrokerage": {"id": "QuantConnectBrokerage"},
    }
    assert not classify_body(sent).is_paper
