"""Paper versus real money from the live/create body: per model, every choice, and bodies edited by hand."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.brokerages import (
    BrokerageSettings,
    FieldErrors,
    build_live_create_request,
    data_providers_for,
    get,
    registry,
)
from bot.brokerages.classification import classify_body, is_paper_body
from bot.brokerages.data_providers import config_for
from tests.fakes import qc_schema
from tests.support.examples import EXAMPLE_PROFILES, example_cash

MODELS = registry.all_models()
# Real-money endpoints named by QuantConnect's spec, lean-cli and Lean's brokerage factories; the test also
# adds every host a real-money body of any model points at.
KNOWN_LIVE_HOSTS = frozenset(
    {
        "api.binance.com",
        "stream.binance.com",
        "ws-api.binance.com",
        "fapi.binance.com",
        "fstream.binance.com",
        "dapi.binance.com",
        "dstream.binance.com",
        "api.binance.us",
        "stream.binance.us",
        "api.bybit.com",
        "stream.bybit.com",
        "api.coinbase.com",
        "advanced-trade-ws.coinbase.com",
    }
)


def _choices(model: type[BrokerageSettings]) -> list[dict[str, str]]:
    """One settings override per value of the model's paper marker ({} when it has none)."""
    if model.paper_when is None:
        return [{}]
    name, _ = model.paper_when
    return [{name: value} for value in model.field(name).choice_values()]


def _body(model: type[BrokerageSettings], choice: dict[str, str]) -> dict[str, Any]:
    """The model's example body with this choice, fed by its own data (where allowed) and QuantConnect's."""
    settings, credentials = EXAMPLE_PROFILES[model.key]
    settings = {**settings, **choice}
    providers = [config_for(option) for option in data_providers_for(model.key)[::-1]]
    try:
        request = _build(model, settings, credentials, providers)
    except FieldErrors:
        # Tradier's own data is refused in its paper environment: QuantConnect's data then.
        request = _build(model, settings, credentials, providers[-1:])
    body = request.to_body()
    assert qc_schema.validate_live_create(body) == []
    return body


def _build(model: type[BrokerageSettings], settings: Any, credentials: Any, providers: Any) -> Any:
    return build_live_create_request(
        model=model,
        settings=settings,
        credentials=credentials,
        cash=example_cash(model.key),
        data_providers=providers,
        project_id=1,
        compile_id="c",
        node_id="n",
        version_id="17202",
    )


def _hosts(node: Any) -> Iterator[str]:
    """Every URL host anywhere in a body."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _hosts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _hosts(value)
    elif isinstance(node, str) and "://" in node:
        yield urlsplit(node).hostname or node


def _all_bodies() -> list[tuple[type[BrokerageSettings], dict[str, str], dict[str, Any]]]:
    return [(model, choice, _body(model, choice)) for model in MODELS for choice in _choices(model)]


def _live_hosts() -> frozenset[str]:
    found = {host for _, _, body in _all_bodies() if not is_paper_body(body) for host in _hosts(body)}
    return KNOWN_LIVE_HOSTS | found


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_a_paper_body_carries_no_live_endpoint(model: type[BrokerageSettings]) -> None:
    live_hosts = _live_hosts()
    for choice in _choices(model):
        body = _body(model, choice)
        if not is_paper_body(body):
            continue
        text = json.dumps(body)
        assert not set(_hosts(body)) & live_hosts, f"{model.key} {choice} is paper but points at a live host"
        assert not [host for host in live_hosts if host in text]
        assert set(_hosts(body)) <= model.paper_hosts


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_each_paper_choice_is_classified_paper_and_every_other_choice_real_money(
    model: type[BrokerageSettings],
) -> None:
    paper_value = model.paper_when[1] if model.paper_when else None
    for choice in _choices(model):
        classification = classify_body(_body(model, choice))
        chosen_paper = model.always_paper or (paper_value is not None and paper_value in choice.values())
        assert classification.is_paper is chosen_paper, (model.key, choice, classification.reason)


def test_the_paper_choices_are_exactly_the_venues_with_a_paper_environment() -> None:
    with_paper = {model.key for model in MODELS if model.always_paper or model.paper_when}
    assert with_paper == {
        "QuantConnectSettings",
        "InteractiveBrokersSettings",
        "TradierSettings",
        "OandaSettings",
        "BinanceSettings",
        "BybitSettings",
        "TradingTechnologiesSettings",
        "TerminalLinkSettings",
    }
    for key in ("BinanceUSSettings", "BinanceFuturesUSDMSettings", "BinanceFuturesCOINSettings"):
        names = {info.name for info in get(key).setting_fields()}
        assert "binance-use-testnet" not in names, f"{key} has no testnet, so it offers no paper choice"


def test_binance_paper_sends_the_spot_testnet_endpoints() -> None:
    body = _body(get("BinanceSettings"), {"binance-use-testnet": "paper"})
    for block in (body["brokerage"], body["dataProviders"]["BinanceBrokerage"]):
        assert block["binance-use-testnet"] == "paper"
        assert block["binance-api-url"] == "https://testnet.binance.vision"
        assert block["binance-websocket-url"] == "wss://testnet.binance.vision/ws"
    live = _body(get("BinanceSettings"), {"binance-use-testnet": "live"})["brokerage"]
    assert live["binance-api-url"] == "https://api.binance.com"
    assert live["binance-websocket-url"] == "wss://stream.binance.com:9443/ws"


def test_bybit_paper_sends_the_testnet_api_and_websocket() -> None:
    brokerage = _body(get("BybitSettings"), {"bybit-use-testnet": "paper"})["brokerage"]
    assert brokerage["bybit-api-url"] == "https://api-testnet.bybit.com"
    assert brokerage["bybit-websocket-url"] == "wss://stream-testnet.bybit.com"


def _binance_paper() -> dict[str, Any]:
    return _body(get("BinanceSettings"), {"binance-use-testnet": "paper"})


def _edited(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(_binance_paper())
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("brokerage", "binance-api-url"), "https://api.binance.com"),
        (("brokerage", "binance-websocket-url"), "wss://stream.binance.com:9443/ws"),
        (("brokerage", "binance-api-url"), "https://testnet.binance.vision.evil.example"),
        (("brokerage", "binance-api-url"), "https://testnet.binance.vision@api.binance.com"),
        (("brokerage", "binance-api-url"), "testnet.binance.vision"),
        (("brokerage", "binance-api-url"), None),
        (("brokerage", "binance-orders-websocket-url"), "wss://ws-api.binance.com:9443/ws-api/v3"),
        (("brokerage", "note"), "see https://api.binance.com"),
        (("dataProviders", "BinanceBrokerage", "binance-api-url"), "https://api.binance.com"),
        (("brokerage", "binance-use-testnet"), "live"),
        (("brokerage", "binance-use-testnet"), "PAPER"),
        (("brokerage", "binance-exchange-name"), "Binance-USDM-Futures"),
        (("brokerage", "id"), "SomeNewBrokerage"),
        (("dataProviders", "PolygonDataFeed"), {"id": "PolygonDataFeed"}),
        (("dataProviders", "QuantConnectBrokerage", "url"), "https://api.binance.com"),
        (("dataProviders",), []),
    ],
)
def test_an_edited_or_unknown_body_is_real_money(path: tuple[str, ...], value: Any) -> None:
    assert is_paper_body(_binance_paper())
    classification = classify_body(_edited(path, value))
    assert classification.is_paper is False
    if isinstance(value, str) and "://" in value:
        assert value not in classification.reason, "the reason names the field, never its value"


def test_a_body_without_a_brokerage_is_real_money() -> None:
    assert is_paper_body({}) is False
    assert is_paper_body({"brokerage": "QuantConnectBrokerage"}) is False
    assert is_paper_body({"brokerage": {"id": "QuantConnectBrokerage"}}) is True


def test_the_older_api_shape_is_paper_only_by_its_own_marker() -> None:
    assert is_paper_body({"brokerage": {"id": "PaperTrading", "environment": "live"}})
    assert is_paper_body({"brokerage": {"id": "Interactive", "environment": "paper"}})
    assert not is_paper_body({"brokerage": {"id": "Oanda", "environment": "live"}})


@given(
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,40}", fullmatch=True),
    st.sampled_from(["https", "wss", "http"]),
)
def test_any_other_host_makes_binance_paper_real_money(host: str, scheme: str) -> None:
    body = _edited(("brokerage", "binance-api-url"), f"{scheme}://{host}/api")
    assert is_paper_body(body) is (host == "testnet.binance.vision")
