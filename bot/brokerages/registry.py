"""Look up brokerage settings models by seed name or by the id (and Binance exchange) QuantConnect uses."""

from __future__ import annotations

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.brokers import (
    InteractiveBrokersSettings,
    OandaSettings,
    SamcoSettings,
    TDAmeritradeSettings,
    TradierSettings,
    ZerodhaSettings,
)
from bot.brokerages.crypto import (
    BinanceFuturesCOINSettings,
    BinanceFuturesUSDMSettings,
    BinanceSettings,
    BinanceUSSettings,
    BitfinexSettings,
    BybitSettings,
    CoinbaseSettings,
    KrakenSettings,
)
from bot.brokerages.errors import UnknownBrokerage
from bot.brokerages.institutional import (
    RBIBrokerageSettings,
    TerminalLinkSettings,
    TradingTechnologiesSettings,
    WolverineSettings,
)
from bot.brokerages.legacy import LegacyLiveAlgorithmSettings
from bot.brokerages.paper import QuantConnectSettings

# Display order: paper trading first, then the brokers most teams use, crypto, institutional, discontinued.
_MODELS: tuple[type[BrokerageSettings], ...] = (
    QuantConnectSettings,
    InteractiveBrokersSettings,
    TradierSettings,
    OandaSettings,
    BinanceSettings,
    BinanceFuturesUSDMSettings,
    BinanceFuturesCOINSettings,
    BinanceUSSettings,
    CoinbaseSettings,
    KrakenSettings,
    BybitSettings,
    BitfinexSettings,
    ZerodhaSettings,
    SamcoSettings,
    TradingTechnologiesSettings,
    TerminalLinkSettings,
    WolverineSettings,
    RBIBrokerageSettings,
    TDAmeritradeSettings,
)
_BY_KEY: dict[str, type[BrokerageSettings]] = {model.key: model for model in _MODELS}
_LEGACY: dict[str, type[BrokerageSettings]] = {LegacyLiveAlgorithmSettings.key: LegacyLiveAlgorithmSettings}


def all_models() -> tuple[type[BrokerageSettings], ...]:
    """Every brokerage settings model of the seed, in display order (QuantConnect paper first)."""
    return _MODELS


def get(key: str) -> type[BrokerageSettings]:
    """The model with this seed name (e.g. "InteractiveBrokersSettings"); the older shape is found too."""
    model = _BY_KEY.get(key) or _LEGACY.get(key)
    if model is None:
        raise UnknownBrokerage(key, _BY_KEY)
    return model


def display_name(key: str) -> str:
    """The model's display name, or the key itself when unknown (a renamed model must not crash a card)."""
    model = _BY_KEY.get(key) or _LEGACY.get(key)
    return key if model is None else model.display_name


def models_for_brokerage_id(brokerage_id: str) -> tuple[type[BrokerageSettings], ...]:
    """Every model sending this `id` (four for BinanceBrokerage, one otherwise, none when unknown)."""
    return tuple(model for model in _MODELS if model.brokerage_id == brokerage_id)


def by_id(brokerage_id: str, exchange_name: str | None = None) -> type[BrokerageSettings]:
    """The model sending this `id`; Binance models are told apart by `binance-exchange-name`."""
    candidates = models_for_brokerage_id(brokerage_id)
    if not candidates:
        raise UnknownBrokerage(brokerage_id, dict.fromkeys(model.brokerage_id for model in _MODELS))
    if len(candidates) == 1 and exchange_name is None:
        return candidates[0]
    for model in candidates:
        if model.exchange_name == exchange_name:
            return model
    asked = f"{brokerage_id} with exchange {exchange_name}" if exchange_name else brokerage_id
    raise UnknownBrokerage(
        asked, (f"{brokerage_id} with exchange {model.exchange_name}" for model in candidates)
    )
