"""A complete, valid (settings, credentials) pair per model, and the credential profiles that hold them.

For tests and benches only: every credential here is fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.brokerages import registry
from bot.brokerages.holdings import BrokerageHolding, CashAmount
from bot.secrets.env_store import env_name
from bot.secrets.keys import BROKERAGE_FIELD, profile_key

Settings = dict[str, Any]
Credentials = dict[str, str]

# Paper/test environments wherever a model has one, so that a demo never points at real money.
EXAMPLE_PROFILES: dict[str, tuple[Settings, Credentials]] = {
    "QuantConnectSettings": ({}, {}),
    "InteractiveBrokersSettings": (
        {"ib-trading-mode": "paper", "ib-weekly-restart-utc-time": "21:00:00"},
        {"ib-user-name": "fake-ib-user", "ib-password": "fake-ib-password", "ib-account": "DU0000000"},
    ),
    "TradierSettings": (
        {"tradier-environment": "paper"},
        {"tradier-account-id": "FAKE00000", "tradier-access-token": "fake-tradier-token"},
    ),
    "OandaSettings": (
        {"oanda-environment": "Practice"},
        {"oanda-account-id": "001-001-123456-001", "oanda-access-token": "fake-oanda-token"},
    ),
    "BinanceSettings": (
        {"binance-use-testnet": "paper"},
        {"binance-api-key": "fake-binance-key", "binance-api-secret": "fake-binance-secret"},
    ),
    "BinanceFuturesUSDMSettings": (
        {},
        {"binance-api-key": "fake-binance-key", "binance-api-secret": "fake-binance-secret"},
    ),
    "BinanceFuturesCOINSettings": (
        {},
        {"binance-api-key": "fake-binance-key", "binance-api-secret": "fake-binance-secret"},
    ),
    "BinanceUSSettings": (
        {},
        {"binanceus-api-key": "fake-binanceus-key", "binanceus-api-secret": "fake-binanceus-secret"},
    ),
    "CoinbaseSettings": (
        {},
        {
            "coinbase-api-key": "fake-coinbase-key",
            "coinbase-api-secret": "fake-coinbase-secret",
            "coinbase-api-name": "organizations/fake/apiKeys/fake",
            "coinbase-api-private-key": "fake-coinbase-private-key",
        },
    ),
    "KrakenSettings": (
        {"kraken-verification-tier": "Starter"},
        {"kraken-api-key": "fake-kraken-key", "kraken-api-secret": "fake-kraken-secret"},
    ),
    "BybitSettings": (
        {"bybit-vip-level": "VIP0", "bybit-use-testnet": "paper"},
        {"bybit-api-key": "fake-bybit-key", "bybit-api-secret": "fake-bybit-secret"},
    ),
    "BitfinexSettings": (
        {},
        {"bitfinex-api-key": "fake-bitfinex-key", "bitfinex-api-secret": "fake-bitfinex-secret"},
    ),
    "ZerodhaSettings": (
        {
            "zerodha-product-type": "mis",
            "zerodha-trading-segment": "equity",
            "zerodha-history-subscription": "false",
        },
        {"zerodha-api-key": "fake-kite-key", "zerodha-access-token": "fake-kite-token"},
    ),
    "SamcoSettings": (
        {"samco-product-type": "cnc", "samco-trading-segment": "equity"},
        {
            "samco-client-id": "FAKE0001",
            "samco-client-password": "fake-samco-password",
            "samco-year-of-birth": "1985",
        },
    ),
    "TradingTechnologiesSettings": (
        {"tt-rest-environment": "uat"},
        {
            "tt-user-name": "fake-tt-user",
            "tt-session-password": "fake-tt-password",
            "tt-account-name": "fake-tt-account",
            "tt-rest-app-key": "fake-tt-app-key",
            "tt-rest-app-secret": "fake-tt-app-secret",
            "tt-order-routing-sender-comp-id": "FAKECOMP",
        },
    ),
    "TerminalLinkSettings": (
        {
            "terminal-link-connection-type": "SAPI",
            "terminal-link-environment": "Beta",
            "terminal-link-server-host": "127.0.0.1",
            "terminal-link-server-port": "8194",
            "terminal-link-emsx-team": "FAKETEAM",
        },
        {
            "terminal-link-server-auth-id": "00000000",
            "terminal-link-openfigi-api-key": "fake-openfigi-key",
            "terminal-link-emsx-broker": "FAKEBROKER",
            "terminal-link-emsx-account": "FAKEACCOUNT",
        },
    ),
    "WolverineSettings": (
        {},
        {"wolverine-on-behalf-of-comp-id": "FAKEFIRM", "wolverine-account": "fake-wolverine-account"},
    ),
    "RBIBrokerageSettings": (
        {},
        {"rbi-on-behalf-of-comp-id": "FAKEFIRM", "rbi-account": "fake-rbi-account"},
    ),
    "TDAmeritradeSettings": (
        {},
        {
            "tdameritrade-api-key": "fake-tda-key",
            "tdameritrade-access-token": "fake-tda-token",
            "tdameritrade-account-number": "000000000",
        },
    ),
    "BaseLiveAlgorithmSettings": (
        {"id": "Interactive", "environment": "paper"},
        {"user": "fake-legacy-user", "password": "fake-legacy-password", "account": "DU0000000"},
    ),
}

# Starting cash for the models that require it; pass as `cash=` to the builder.
EXAMPLE_CASH: dict[str, tuple[CashAmount, ...]] = {
    "TradingTechnologiesSettings": (CashAmount(amount=100000, currency="USD"),),
}

EXAMPLE_HOLDINGS: tuple[BrokerageHolding, ...] = (
    BrokerageHolding(symbol_id="SPY R735QTJ8XC9X", symbol="SPY", quantity=10, average_price=450.25),
)


def example_cash(model_key: str) -> tuple[CashAmount, ...]:
    """The example starting cash for a model (empty unless the model requires cash)."""
    return EXAMPLE_CASH.get(model_key, ())


def example_secret_values() -> set[str]:
    """Every fake credential value, for tests that check secrets never leak."""
    return {value for _, credentials in EXAMPLE_PROFILES.values() for value in credentials.values()}


ProfileSpec = tuple[str, Mapping[str, str]]
IB_SETTINGS, IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"]
IB_PROFILES: dict[str, ProfileSpec] = {"ib-main": ("InteractiveBrokersBrokerage", IB_CREDENTIALS)}


def profile_name(model_key: str) -> str:
    """The name of a model's example profile, e.g. `interactivebrokers`."""
    return model_key.removesuffix("Settings").lower()


def example_profile(model_key: str) -> tuple[str, dict[str, str]]:
    """(brokerage id, credentials) of the example profile of a model."""
    return registry.get(model_key).brokerage_id, dict(EXAMPLE_PROFILES[model_key][1])


def example_profiles() -> dict[str, ProfileSpec]:
    """One profile per registry model, named after it (`profile_name`)."""
    return {profile_name(model.key): example_profile(model.key) for model in registry.all_models()}


def profile_env(profiles: Mapping[str, ProfileSpec]) -> dict[str, str]:
    """Environment variables that store credential profiles in the env secret backend."""
    env: dict[str, str] = {}
    for name, (brokerage_id, credentials) in profiles.items():
        env[env_name(profile_key(name, BROKERAGE_FIELD))] = brokerage_id
        for field_name, value in credentials.items():
            env[env_name(profile_key(name, field_name))] = str(value)
    return env
