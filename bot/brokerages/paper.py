"""QuantConnect's own paper trading brokerage."""

from __future__ import annotations

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support


class QuantConnectSettings(BrokerageSettings):
    """QuantConnect paper trading: no credentials, optional starting cash and holdings."""

    key = "QuantConnectSettings"
    brokerage_id = "QuantConnectBrokerage"
    display_name = "QuantConnect Paper Trading"
    cash_support = Support.OPTIONAL
    holdings_support = Support.OPTIONAL
    always_paper = True
