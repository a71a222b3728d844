"""Brokerage settings models of QuantConnect's `live/create`, their field metadata, and the body builder."""

from bot.brokerages.base import MASK, BrokerageSettings
from bot.brokerages.builder import DataProviderEntry, LiveCreateRequest, build_live_create_request
from bot.brokerages.data_providers import (
    DEFAULT_DATA_PROVIDERS,
    DataProviderConfig,
    DataProviderOption,
    data_providers_for,
)
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.brokerages.fields import Choice, FieldInfo, FieldKind, Support
from bot.brokerages.holdings import (
    CASH_FORMAT_HELP,
    HOLDINGS_FORMAT_HELP,
    BrokerageHolding,
    CashAmount,
    format_cash,
    format_holdings,
    parse_cash,
    parse_holdings,
)
from bot.brokerages.legacy import LegacyLiveAlgorithmSettings
from bot.brokerages.registry import all_models, by_id, get, models_for_brokerage_id

__all__ = [
    "CASH_FORMAT_HELP",
    "DEFAULT_DATA_PROVIDERS",
    "HOLDINGS_FORMAT_HELP",
    "MASK",
    "BrokerageHolding",
    "BrokerageSettings",
    "CashAmount",
    "Choice",
    "DataProviderConfig",
    "DataProviderEntry",
    "DataProviderOption",
    "FieldErrors",
    "FieldInfo",
    "FieldKind",
    "LegacyLiveAlgorithmSettings",
    "LiveCreateRequest",
    "Support",
    "UnknownBrokerage",
    "all_models",
    "build_live_create_request",
    "by_id",
    "data_providers_for",
    "format_cash",
    "format_holdings",
    "get",
    "models_for_brokerage_id",
    "parse_cash",
    "parse_holdings",
]
