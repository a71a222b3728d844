"""Registry lookups and the data providers offered per brokerage."""

from __future__ import annotations

import pytest

from bot.brokerages import (
    DEFAULT_DATA_PROVIDERS,
    LegacyLiveAlgorithmSettings,
    UnknownBrokerage,
    all_models,
    by_id,
    data_providers_for,
    get,
    models_for_brokerage_id,
)
from bot.brokerages.data_providers import KNOWN_NOT_OFFERED, OFFERED, find_option


def test_quantconnect_paper_comes_first() -> None:
    assert all_models()[0].key == "QuantConnectSettings"


def test_get_finds_every_model_and_the_legacy_shape() -> None:
    for model in all_models():
        assert get(model.key) is model
    assert get("BaseLiveAlgorithmSettings") is LegacyLiveAlgorithmSettings
    assert LegacyLiveAlgorithmSettings not in all_models()


def test_unknown_key_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownBrokerage) as caught:
        get("RobinhoodSettings")
    message = str(caught.value)
    assert "RobinhoodSettings" in message
    assert "InteractiveBrokersSettings" in message and "TerminalLinkSettings" in message


@pytest.mark.parametrize(
    ("exchange", "key"),
    [
        ("Binance", "BinanceSettings"),
        ("Binance-USDM-Futures", "BinanceFuturesUSDMSettings"),
        ("Binance-COIN-Futures", "BinanceFuturesCOINSettings"),
        ("BinanceUS", "BinanceUSSettings"),
    ],
)
def test_binance_models_are_told_apart_by_exchange_name(exchange: str, key: str) -> None:
    assert by_id("BinanceBrokerage", exchange).key == key


def test_binance_without_or_with_a_wrong_exchange_name_is_refused() -> None:
    with pytest.raises(UnknownBrokerage) as caught:
        by_id("BinanceBrokerage")
    assert "Binance-USDM-Futures" in str(caught.value)
    with pytest.raises(UnknownBrokerage):
        by_id("BinanceBrokerage", "Binance-Options")


def test_by_id_for_single_models_and_unknown_ids() -> None:
    assert by_id("InteractiveBrokersBrokerage").key == "InteractiveBrokersSettings"
    assert by_id("TradierBrokerage", None).key == "TradierSettings"
    with pytest.raises(UnknownBrokerage) as caught:
        by_id("FXCMBrokerage")
    assert "OandaBrokerage" in str(caught.value)


def test_models_for_brokerage_id() -> None:
    assert len(models_for_brokerage_id("BinanceBrokerage")) == 4
    assert [m.key for m in models_for_brokerage_id("OandaBrokerage")] == ["OandaSettings"]
    assert models_for_brokerage_id("Nope") == ()


def test_default_data_providers_is_quantconnect() -> None:
    assert DEFAULT_DATA_PROVIDERS == {"QuantConnectBrokerage": {"id": "QuantConnectBrokerage"}}


@pytest.mark.parametrize(
    ("key", "offered"),
    [
        ("QuantConnectSettings", ["QuantConnectBrokerage"]),
        (
            "InteractiveBrokersSettings",
            ["QuantConnectBrokerage", "InteractiveBrokersBrokerage", "PolygonDataFeed"],
        ),
        ("BinanceFuturesCOINSettings", ["QuantConnectBrokerage", "BinanceBrokerage", "PolygonDataFeed"]),
        ("OandaSettings", ["QuantConnectBrokerage", "OandaBrokerage", "PolygonDataFeed"]),
        ("TradingTechnologiesSettings", ["QuantConnectBrokerage", "PolygonDataFeed"]),
        ("ZerodhaSettings", ["QuantConnectBrokerage", "PolygonDataFeed"]),
        ("WolverineSettings", ["QuantConnectBrokerage", "PolygonDataFeed"]),
        ("AlpacaBrokerageSettings", ["QuantConnectBrokerage", "AlpacaBrokerage", "PolygonDataFeed"]),
    ],
)
def test_data_providers_for_a_brokerage(key: str, offered: list[str]) -> None:
    options = data_providers_for(key)
    assert [option.provider_id for option in options] == offered
    assert options[0].credential_fields() == ()
    own = [option for option in options[1:] if option.provider_id != "PolygonDataFeed"]
    if own and own[0].brokerage_key is None:
        assert own[0].model_key == key
        assert own[0].credential_fields() == get(key).credential_fields()


def test_data_providers_for_an_unknown_brokerage_is_refused() -> None:
    with pytest.raises(UnknownBrokerage):
        data_providers_for("NopeSettings")


def test_offered_providers_are_the_documented_ones_and_option_values_are_unique() -> None:
    assert {option.provider_id for option in OFFERED} == {
        "QuantConnectBrokerage",
        "InteractiveBrokersBrokerage",
        "TradierBrokerage",
        "BitfinexBrokerage",
        "CoinbaseBrokerage",
        "BinanceBrokerage",
        "KrakenBrokerage",
        "BybitBrokerage",
        "OandaBrokerage",
        "TradeStationBrokerage",
        "TastytradeBrokerage",
        "CharlesSchwabBrokerage",
        "AlpacaBrokerage",
        "PolygonDataFeed",
    }
    assert len({option.option_value for option in OFFERED}) == len(OFFERED)
    assert all(option.display_name for option in OFFERED)
    assert KNOWN_NOT_OFFERED == ()  # every provider of QuantConnect's API file is offered somewhere
    assert find_option("PolygonDataFeed").model_key == "PolygonDataProviderSettings"  # type: ignore[union-attr]
    assert find_option("BinanceBrokerage", "BinanceUSSettings").display_name == "Binance.US"
