"""The older `BaseLiveAlgorithmSettings` brokerage shape of `live/create` (seed page 002)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import choices, credential, setting
from bot.brokerages.validation import missing_message

PAPER_TRADING_ID = "PaperTrading"


class LegacyLiveAlgorithmSettings(BrokerageSettings):
    """One model for every brokerage of the older API: the brokerage is chosen by the `id` setting."""

    key = "BaseLiveAlgorithmSettings"
    brokerage_id = "Default"
    display_name = "Older API shape (BaseLiveAlgorithmSettings)"

    # Declared as a setting so that it replaces the class-level "Default" id in the body, keeping first place.
    legacy_id: str = setting(
        "id",
        "Brokerage",
        "Which brokerage of the older API to use.",
        choices=choices(
            ("Interactive", "Interactive Brokers"),
            ("FXCM", "FXCM"),
            ("Oanda", "OANDA"),
            ("Tradier", "Tradier"),
            (PAPER_TRADING_ID, "Paper trading"),
        ),
    )
    user: SecretStr | None = credential(
        "user", "Brokerage user name", "User name at the brokerage.", required=False
    )
    password: SecretStr | None = credential(
        "password", "Brokerage password", "Password at the brokerage.", required=False
    )
    environment: str = setting(
        "environment",
        "Environment",
        "Paper uses the brokerage's paper account; live trades real money.",
        choices=choices(("live", "Live"), ("paper", "Paper")),
    )
    account: SecretStr | None = credential(
        "account", "Brokerage account", "Account at the brokerage.", required=False
    )

    @classmethod
    def is_paper(cls, settings: Mapping[str, Any]) -> bool:
        """Paper when the paper environment or the PaperTrading brokerage is chosen."""
        chosen_id = str(settings.get("id") or "").strip().lower()
        chosen_environment = str(settings.get("environment") or "").strip().lower()
        return chosen_id == PAPER_TRADING_ID.lower() or chosen_environment == "paper"

    @classmethod
    def marks_paper(cls, sent: Mapping[str, Any]) -> bool:
        """The PaperTrading id or the paper environment, exactly as sent."""
        return sent.get("id") == PAPER_TRADING_ID or sent.get("environment") == "paper"

    @classmethod
    def cross_field_errors(
        cls, settings: Mapping[str, Any], credentials: Mapping[str, SecretStr]
    ) -> dict[str, str]:
        """Real brokerages need user, password and account; paper trading needs none."""
        if settings.get("id") == PAPER_TRADING_ID:
            return {}
        return {
            info.name: missing_message(info)
            for info in cls.credential_fields()
            if info.name not in credentials
        }
