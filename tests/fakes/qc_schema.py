"""live/create body validation against QuantConnect's OpenAPI file plus the seed-only brokerage models.

`validate_live_create(body)` returns plain error strings, each naming the JSON path of the field concerned
(`brokerage.ib-weekly-restart-utc-time: required`); an empty list means the body is valid. The brokerage and
each data provider are dispatched on `id` (and `binance-exchange-name`) to exactly one schema so errors
are specific. `validate_against(schema_name, instance)` checks any component schema (or a seed-only
model: ZerodhaSettings, SamcoSettings, TDAmeritradeSettings).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.paths import DATA_DIR

SPEC_URI = "urn:quantconnect:platform-2.0.0"
_SCHEMAS_POINTER = "#/components/schemas/"

# Brokerage id -> component schema of the OpenAPI file.
BROKERAGE_SCHEMAS: dict[str, str] = {
    "QuantConnectBrokerage": "QuantConnectBrokerageSettings",
    "InteractiveBrokersBrokerage": "InteractiveBrokersBrokerageSettings",
    "TradierBrokerage": "TradierBrokerageSettings",
    "BitfinexBrokerage": "BitfinexSettings",
    "CoinbaseBrokerage": "CoinbaseBrokerageSettings",
    "TradingTechnologiesBrokerage": "TradingTechnologiesBrokerageSettings",
    "KrakenBrokerage": "KrakenSettings",
    "BybitBrokerage": "BybitBrokerageSettings",
    "OandaBrokerage": "OandaSettings",
    "WolverineBrokerage": "WolverineSettings",
    "CharlesSchwabBrokerage": "CharlesSchwabSettings",
    "RBIBrokerage": "RBIBrokerageSettings",
    "TerminalLinkBrokerage": "TerminalLinkSettings",
    "TradeStationBrokerage": "TradeStationSettings",
    "TastytradeBrokerage": "TastytradeSettings",
    "AlpacaBrokerage": "AlpacaBrokerageSettings",
}
# The four Binance models share one id and differ by exchange name.
BINANCE_BROKERAGE_SCHEMAS: dict[str, str] = {
    "Binance": "BinanceBrokerageSettings",
    "BinanceUS": "BinanceUSBrokerageSettings",
    "Binance-USDM-Futures": "BinanceUSDMFuturesBrokerageSettings",
    "Binance-COIN-Futures": "BinanceCOINFuturesBrokerageSettings",
}
# Data provider id -> component schema.
PROVIDER_SCHEMAS: dict[str, str] = {
    "QuantConnectBrokerage": "QuantConnectDataProviderSettings",
    "InteractiveBrokersBrokerage": "InteractiveBrokersDataProviderSettings",
    "TradierBrokerage": "TradierDataProviderSettings",
    "BitfinexBrokerage": "BitfinexSettings",
    "CoinbaseBrokerage": "CoinbaseDataProviderSettings",
    "KrakenBrokerage": "KrakenSettings",
    "Polygon": "PolygonDataProviderSettings",
    "BybitBrokerage": "BybitDataProviderSettings",
    "OandaBrokerage": "OandaSettings",
    "CharlesSchwabBrokerage": "CharlesSchwabSettings",
    "TradeStationBrokerage": "TradeStationSettings",
    "TastytradeBrokerage": "TastytradeSettings",
    "AlpacaBrokerage": "AlpacaDataProviderSettings",
}
BINANCE_PROVIDER_SCHEMAS: dict[str, str] = {
    "Binance": "BinanceDataProviderSettings",
    "BinanceUS": "BinanceUSDataProviderSettings",
    "Binance-USDM-Futures": "BinanceUSDMFuturesDataProviderSettings",
    "Binance-COIN-Futures": "BinanceCOINFuturesDataProviderSettings",
}
# The older seed page's brokerage ids, validated against BaseLiveAlgorithmSettings.
LEGACY_BROKERAGE_IDS = frozenset({"Interactive", "FXCM", "Oanda", "Tradier", "PaperTrading"})


def _seed_model(brokerage_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema transcribed from the seed page: every listed field required."""
    return {
        "type": "object",
        "required": ["id", *properties],
        "properties": {"id": {"type": "string", "const": brokerage_id}, **properties},
    }


_PRODUCT_TYPES = {"type": "string", "enum": ["mis", "cnc", "nrml"]}
_SEGMENTS = {"type": "string", "enum": ["equity", "commodity"]}
# Models the seed page lists but the OpenAPI file has dropped; schema name -> (brokerage id, schema).
SEED_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "ZerodhaSettings": (
        "ZerodhaBrokerage",
        _seed_model(
            "ZerodhaBrokerage",
            {
                "zerodha-api-key": {"type": "string"},
                "zerodha-access-token": {"type": "string"},
                "zerodha-product-type": _PRODUCT_TYPES,
                "zerodha-trading-segment": _SEGMENTS,
                "zerodha-history-subscription": {"type": "boolean"},
            },
        ),
    ),
    "SamcoSettings": (
        "SamcoBrokerage",
        _seed_model(
            "SamcoBrokerage",
            {
                "samco-client-id": {"type": "string"},
                "samco-client-password": {"type": "string"},
                "samco-year-of-birth": {"type": "integer"},
                "samco-product-type": _PRODUCT_TYPES,
                "samco-trading-segment": _SEGMENTS,
            },
        ),
    ),
    "TDAmeritradeSettings": (
        "TDAmeritradeBrokerage",
        _seed_model(
            "TDAmeritradeBrokerage",
            {
                "tdameritrade-api-key": {"type": "string"},
                "tdameritrade-access-token": {"type": "string"},
                "tdameritrade-account-number": {"type": "string"},
            },
        ),
    ),
}
_SEED_BY_ID: dict[str, dict[str, Any]] = {
    brokerage_id: schema for brokerage_id, schema in SEED_SCHEMAS.values()
}

# Keys QuantConnect's CLI sends at the top level that the OpenAPI file leaves out.
_CLI_EXTRAS: dict[str, Any] = {
    "automaticRedeploy": {"type": "boolean"},
    "notification": {"type": "object"},
    "parameters": {"type": "object"},
}


def _patch_defect(node: Any) -> None:
    """Point the file's one dangling `#/components/schemas/Request` reference at PatchFileRequest."""
    if isinstance(node, dict):
        if node.get("$ref") == _SCHEMAS_POINTER + "Request":
            node["$ref"] = _SCHEMAS_POINTER + "PatchFileRequest"
        for value in node.values():
            _patch_defect(value)
    elif isinstance(node, list):
        for value in node:
            _patch_defect(value)


@functools.cache
def spec() -> dict[str, Any]:
    """The OpenAPI document, loaded once, with its known defect patched."""
    path = DATA_DIR / "quantconnect" / "QuantConnect-Platform-2.0.0.yaml"
    # The C loader parses the 7,000-line file several times faster than the pure-Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    _patch_defect(document)
    return document


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    if schema_name in SEED_SCHEMAS:
        return Draft202012Validator(SEED_SCHEMAS[schema_name][1])
    if schema_name not in spec()["components"]["schemas"]:
        raise KeyError(f"{schema_name} is neither a component schema of the OpenAPI file nor a seed model")
    return Draft202012Validator({"$ref": SPEC_URI + _SCHEMAS_POINTER + schema_name}, registry=_registry())


@functools.cache
def _top_level_validator() -> Draft202012Validator:
    """CreateLiveAlgorithmRequest with brokerage and dataProviders left to the dispatching checks."""
    schema = copy.deepcopy(spec()["components"]["schemas"]["CreateLiveAlgorithmRequest"])
    schema["properties"]["brokerage"] = {"type": "object"}
    schema["properties"]["dataProviders"] = {"type": "object"}
    schema["properties"].update(_CLI_EXTRAS)
    return Draft202012Validator(schema, registry=_registry())


def _path_text(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


def _describe(error: ValidationError, prefix: Sequence[Any]) -> list[str]:
    """Plain messages for one jsonschema error; never repeats the submitted value (it may be a secret)."""
    path = [*prefix, *error.absolute_path]
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [
            f"{_path_text([*path, name])}: required" for name in error.validator_value if name not in instance
        ]
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [f"{_path_text(path)}: must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)]
    if error.validator == "enum":
        return [f"{_path_text(path)}: must be one of " + ", ".join(str(v) for v in error.validator_value)]
    if error.validator == "const":
        return [f"{_path_text(path)}: must be {error.validator_value}"]
    if error.validator == "minItems":
        return [f"{_path_text(path)}: must not be empty"]
    return [f"{_path_text(path)}: not valid ({error.validator})"]


def _errors(validator: Draft202012Validator, instance: Any, prefix: Sequence[Any]) -> list[str]:
    messages: list[str] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        messages.extend(_describe(error, prefix))
    return messages


def _dedupe(messages: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def validate_against(schema_name: str, instance: Any) -> list[str]:
    """Errors of `instance` against one component schema (or seed-only model), each naming its field."""
    return _dedupe(_errors(_validator(schema_name), instance, []))


def _settings_errors(
    settings: dict[str, Any],
    prefix: list[Any],
    table: dict[str, str],
    binance_table: dict[str, str],
    *,
    brokerage: bool,
) -> list[str]:
    """Dispatch one brokerage / data provider object on its id (and exchange name) to one schema."""
    where = _path_text(prefix)
    settings_id = settings.get("id")
    if settings_id is None:
        return [f"{where}.id: required"]
    if not isinstance(settings_id, str):
        return [f"{where}.id: must be a string"]
    if settings_id == "BinanceBrokerage":
        exchange = settings.get("binance-exchange-name")
        if exchange is None:
            return [f"{where}.binance-exchange-name: required"]
        if exchange not in binance_table:
            return [f"{where}.binance-exchange-name: must be one of " + ", ".join(binance_table)]
        return _errors(_validator(binance_table[exchange]), settings, prefix)
    if settings_id in table:
        messages = _errors(_validator(table[settings_id]), settings, prefix)
        # The file requires the key; QuantConnect also refuses an empty list for Trading Technologies.
        if brokerage and settings_id == "TradingTechnologiesBrokerage" and settings.get("cash") == []:
            messages.append(f"{where}.cash: must not be empty")
        return messages
    if brokerage and settings_id in _SEED_BY_ID:
        return _errors(Draft202012Validator(_SEED_BY_ID[settings_id]), settings, prefix)
    if brokerage and settings_id in LEGACY_BROKERAGE_IDS:
        return _errors(_validator("BaseLiveAlgorithmSettings"), settings, prefix)
    known = sorted({*table, "BinanceBrokerage", *(_SEED_BY_ID if brokerage else ())})
    kind = "brokerage" if brokerage else "data provider"
    return [f"{where}.id: unknown {kind} '{settings_id}'; expected one of " + ", ".join(known)]


def validate_live_create(body: Any) -> list[str]:
    """Every problem of a live/create body, each naming its JSON path; empty when the body is valid."""
    if not isinstance(body, dict):
        return ["(body): must be an object"]
    messages = _errors(_top_level_validator(), body, [])
    brokerage = body.get("brokerage")
    if isinstance(brokerage, dict):
        messages += _settings_errors(
            brokerage, ["brokerage"], BROKERAGE_SCHEMAS, BINANCE_BROKERAGE_SCHEMAS, brokerage=True
        )
    providers = body.get("dataProviders")
    if isinstance(providers, dict):
        for key, entry in providers.items():
            prefix = ["dataProviders", key]
            if not isinstance(entry, dict):
                messages.append(f"{_path_text(prefix)}: must be an object")
                continue
            messages += _settings_errors(
                entry, prefix, PROVIDER_SCHEMAS, BINANCE_PROVIDER_SCHEMAS, brokerage=False
            )
    return _dedupe(messages)
