"""Which brokerages can feed market data to a live algorithm, and the configuration the builder turns into
`dataProviders` (an ordered object: earlier providers take precedence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bot.brokerages import registry
from bot.brokerages.fields import FieldInfo

QUANTCONNECT_PROVIDER_ID = "QuantConnectBrokerage"
DEFAULT_DATA_PROVIDERS: dict[str, dict[str, str]] = {
    QUANTCONNECT_PROVIDER_ID: {"id": QUANTCONNECT_PROVIDER_ID}
}


@dataclass(frozen=True)
class DataProviderOption:
    """A data provider the deploy modal can offer; `model_key` names the model whose credentials it needs."""

    provider_id: str
    display_name: str
    model_key: str | None
    offered: bool = True

    @property
    def option_value(self) -> str:
        """A value unique among options (Binance models share one provider id)."""
        return self.model_key or self.provider_id

    def credential_fields(self) -> tuple[FieldInfo, ...]:
        """Credentials the profile must hold for this provider (none for QuantConnect)."""
        if self.model_key is None:
            return ()
        return registry.get(self.model_key).credential_fields()


@dataclass(frozen=True)
class DataProviderConfig:
    """One chosen data provider with its credentials (and settings when they differ from the brokerage's)."""

    provider_id: str
    model_key: str | None
    credentials: dict[str, SecretStr] = field(default_factory=dict, repr=False)
    settings: dict[str, Any] = field(default_factory=dict)


def _model_option(model_key: str) -> DataProviderOption:
    model = registry.get(model_key)
    return DataProviderOption(model.brokerage_id, model.display_name, model.key)


QUANTCONNECT = DataProviderOption(QUANTCONNECT_PROVIDER_ID, "QuantConnect", None)

# Usable as data providers, with their credentials modelled by the brokerage models.
OFFERED: tuple[DataProviderOption, ...] = (
    QUANTCONNECT,
    *(
        _model_option(key)
        for key in (
            "InteractiveBrokersSettings",
            "TradierSettings",
            "BitfinexSettings",
            "CoinbaseSettings",
            "BinanceSettings",
            "BinanceFuturesUSDMSettings",
            "BinanceFuturesCOINSettings",
            "BinanceUSSettings",
            "KrakenSettings",
            "BybitSettings",
            "OandaSettings",
        )
    ),
)

# Named by QuantConnect's newer OpenAPI file; not offered because no settings model holds their credentials.
KNOWN_NOT_OFFERED: tuple[DataProviderOption, ...] = (
    DataProviderOption("PolygonDataFeed", "Polygon", None, offered=False),
    DataProviderOption("AlpacaBrokerage", "Alpaca", None, offered=False),
    DataProviderOption("CharlesSchwabBrokerage", "Charles Schwab", None, offered=False),
    DataProviderOption("TradeStationBrokerage", "TradeStation", None, offered=False),
    DataProviderOption("TastytradeBrokerage", "Tastytrade", None, offered=False),
)


def data_providers_for(model_key: str) -> tuple[DataProviderOption, ...]:
    """Providers offered with this brokerage: QuantConnect, plus the brokerage itself when usable."""
    registry.get(model_key)  # unknown keys fail loudly rather than offering QuantConnect only
    own = tuple(option for option in OFFERED if option.model_key == model_key)
    return (QUANTCONNECT, *own)


def find_option(provider_id: str, model_key: str | None = None) -> DataProviderOption | None:
    """The offered option for this provider id (and model, for the Binance family), if any."""
    for option in OFFERED:
        if option.provider_id == provider_id and (model_key is None or option.model_key == model_key):
            return option
    return None


def resolve_option(entry: str, brokerage_model_key: str | None = None) -> DataProviderOption | None:
    """The offered option an entry names: a model key, or a provider id; None when none is offered.

    The Binance models share one provider id: by that id, the brokerage's own model is meant (then the
    first one offered). This is the one place that decides which provider a stored or chosen entry means.
    """
    by_key = next((option for option in OFFERED if option.model_key == entry), None)
    if by_key is not None:
        return by_key
    own = find_option(entry, brokerage_model_key) if brokerage_model_key is not None else None
    return own or find_option(entry)


def config_for(
    option: DataProviderOption, credentials: dict[str, SecretStr] | None = None
) -> DataProviderConfig:
    """The configuration for an option, with the credentials taken from a profile."""
    return DataProviderConfig(option.provider_id, option.model_key, dict(credentials or {}))
