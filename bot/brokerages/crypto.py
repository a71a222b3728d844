"""Settings models of the crypto exchanges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support, choices, credential, setting
from bot.brokerages.validation import Value

BINANCE_ID = "BinanceBrokerage"
# Binance spot and its testnet, as QuantConnect's lean-cli (lean/models/brokerages/local/binance.py) and
# Lean's BinanceBrokerageFactory name them. The futures testnet (testnet.binancefuture.com) is not offered:
# the OpenAPI file has no testnet marker for the futures models, so nothing would tell QuantConnect it is
# paper, and Lean's own API tests deploy futures without one.
BINANCE_LIVE_API = "https://api.binance.com"
BINANCE_LIVE_WEBSOCKET = "wss://stream.binance.com:9443/ws"
BINANCE_TESTNET_API = "https://testnet.binance.vision"
BINANCE_TESTNET_WEBSOCKET = "wss://testnet.binance.vision/ws"


def _exchange_name(name: str) -> Any:
    return setting(
        "binance-exchange-name",
        "Binance exchange",
        "Which Binance exchange to trade on.",
        default=name,
        fixed=True,
    )


def _fixed_url(name: str, label: str, url: str) -> Any:
    return setting(name, label, f"Always {url}.", default=url, fixed=True)


def _environment_url(name: str, label: str, live: str, testnet: str) -> Any:
    return setting(name, label, f"{testnet} on the testnet, {live} otherwise.", default=live, fixed=True)


def _hosts(*urls: str) -> frozenset[str]:
    return frozenset(urlsplit(url).hostname or "" for url in urls)


class BinanceSettings(BrokerageSettings):
    """Binance spot and margin."""

    key = "BinanceSettings"
    brokerage_id = BINANCE_ID
    exchange_name = "Binance"
    display_name = "Binance"
    holdings_support = Support.OPTIONAL
    paper_when = ("binance-use-testnet", "paper")
    paper_hosts = _hosts(BINANCE_TESTNET_API, BINANCE_TESTNET_WEBSOCKET)

    exchange: str = _exchange_name("Binance")
    api_key: SecretStr = credential("binance-api-key", "Binance API key", "Your Binance API key.")
    api_secret: SecretStr = credential("binance-api-secret", "Binance API secret", "Your Binance API secret.")
    # Only in QuantConnect's newer OpenAPI file, which requires it for spot: default to live, always send it.
    use_testnet: str = setting(
        "binance-use-testnet",
        "Environment",
        "Paper trades on the Binance testnet; live trades real money.",
        choices=choices(("live", "Live"), ("paper", "Paper (testnet)")),
        default="live",
        extra=True,
    )
    api_url: str = _environment_url(
        "binance-api-url", "Binance API URL", BINANCE_LIVE_API, BINANCE_TESTNET_API
    )
    websocket_url: str = _environment_url(
        "binance-websocket-url", "Binance websocket URL", BINANCE_LIVE_WEBSOCKET, BINANCE_TESTNET_WEBSOCKET
    )

    @classmethod
    def fixed_values(cls, settings: Mapping[str, Any]) -> dict[str, Value]:
        """Point both endpoints at the Binance spot testnet when paper trading."""
        values = super().fixed_values(settings)
        testnet = cls.is_paper(settings)
        values["binance-api-url"] = BINANCE_TESTNET_API if testnet else BINANCE_LIVE_API
        values["binance-websocket-url"] = BINANCE_TESTNET_WEBSOCKET if testnet else BINANCE_LIVE_WEBSOCKET
        return values


class BinanceFuturesUSDMSettings(BrokerageSettings):
    """Binance USDⓈ-margined futures."""

    key = "BinanceFuturesUSDMSettings"
    brokerage_id = BINANCE_ID
    exchange_name = "Binance-USDM-Futures"
    display_name = "Binance USDⓈ-M Futures"
    holdings_support = Support.OPTIONAL

    exchange: str = _exchange_name("Binance-USDM-Futures")
    api_key: SecretStr = credential("binance-api-key", "Binance API key", "Your Binance API key.")
    api_secret: SecretStr = credential("binance-api-secret", "Binance API secret", "Your Binance API secret.")
    fapi_url: str = _fixed_url("binance-fapi-url", "Binance futures API URL", "https://fapi.binance.com")
    fwebsocket_url: str = _fixed_url(
        "binance-fwebsocket-url", "Binance futures websocket URL", "wss://fstream.binance.com/ws"
    )


class BinanceFuturesCOINSettings(BrokerageSettings):
    """Binance coin-margined futures."""

    key = "BinanceFuturesCOINSettings"
    brokerage_id = BINANCE_ID
    exchange_name = "Binance-COIN-Futures"
    display_name = "Binance COIN-M Futures"
    holdings_support = Support.OPTIONAL

    exchange: str = _exchange_name("Binance-COIN-Futures")
    api_key: SecretStr = credential("binance-api-key", "Binance API key", "Your Binance API key.")
    api_secret: SecretStr = credential("binance-api-secret", "Binance API secret", "Your Binance API secret.")
    dapi_url: str = _fixed_url("binance-dapi-url", "Binance COIN futures API URL", "https://dapi.binance.com")
    dwebsocket_url: str = _fixed_url(
        "binance-dwebsocket-url", "Binance COIN futures websocket URL", "wss://dstream.binance.com/ws"
    )


class BinanceUSSettings(BrokerageSettings):
    """Binance.US spot."""

    key = "BinanceUSSettings"
    brokerage_id = BINANCE_ID
    exchange_name = "BinanceUS"
    display_name = "Binance.US"
    holdings_support = Support.OPTIONAL

    exchange: str = _exchange_name("BinanceUS")
    api_key: SecretStr = credential("binanceus-api-key", "Binance.US API key", "Your Binance.US API key.")
    api_secret: SecretStr = credential(
        "binanceus-api-secret", "Binance.US API secret", "Your Binance.US API secret."
    )
    api_url: str = _fixed_url("binanceus-api-url", "Binance.US API URL", "https://api.binance.us")
    websocket_url: str = _fixed_url(
        "binanceus-websocket-url", "Binance.US websocket URL", "wss://stream.binance.us:9443/ws"
    )


class BitfinexSettings(BrokerageSettings):
    """Bitfinex, as brokerage or data provider."""

    key = "BitfinexSettings"
    brokerage_id = "BitfinexBrokerage"
    display_name = "Bitfinex"

    api_key: SecretStr = credential("bitfinex-api-key", "Bitfinex API key", "Your Bitfinex API key.")
    api_secret: SecretStr = credential(
        "bitfinex-api-secret", "Bitfinex API secret", "Your Bitfinex API secret."
    )


class CoinbaseSettings(BrokerageSettings):
    """Coinbase Advanced Trade, as brokerage or data provider."""

    key = "CoinbaseSettings"
    brokerage_id = "CoinbaseBrokerage"
    display_name = "Coinbase Advanced Trade"
    holdings_support = Support.OPTIONAL

    api_key: SecretStr = credential(
        "coinbase-api-key", "Coinbase API key", "Your Coinbase Advanced Trade API key."
    )
    api_secret: SecretStr = credential(
        "coinbase-api-secret", "Coinbase API secret", "Your Coinbase Advanced Trade API secret."
    )
    api_name: SecretStr | None = credential(
        "coinbase-api-name",
        "Coinbase API name",
        "Your Coinbase Advanced Trade API key name (QuantConnect's current API asks for it).",
        required=False,
        extra=True,
    )
    api_private_key: SecretStr | None = credential(
        "coinbase-api-private-key",
        "Coinbase API private key",
        "Your Coinbase Advanced Trade API private key (QuantConnect's current API asks for it).",
        required=False,
        extra=True,
    )
    url: str = _fixed_url("coinbase-url", "Coinbase websocket URL", "wss://advanced-trade-ws.coinbase.com")
    rest_api: str = _fixed_url("coinbase-rest-api", "Coinbase REST API", "https://api.coinbase.com")


class KrakenSettings(BrokerageSettings):
    """Kraken, as brokerage or data provider."""

    key = "KrakenSettings"
    brokerage_id = "KrakenBrokerage"
    display_name = "Kraken"

    api_key: SecretStr = credential("kraken-api-key", "Kraken API key", "Your Kraken API key.")
    api_secret: SecretStr = credential("kraken-api-secret", "Kraken API secret", "Your Kraken API secret.")
    verification_tier: str = setting(
        "kraken-verification-tier",
        "Verification tier",
        "Your Kraken verification tier; it sets your rate limits.",
        choices=choices("Starter", "Intermediate", "Pro"),
        default="Starter",
    )


# As Lean's BybitBrokerageFactory (QuantConnect/Lean.Brokerages.ByBit) names them.
BYBIT_LIVE_API = "https://api.bybit.com"
BYBIT_TESTNET_API = "https://api-testnet.bybit.com"
BYBIT_LIVE_WEBSOCKET = "wss://stream.bybit.com"
BYBIT_TESTNET_WEBSOCKET = "wss://stream-testnet.bybit.com"


class BybitSettings(BrokerageSettings):
    """Bybit, as brokerage or data provider."""

    key = "BybitSettings"
    brokerage_id = "BybitBrokerage"
    display_name = "Bybit"
    holdings_support = Support.OPTIONAL
    paper_when = ("bybit-use-testnet", "paper")
    paper_hosts = _hosts(BYBIT_TESTNET_API, BYBIT_TESTNET_WEBSOCKET)

    api_key: SecretStr = credential("bybit-api-key", "Bybit API key", "Your Bybit API key.")
    api_secret: SecretStr = credential("bybit-api-secret", "Bybit API secret", "Your Bybit API secret.")
    vip_level: str = setting(
        "bybit-vip-level",
        "VIP level",
        "Your Bybit VIP level; it sets your fees.",
        choices=choices(
            "VIP0", "VIP1", "VIP2", "VIP3", "VIP4", "VIP5", "SupremeVIP", *(f"Pro{n}" for n in range(1, 6))
        ),
        default="VIP0",
    )
    use_testnet: str = setting(
        "bybit-use-testnet",
        "Environment",
        "Paper trades on the Bybit testnet; live trades real money.",
        choices=choices(("live", "Live"), ("paper", "Paper (testnet)")),
    )
    api_url: str = _environment_url("bybit-api-url", "Bybit API URL", BYBIT_LIVE_API, BYBIT_TESTNET_API)
    websocket_url: str = _environment_url(
        "bybit-websocket-url", "Bybit websocket URL", BYBIT_LIVE_WEBSOCKET, BYBIT_TESTNET_WEBSOCKET
    )

    @classmethod
    def fixed_values(cls, settings: Mapping[str, Any]) -> dict[str, Value]:
        """Point both endpoints at the Bybit testnet when paper trading."""
        values = super().fixed_values(settings)
        testnet = cls.is_paper(settings)
        values["bybit-api-url"] = BYBIT_TESTNET_API if testnet else BYBIT_LIVE_API
        values["bybit-websocket-url"] = BYBIT_TESTNET_WEBSOCKET if testnet else BYBIT_LIVE_WEBSOCKET
        return values
