"""Settings models of the brokerages QuantConnect authorizes itself (OAuth): Alpaca, TradeStation, Tastytrade,
Charles Schwab; and Alpaca's separate data provider settings.

Their tokens can be held by the credential profile, or read from QuantConnect (`live/auth0/read`) just before
`live/create` when the profile says `auth=quantconnect` (bot.oauth). `quantconnect_auth` is the brokerage
name `live/auth0/*` takes (AuthorizeExternalConnectionRequest.brokerage); `authorized_fields` are the
credentials QuantConnect's authorization provides, so such a profile need not hold them.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.brokerages.fields import Support, choices, credential, setting

LIVE_PAPER = choices(("live", "Live"), ("paper", "Paper"))
# A credential profile's `auth` value saying its tokens come from QuantConnect's authorization.
QUANTCONNECT_AUTH = "quantconnect"


class OAuthBrokerageSettings(BrokerageSettings):
    """A brokerage whose tokens QuantConnect can obtain through its own authorization page."""

    quantconnect_auth: ClassVar[str]
    authorized_fields: ClassVar[tuple[str, ...]]
    # QuantConnect's documentation: the live portfolio is loaded from the brokerage; starting holdings may be
    # stated, starting cash is the account's own.
    holdings_support = Support.OPTIONAL


class AlpacaBrokerageSettings(OAuthBrokerageSettings):
    """Alpaca (US equities, options, crypto) as the brokerage."""

    key = "AlpacaBrokerageSettings"
    brokerage_id = "AlpacaBrokerage"
    display_name = "Alpaca"
    paper_when = ("alpaca-environment", "paper")
    quantconnect_auth = "alpaca"
    authorized_fields = ("alpaca-access-token",)

    access_token: SecretStr = credential(
        "alpaca-access-token",
        "Alpaca access token",
        "Your Alpaca OAuth access token (or auth=quantconnect: QuantConnect's authorization provides it).",
    )
    environment: str = setting(
        "alpaca-environment",
        "Environment",
        "Paper trades Alpaca's paper account; live trades real money.",
        choices=LIVE_PAPER,
    )


class AlpacaDataProviderSettings(BrokerageSettings):
    """Alpaca as a data provider: API key and secret, not the brokerage's access token."""

    key = "AlpacaDataProviderSettings"
    brokerage_id = "AlpacaBrokerage"
    display_name = "Alpaca data"
    data_provider_only = True

    api_key: SecretStr = credential("alpaca-api-key", "Alpaca API key", "Your Alpaca API key (market data).")
    api_secret: SecretStr = credential(
        "alpaca-api-secret", "Alpaca API secret", "Your Alpaca API secret (market data)."
    )


class TradeStationSettings(OAuthBrokerageSettings):
    """TradeStation, as brokerage or data provider."""

    key = "TradeStationSettings"
    brokerage_id = "TradeStationBrokerage"
    display_name = "TradeStation"
    paper_when = ("trade-station-environment", "paper")
    quantconnect_auth = "tradestation"
    authorized_fields = ("trade-station-client-id", "trade-station-refresh-token")

    client_id: SecretStr = credential(
        "trade-station-client-id", "TradeStation client id", "Your TradeStation client id."
    )
    account_id: SecretStr = credential(
        "trade-station-account-id", "TradeStation account id", "The TradeStation account to trade."
    )
    refresh_token: SecretStr = credential(
        "trade-station-refresh-token",
        "TradeStation refresh token",
        "Your TradeStation refresh token (or auth=quantconnect: QuantConnect's authorization provides it).",
    )
    environment: str = setting(
        "trade-station-environment",
        "Environment",
        "Paper trades TradeStation's simulated account; live trades real money.",
        choices=LIVE_PAPER,
    )


class TastytradeSettings(OAuthBrokerageSettings):
    """Tastytrade, as brokerage or data provider."""

    key = "TastytradeSettings"
    brokerage_id = "TastytradeBrokerage"
    display_name = "Tastytrade"
    quantconnect_auth = "tastytrade"
    authorized_fields = ("tastytrade-refresh-token",)

    # QuantConnect's API file types the account number as an integer: a profile holding anything else is
    # refused before approval, naming the field.
    account_number: SecretStr = credential(
        "tastytrade-account-number",
        "Tastytrade account number",
        "Your Tastytrade account number, digits only.",
        value_type="int",
        example="12345678",
    )
    refresh_token: SecretStr = credential(
        "tastytrade-refresh-token",
        "Tastytrade refresh token",
        "Your Tastytrade refresh token (or auth=quantconnect: QuantConnect's authorization provides it).",
    )


class CharlesSchwabSettings(OAuthBrokerageSettings):
    """Charles Schwab, as brokerage or data provider."""

    key = "CharlesSchwabSettings"
    brokerage_id = "CharlesSchwabBrokerage"
    display_name = "Charles Schwab"
    quantconnect_auth = "charlesschwab"
    # The body carries the account number only: Lean's Schwab brokerage fetches its token from QuantConnect
    # at run time (CharlesSchwabLeanTokenHandler), so QuantConnect must hold an authorization, nothing more.
    authorized_fields = ()

    account_number: SecretStr = credential(
        "charles-schwab-account-number", "Schwab account number", "Your Charles Schwab account number."
    )


def oauth_model(model_key: str) -> type[OAuthBrokerageSettings] | None:
    """The brokerage model when QuantConnect can authorize it (by key), else None."""
    from bot.brokerages import registry  # registry imports this module

    try:
        model = registry.get(model_key)
    except UnknownBrokerage:
        return None
    return model if issubclass(model, OAuthBrokerageSettings) else None
