"""build_live_create_request: body shape, validation, data providers, and secrets kept out of sight."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr

from bot.brokerages import (
    MASK,
    BrokerageHolding,
    CashAmount,
    DataProviderConfig,
    FieldErrors,
    LiveCreateRequest,
    build_live_create_request,
    data_providers_for,
    get,
)
from bot.brokerages.data_providers import config_for
from tests.support.examples import EXAMPLE_HOLDINGS, EXAMPLE_PROFILES, example_cash

IDS: dict[str, Any] = {"project_id": 12345, "compile_id": "c-1", "node_id": "LN-1", "version_id": "17202"}


def _build(key: str, **overrides: Any) -> LiveCreateRequest:
    settings, credentials = EXAMPLE_PROFILES[key]
    kwargs: dict[str, Any] = {
        "model": get(key),
        "settings": settings,
        "credentials": credentials,
        "cash": example_cash(key),
        **IDS,
        **overrides,
    }
    return build_live_create_request(**kwargs)


def test_body_has_the_documented_key_order_and_types() -> None:
    body = _build("InteractiveBrokersSettings", version_id="17202", automatic_redeploy=True).to_body()
    assert list(body) == [
        "versionId",
        "projectId",
        "compileId",
        "nodeId",
        "brokerage",
        "dataProviders",
        "automaticRedeploy",
    ]
    assert body["versionId"] == "17202" and body["projectId"] == 12345 and body["automaticRedeploy"] is True
    assert body["dataProviders"] == {"QuantConnectBrokerage": {"id": "QuantConnectBrokerage"}}
    assert body["brokerage"] == {
        "id": "InteractiveBrokersBrokerage",
        "ib-user-name": "fake-ib-user",
        "ib-password": "fake-ib-password",
        "ib-account": "DU0000000",
        "ib-trading-mode": "paper",
        "ib-weekly-restart-utc-time": "21:00:00",
    }


def test_version_is_sent_as_a_string_and_master_only_when_asked() -> None:
    assert _build("QuantConnectSettings", version_id=17202).to_body()["versionId"] == "17202"
    assert _build("QuantConnectSettings", version_id="-1").to_body()["versionId"] == "-1"
    with pytest.raises(TypeError):
        build_live_create_request(  # type: ignore[call-arg]  # no default: master is never implied
            model=get("QuantConnectSettings"),
            settings={},
            credentials={},
            project_id=1,
            compile_id="c",
            node_id="n",
        )


@pytest.mark.parametrize("version", ["latest", "0", "²", "١٧٢٠٢", "-2"])
def test_a_version_that_is_not_a_lean_version_id_is_refused(version: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        _build("QuantConnectSettings", version_id=version)
    assert set(caught.value.errors) == {"version"}


def test_secrets_only_in_to_body() -> None:
    request = _build("TradingTechnologiesSettings")
    _, credentials = EXAMPLE_PROFILES["TradingTechnologiesSettings"]
    revealed = json.dumps(request.to_body())
    masked = request.to_masked_body()
    shown = json.dumps(masked) + repr(request) + str(request) + f"{request}"
    for name, secret in credentials.items():
        assert secret in revealed
        assert secret not in shown
        assert masked["brokerage"][name] == MASK
    assert masked["brokerage"]["tt-rest-environment"] == "uat"
    assert masked["brokerage"]["cash"] == [{"amount": 100000, "currency": "USD"}]


def test_secrets_stay_out_of_logs(caplog: pytest.LogCaptureFixture) -> None:
    request = _build("OandaSettings")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("built %s (%r)", request, request)
    assert "fake-oanda-token" not in caplog.text and "001-001-123456-001" not in caplog.text


def test_missing_credential_is_named_and_no_secret_reaches_the_message() -> None:
    settings, credentials = EXAMPLE_PROFILES["InteractiveBrokersSettings"]
    partial = {name: value for name, value in credentials.items() if name != "ib-password"}
    with pytest.raises(FieldErrors) as caught:
        build_live_create_request(
            model=get("InteractiveBrokersSettings"), settings=settings, credentials=partial, **IDS
        )
    assert caught.value.errors == {"ib-password": "Credential profile is missing IB password (ib-password)."}
    for secret in partial.values():
        assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_a_bad_oanda_account_id_in_the_profile_is_refused_by_the_builder() -> None:
    settings, credentials = EXAMPLE_PROFILES["OandaSettings"]
    with pytest.raises(FieldErrors) as caught:
        build_live_create_request(
            model=get("OandaSettings"),
            settings=settings,
            credentials={**credentials, "oanda-account-id": SecretStr("oanda-9999")},
            **IDS,
        )
    assert list(caught.value.errors) == ["oanda-account-id"]
    assert "oanda-9999" not in str(caught.value)


def test_trading_technologies_needs_cash() -> None:
    with pytest.raises(FieldErrors) as caught:
        _build("TradingTechnologiesSettings", cash=())
    assert caught.value.errors == {
        "cash": "Trading Technologies needs at least one cash amount, e.g. 10000 USD."
    }


def test_holdings_refused_where_the_model_takes_none() -> None:
    with pytest.raises(FieldErrors) as caught:
        _build("TradingTechnologiesSettings", holdings=EXAMPLE_HOLDINGS)
    assert caught.value.errors["holdings"].startswith(
        "Trading Technologies does not accept starting holdings"
    )
    with pytest.raises(FieldErrors) as caught:
        _build("KrakenSettings", cash=(CashAmount(amount=1, currency="USD"),))
    assert caught.value.errors == {"cash": "Kraken does not accept starting cash; clear the Cash field."}


def test_holdings_and_cash_are_sent_where_accepted() -> None:
    body = _build(
        "QuantConnectSettings",
        holdings=EXAMPLE_HOLDINGS,
        cash=(CashAmount(amount=5000, currency="USD"),),
    ).to_body()
    assert body["brokerage"] == {
        "id": "QuantConnectBrokerage",
        "holdings": [
            {"symbolId": "SPY R735QTJ8XC9X", "symbol": "SPY", "quantity": 10, "averagePrice": 450.25}
        ],
        "cash": [{"amount": 5000, "currency": "USD"}],
    }
    bybit = _build(
        "BybitSettings", holdings=[BrokerageHolding(symbol="BTCUSDT", quantity=1, average_price=1)]
    )
    assert bybit.to_body()["brokerage"]["holdings"] == [
        {"symbol": "BTCUSDT", "quantity": 1, "averagePrice": 1}
    ]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FieldErrors) as caught:
        build_live_create_request(
            model=get("TradierSettings"),
            settings={"tradier-environment": "demo"},
            credentials={},
            cash=(CashAmount(amount=1, currency="USD"),),
            project_id=0,
            compile_id=" ",
            node_id="",
            version_id="latest",
        )
    assert set(caught.value.errors) == {
        "tradier-environment",
        "tradier-account-id",
        "tradier-access-token",
        "cash",
        "project",
        "compile",
        "node",
        "version",
    }


def test_data_providers_keep_their_order_and_reuse_the_brokerage_profile() -> None:
    settings, credentials = EXAMPLE_PROFILES["InteractiveBrokersSettings"]
    ib_option, qc_option = data_providers_for("InteractiveBrokersSettings")[::-1]
    request = _build(
        "InteractiveBrokersSettings",
        data_providers=[config_for(ib_option), config_for(qc_option)],
    )
    body = request.to_body()
    assert list(body["dataProviders"]) == ["InteractiveBrokersBrokerage", "QuantConnectBrokerage"]
    provider = body["dataProviders"]["InteractiveBrokersBrokerage"]
    assert provider["ib-password"] == credentials["ib-password"]
    assert provider["ib-weekly-restart-utc-time"] == settings["ib-weekly-restart-utc-time"]
    assert "holdings" not in provider
    masked = request.to_masked_body()["dataProviders"]["InteractiveBrokersBrokerage"]
    assert masked["ib-password"] == MASK


def test_a_data_provider_with_its_own_credentials_is_checked() -> None:
    config = DataProviderConfig(
        "BinanceBrokerage", "BinanceUSSettings", {"binanceus-api-key": SecretStr("k")}
    )
    with pytest.raises(FieldErrors) as caught:
        _build("QuantConnectSettings", data_providers=[config])
    assert caught.value.errors == {
        "data-providers": "Data provider Binance.US: Credential profile is missing Binance.US API secret "
        "(binanceus-api-secret)."
    }


def test_unknown_and_duplicate_data_providers_are_refused() -> None:
    qc = DataProviderConfig("QuantConnectBrokerage", None)
    with pytest.raises(FieldErrors) as caught:
        _build("QuantConnectSettings", data_providers=[qc, DataProviderConfig("PolygonDataFeed", None), qc])
    message = caught.value.errors["data-providers"]
    assert "PolygonDataFeed cannot be used as a data provider." in message
    assert "QuantConnect is listed twice." in message


def test_tradier_data_is_refused_with_tradier_paper() -> None:
    option = data_providers_for("TradierSettings")[1]
    with pytest.raises(FieldErrors) as caught:
        _build("TradierSettings", data_providers=[config_for(option)])
    assert "Tradier cannot feed data in the paper environment" in caught.value.errors["data-providers"]
    settings, _ = EXAMPLE_PROFILES["TradierSettings"]
    live = _build(
        "TradierSettings",
        settings={**settings, "tradier-environment": "live"},
        data_providers=[config_for(option)],
    )
    assert live.to_body()["dataProviders"]["TradierBrokerage"]["tradier-environment"] == "live"
    assert live.is_paper is False


def test_brokerage_errors_are_not_repeated_for_its_own_data_provider() -> None:
    option = data_providers_for("KrakenSettings")[1]
    with pytest.raises(FieldErrors) as caught:
        _build("KrakenSettings", credentials={}, data_providers=[config_for(option)])
    assert set(caught.value.errors) == {"kraken-api-key", "kraken-api-secret"}


def test_request_knows_its_model_and_paper_flag() -> None:
    request = _build("BybitSettings")
    assert request.model is get("BybitSettings")
    assert request.is_paper is True
    assert _build("KrakenSettings").is_paper is False


def test_a_shared_provider_id_without_model_key_means_the_brokerage_itself() -> None:
    request = _build("BinanceUSSettings", data_providers=[DataProviderConfig("BinanceBrokerage", None)])
    provider = request.to_body()["dataProviders"]["BinanceBrokerage"]
    assert provider["binance-exchange-name"] == "BinanceUS"
    assert provider["binanceus-api-key"] == EXAMPLE_PROFILES["BinanceUSSettings"][1]["binanceus-api-key"]
