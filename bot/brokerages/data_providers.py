"""Which brokerages can feed market data to a live algorithm, and the configuration the builder turns into
`dataProviders` (an ordered object: earlier providers take precedence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bot.brokerages import registry
from bot.brokerages.data_feeds import POLYGON_PROVIDER_KEY
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
    # The brokerage model this provider is "its own data" of, when its settings model is a different one
    # (Alpaca's data provider takes an API key and secret, its brokerage an access token).
    brokerage_key: str | None = None

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


def _model_option(model_key: str, brokerage_key: str | None = None) -> DataProviderOption:
    model = registry.get(model_key)
    name = registry.get(brokerage_key).display_name if brokerage_key else model.display_name
    return DataProviderOption(model.brokerage_id, name, model.key, brokerage_key=brokerage_key)


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
            "TradeStationSettings",
            "TastytradeSettings",
            "CharlesSchwabSettings",
        )
    ),
    _model_option("AlpacaDataProviderSettings", brokerage_key="AlpacaBrokerageSettings"),
)
# Data vendors usable with any brokerage whose deployment has a credential profile (their keys sit in it).
INDEPENDENT: tuple[DataProviderOption, ...] = (
    DataProviderOption(POLYGON_PROVIDER_KEY, "Polygon", "PolygonDataProviderSettings"),
)
OFFERED = (*OFFERED, *INDEPENDENT)

# Named by QuantConnect's API file and not offered: none left (kept for callers that list them).
KNOWN_NOT_OFFERED: tuple[DataProviderOption, ...] = ()


def data_providers_for(model_key: str) -> tuple[DataProviderOption, ...]:
    """Providers offered with this brokerage: QuantConnect, the brokerage's own feed when usable, and the
    independent vendors (Polygon) when the brokerage has a credential profile to hold their keys."""
    model = registry.get(model_key)  # unknown keys fail loudly rather than offering QuantConnect only
    own = tuple(option for option in OFFERED if model_key in (option.model_key, option.brokerage_key))
    vendors = INDEPENDENT if model.credential_fields() and not model.data_provider_only else ()
    return (QUANTCONNECT, *own, *vendors)


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
