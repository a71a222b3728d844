"""Settings models of institutional brokerages: FIX execution services, Trading Technologies, Bloomberg."""

from __future__ import annotations

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support, choices, credential, setting


class WolverineSettings(BrokerageSettings):
    """Wolverine Execution Services."""

    key = "WolverineSettings"
    brokerage_id = "WolverineBrokerage"
    display_name = "Wolverine Execution Services"
    cash_support = Support.OPTIONAL
    holdings_support = Support.OPTIONAL

    on_behalf_of_comp_id: SecretStr = credential(
        "wolverine-on-behalf-of-comp-id", "Wolverine on-behalf-of comp id", "Identifies your trading firm."
    )
    account: SecretStr = credential(
        "wolverine-account", "Wolverine account", "Your Wolverine Execution Services account name."
    )


class RBIBrokerageSettings(BrokerageSettings):
    """RBI."""

    key = "RBIBrokerageSettings"
    brokerage_id = "RBIBrokerage"
    display_name = "RBI"
    cash_support = Support.OPTIONAL
    holdings_support = Support.OPTIONAL

    on_behalf_of_comp_id: SecretStr = credential(
        "rbi-on-behalf-of-comp-id", "RBI on-behalf-of comp id", "Identifies your trading firm."
    )
    account: SecretStr = credential("rbi-account", "RBI account", "Your RBI account name.")


class TradingTechnologiesSettings(BrokerageSettings):
    """Trading Technologies: starting cash is required, holdings are not accepted."""

    key = "TradingTechnologiesSettings"
    brokerage_id = "TradingTechnologiesBrokerage"
    display_name = "Trading Technologies"
    cash_support = Support.REQUIRED
    paper_when = ("tt-rest-environment", "uat")

    user_name: SecretStr = credential("tt-user-name", "TT user name", "Your Trading Technologies user name.")
    session_password: SecretStr = credential(
        "tt-session-password", "TT session password", "Your Trading Technologies session password."
    )
    account_name: SecretStr = credential(
        "tt-account-name", "TT account name", "Your Trading Technologies account name."
    )
    rest_app_key: SecretStr = credential(
        "tt-rest-app-key", "TT REST app key", "Your Trading Technologies app key."
    )
    rest_app_secret: SecretStr = credential(
        "tt-rest-app-secret", "TT REST app secret", "Your Trading Technologies app secret."
    )
    order_routing_sender_comp_id: SecretStr = credential(
        "tt-order-routing-sender-comp-id",
        "TT order routing sender comp id",
        "Your Trading Technologies remote comp id for order routing.",
    )
    rest_environment: str = setting(
        "tt-rest-environment",
        "Environment",
        "UAT is Trading Technologies' test environment (paper); live trades real money.",
        choices=choices(("live", "Live"), ("uat", "UAT (test)")),
    )


class TerminalLinkSettings(BrokerageSettings):
    """Bloomberg Terminal Link (EMSX)."""

    key = "TerminalLinkSettings"
    brokerage_id = "TerminalLinkBrokerage"
    display_name = "Terminal Link (Bloomberg EMSX)"
    cash_support = Support.OPTIONAL
    holdings_support = Support.OPTIONAL
    paper_when = ("terminal-link-environment", "Beta")

    # The seed offers DAPI and SAPI; QuantConnect's current OpenAPI file only accepts SAPI, hence the default.
    connection_type: str = setting(
        "terminal-link-connection-type",
        "Connection type",
        "SAPI connects to a Bloomberg server API host. DAPI (desktop API) is refused by QuantConnect's "
        "current API.",
        choices=choices(("SAPI", "SAPI (server API)"), ("DAPI", "DAPI (desktop API)")),
        default="SAPI",
    )
    environment: str | None = setting(
        "terminal-link-environment",
        "Environment",
        "Beta is Bloomberg's test environment (paper); Production trades real money.",
        choices=choices(("Production", "Production"), ("Beta", "Beta (test)")),
        required=False,
        extra=True,
    )
    server_host: str | None = setting(
        "terminal-link-server-host",
        "SAPI server host",
        "The public IP address of your SAPI server.",
        required=False,
        extra=True,
    )
    server_port: int | None = setting(
        "terminal-link-server-port",
        "SAPI server port",
        "The port SAPI listens on; Bloomberg's default is 8194.",
        required=False,
        value_type="int",
        extra=True,
        example="8194",
    )
    emsx_team: str | None = setting(
        "terminal-link-emsx-team", "EMSX team", "The EMSX team to use.", required=False, extra=True
    )
    server_auth_id: SecretStr | None = credential(
        "terminal-link-server-auth-id",
        "Bloomberg UUID",
        "Your Bloomberg Anywhere user UUID.",
        required=False,
        extra=True,
    )
    emsx_broker: SecretStr | None = credential(
        "terminal-link-emsx-broker", "EMSX broker", "The EMSX broker to route to.", required=False, extra=True
    )
    emsx_account: SecretStr | None = credential(
        "terminal-link-emsx-account",
        "EMSX account",
        "The account to which orders are routed.",
        required=False,
        extra=True,
    )
    openfigi_api_key: SecretStr | None = credential(
        "terminal-link-openfigi-api-key",
        "OpenFIGI API key",
        "Your OpenFIGI API key, used to map options.",
        required=False,
        extra=True,
    )
