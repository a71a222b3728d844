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
from bot.brokerages.data_feeds import PolygonDataProviderSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.brokerages.institutional import (
    RBIBrokerageSettings,
    TerminalLinkSettings,
    TradingTechnologiesSettings,
    WolverineSettings,
)
from bot.brokerages.legacy import LegacyLiveAlgorithmSettings
from bot.brokerages.oauth_brokers import (
    AlpacaBrokerageSettings,
    AlpacaDataProviderSettings,
    CharlesSchwabSettings,
    TastytradeSettings,
    TradeStationSettings,
)
from bot.brokerages.paper import QuantConnectSettings

# Display order: paper trading first, then the brokers most teams use (QuantConnect-authorized ones too),
# crypto, institutional, discontinued.
_MODELS: tuple[type[BrokerageSettings], ...] = (
    QuantConnectSettings,
    InteractiveBrokersSettings,
    TradierSettings,
    OandaSettings,
    AlpacaBrokerageSettings,
    CharlesSchwabSettings,
    TradeStationSettings,
    TastytradeSettings,
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
# Settings of a data provider that is never a brokerage block (its credentials differ from the brokerage's).
_PROVIDER_ONLY: dict[str, type[BrokerageSettings]] = {
    model.key: model for model in (AlpacaDataProviderSettings, PolygonDataProviderSettings)
}


def all_models() -> tuple[type[BrokerageSettings], ...]:
    """Every brokerage settings model (the seed's and the newer API file's), in display order."""
    return _MODELS


def provider_only_models() -> tuple[type[BrokerageSettings], ...]:
    """Settings models of data providers that are never the brokerage block (AlpacaDataProviderSettings)."""
    return tuple(_PROVIDER_ONLY.values())


def provider_only_by_id(provider_id: str) -> type[BrokerageSettings] | None:
    """The data-provider-only model whose block carries this `id` (`Polygon`), else None."""
    return next((m for m in _PROVIDER_ONLY.values() if m.brokerage_id == provider_id), None)


def get(key: str) -> type[BrokerageSettings]:
    """The model with this name (e.g. "InteractiveBrokersSettings"); the older shape and data-provider-only
    models (AlpacaDataProviderSettings) are found too."""
    model = _BY_KEY.get(key) or _LEGACY.get(key) or _PROVIDER_ONLY.get(key)
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
