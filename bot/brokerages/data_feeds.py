"""Settings of data providers that are not brokerages: Polygon (US equities, options and indices).

Their credentials live in the deployment's credential profile beside the brokerage's (a data provider has no
profile of its own), and their block goes into `dataProviders` only, never as the brokerage.
"""

from __future__ import annotations

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import credential

# QuantConnect's API file keys Polygon's entry `PolygonDataFeed` in `dataProviders`, while the entry's own
# `id` is `Polygon` (PolygonDataProviderSettings).
POLYGON_PROVIDER_KEY = "PolygonDataFeed"


class PolygonDataProviderSettings(BrokerageSettings):
    """Polygon as a data provider."""

    key = "PolygonDataProviderSettings"
    brokerage_id = "Polygon"
    display_name = "Polygon"
    data_provider_only = True

    api_key: SecretStr = credential("polygon-api-key", "Polygon API key", "Your Polygon.io API key.")
