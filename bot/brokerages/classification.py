"""Paper or real money, decided from the `live/create` body that will be sent. When unsure, real money.

A body is paper only when its brokerage is one the bot knows, that brokerage's own paper marker says paper
(exactly as sent: `ib-trading-mode: paper`, `binance-use-testnet: paper`, QuantConnect paper trading, ...),
and every endpoint in the body, in the brokerage block and in every data provider, is a paper/testnet host of
that block's venue. A setting that says "paper" next to a live URL is real money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.brokerages.legacy import LegacyLiveAlgorithmSettings

_LEGACY_IDS = frozenset(LegacyLiveAlgorithmSettings.field("id").choice_values())
# Keys naming an endpoint (binance-api-url, bybit-websocket-url, coinbase-rest-api, ...); any value with a
# scheme counts as one too, whatever its key.
_ENDPOINT_SUFFIXES = ("-url", "-api")


@dataclass(frozen=True)
class Classification:
    """Whether a body trades paper money, and why, in words that never contain a field's value."""

    is_paper: bool
    reason: str


def is_paper_body(body: Mapping[str, Any]) -> bool:
    """True only when the body certainly trades paper money (see classify_body)."""
    return classify_body(body).is_paper


def classify_body(body: Mapping[str, Any]) -> Classification:
    """Paper or real money for a `live/create` body, with the reason; anything unexpected is real money."""
    brokerage = body.get("brokerage")
    if not isinstance(brokerage, Mapping):
        return _real("the body has no brokerage object")
    model = _model_of(brokerage)
    if model is None:
        return _real(f"brokerage {_id_text(brokerage)} is not one the bot knows")
    if not model.marks_paper(brokerage):
        return _real(f"{model.display_name} is not set to its paper environment")
    problems = _endpoint_problems("brokerage", model, brokerage)
    providers = body.get("dataProviders", {})
    if not isinstance(providers, Mapping):
        return _real("dataProviders is not an object")
    for key, entry in providers.items():
        where = f"dataProviders.{key}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} is not an object")
            continue
        provider_model = _model_of(entry) or registry.provider_only_by_id(str(entry.get("id")))
        if provider_model is None:
            problems.append(f"{where} is data provider {_id_text(entry)}, which the bot does not know")
            continue
        problems += _endpoint_problems(where, provider_model, entry)
    if problems:
        return _real("; ".join(problems))
    return Classification(True, f"{model.display_name} is set to paper and every endpoint is a paper host")


def _real(reason: str) -> Classification:
    return Classification(False, reason)


def _id_text(block: Mapping[str, Any]) -> str:
    value = block.get("id")
    # Ids are QuantConnect module names, never secrets; a non-text id is only described.
    return f"'{value[:60]}'" if isinstance(value, str) else "(no id)"


def _model_of(block: Mapping[str, Any]) -> type[BrokerageSettings] | None:
    """The settings model that sends this block (Binance ones told apart by exchange), or None."""
    brokerage_id = block.get("id")
    if not isinstance(brokerage_id, str):
        return None
    if brokerage_id in _LEGACY_IDS:
        return LegacyLiveAlgorithmSettings
    exchange = block.get("binance-exchange-name")
    try:
        return registry.by_id(brokerage_id, exchange if isinstance(exchange, str) else None)
    except UnknownBrokerage:
        return None


def _endpoint_problems(where: str, model: type[BrokerageSettings], block: Mapping[str, Any]) -> list[str]:
    """Every endpoint of the block that is not one of the venue's paper hosts, named by its key."""
    problems: list[str] = []
    for key, value in block.items():
        named_endpoint = str(key).endswith(_ENDPOINT_SUFFIXES)
        if not named_endpoint and not (isinstance(value, str) and "://" in value):
            continue
        host = _host(value)
        if host is None or host not in model.paper_hosts:
            problems.append(f"{where}.{key} is not a {model.display_name} paper/testnet endpoint")
    return problems


def _host(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        return parts.hostname if parts.scheme and parts.hostname else None
    except ValueError:
        return None
