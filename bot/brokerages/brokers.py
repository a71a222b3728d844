"""Settings models of the retail stock, options, futures and forex brokers."""

from __future__ import annotations

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import choices, credential, setting

LIVE_PAPER = choices(("live", "Live"), ("paper", "Paper"))
PRODUCT_TYPES = choices(
    ("mis", "MIS (intraday)"), ("cnc", "CNC (delivery)"), ("nrml", "NRML (carry forward)")
)
TRADING_SEGMENTS = choices(("equity", "Equity (NSE/BSE)"), ("commodity", "Commodity (MCX)"))


class InteractiveBrokersSettings(BrokerageSettings):
    """Interactive Brokers, as brokerage or data provider."""

    key = "InteractiveBrokersSettings"
    brokerage_id = "InteractiveBrokersBrokerage"
    display_name = "Interactive Brokers"
    paper_when = ("ib-trading-mode", "paper")

    user_name: SecretStr = credential("ib-user-name", "IB user name", "Your Interactive Brokers user name.")
    password: SecretStr = credential("ib-password", "IB password", "Your Interactive Brokers password.")
    account: SecretStr = credential(
        "ib-account", "IB account", "Your Interactive Brokers account id (paper accounts start with DU)."
    )
    trading_mode: str = setting(
        "ib-trading-mode",
        "Trading mode",
        "Paper trades a DU paper account; live trades real money.",
        choices=LIVE_PAPER,
    )
    weekly_restart_utc_time: str = setting(
        "ib-weekly-restart-utc-time",
        "Weekly restart time",
        "Each Sunday at this UTC time the algorithm restarts and asks for 2FA (24 h clock).",
        default="21:00:00",
        format_hint="hh:mm:ss",
        example="21:00:00",
    )
    financial_advisors_group_filter: str | None = setting(
        "ib-financial-advisors-group-filter",
        "Financial advisors group",
        "Only trade this financial advisor group of the account. Leave blank to include all groups.",
        required=False,
        extra=True,
    )


class TradierSettings(BrokerageSettings):
    """Tradier, as brokerage or data provider."""

    key = "TradierSettings"
    brokerage_id = "TradierBrokerage"
    display_name = "Tradier"
    paper_when = ("tradier-environment", "paper")

    account_id: SecretStr = credential("tradier-account-id", "Tradier account id", "Your Tradier account id.")
    access_token: SecretStr = credential(
        "tradier-access-token", "Tradier access token", "Your Tradier access token."
    )
    environment: str = setting(
        "tradier-environment",
        "Environment",
        "Paper uses Tradier's developer sandbox; live trades real money.",
        choices=LIVE_PAPER,
    )


class OandaSettings(BrokerageSettings):
    """OANDA, as brokerage or data provider."""

    key = "OandaSettings"
    brokerage_id = "OandaBrokerage"
    display_name = "OANDA"
    paper_when = ("oanda-environment", "Practice")

    account_id: SecretStr = credential(
        "oanda-account-id",
        "OANDA account id",
        "From your OANDA Account Statement page, like 001-001-123456-001.",
        format_hint="###-###-######-###",
        example="001-001-123456-001",
    )
    access_token: SecretStr = credential(
        "oanda-access-token", "OANDA access token", "An API token from OANDA's Manage API Access page."
    )
    environment: str = setting(
        "oanda-environment",
        "Environment",
        "Practice is fxTrade Practice (paper); Trade is fxTrade (real money).",
        choices=choices(("Practice", "Practice (paper)"), ("Trade", "Trade (real money)")),
    )


class ZerodhaSettings(BrokerageSettings):
    """Zerodha (Kite Connect), as brokerage or data provider."""

    key = "ZerodhaSettings"
    brokerage_id = "ZerodhaBrokerage"
    display_name = "Zerodha"

    api_key: SecretStr = credential("zerodha-api-key", "Kite Connect API key", "Your Kite Connect API key.")
    access_token: SecretStr = credential(
        "zerodha-access-token",
        "Kite Connect access token",
        "Your Kite Connect access token; it expires every day, so refresh the profile before deploying.",
    )
    product_type: str = setting(
        "zerodha-product-type",
        "Product type",
        "MIS for intraday, CNC for delivery, NRML for carry forward products.",
        choices=PRODUCT_TYPES,
    )
    trading_segment: str = setting(
        "zerodha-trading-segment",
        "Trading segment",
        "Equity for NSE or BSE equities, commodity for MCX commodities.",
        choices=TRADING_SEGMENTS,
    )
    history_subscription: bool = setting(
        "zerodha-history-subscription",
        "History API subscription",
        "Whether you pay for Zerodha's historical data API.",
        default=False,
        value_type="bool",
    )


class SamcoSettings(BrokerageSettings):
    """Samco, as brokerage or data provider."""

    key = "SamcoSettings"
    brokerage_id = "SamcoBrokerage"
    display_name = "Samco"

    client_id: SecretStr = credential("samco-client-id", "Samco client id", "Your Samco account client id.")
    client_password: SecretStr = credential(
        "samco-client-password", "Samco password", "Your Samco account password."
    )
    year_of_birth: SecretStr = credential(
        "samco-year-of-birth",
        "Year of birth",
        "The year of birth registered with Samco, four digits.",
        format_hint="YYYY",
        value_type="int",
        example="1985",
    )
    product_type: str = setting(
        "samco-product-type",
        "Product type",
        "MIS for intraday, CNC for delivery, NRML for carry forward products.",
        choices=PRODUCT_TYPES,
    )
    trading_segment: str = setting(
        "samco-trading-segment",
        "Trading segment",
        "Equity for NSE or BSE equities, commodity for MCX commodities.",
        choices=TRADING_SEGMENTS,
    )


class TDAmeritradeSettings(BrokerageSettings):
    """TD Ameritrade, as brokerage or data provider."""

    key = "TDAmeritradeSettings"
    brokerage_id = "TDAmeritradeBrokerage"
    display_name = "TD Ameritrade"

    api_key: SecretStr = credential(
        "tdameritrade-api-key", "TD Ameritrade API key", "Your TD Ameritrade API key."
    )
    access_token: SecretStr = credential(
        "tdameritrade-access-token", "TD Ameritrade access token", "Your TD Ameritrade OAuth access token."
    )
    account_number: SecretStr = credential(
        "tdameritrade-account-number", "TD Ameritrade account number", "Your TD Ameritrade account number."
    )
