"""Every settings model of the registry: fields match the seed and OpenAPI file, paper detection, validation
messages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr

from bot.brokerages import FieldErrors, FieldKind, all_models, get
from bot.brokerages.base import MAX_DISPLAY_NAME, BrokerageSettings
from bot.brokerages.crypto import BYBIT_LIVE_API, BYBIT_TESTNET_API
from bot.brokerages.validation import clean_value
from tests.fakes import qc_schema
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.paths import DATA_DIR

SEED_ONLY = {"ZerodhaSettings", "SamcoSettings", "TDAmeritradeSettings"}
NOT_FIELDS = {"id", "holdings", "cash", "description"}


def _seed_fields() -> dict[str, set[str]]:
    """Field names per model, read from the seed page's tables."""
    text = (DATA_DIR / "quantconnect" / "seeds" / "live-create-current.txt").read_text(encoding="utf-8")
    models: dict[str, set[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        header = re.match(r"^(\w+) Model", line)
        if header:
            current = header.group(1) if header.group(1).endswith("Settings") else None
            if current:
                models[current] = set()
            continue
        row = re.match(r"^([a-z][\w-]*) \| ", line)
        if current and row and row.group(1) not in NOT_FIELDS:
            models[current].add(row.group(1))
    return models


def _openapi_properties(schema_name: str) -> set[str]:
    schema = qc_schema.spec()["components"]["schemas"][schema_name]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            names |= _openapi_properties(part["$ref"].rsplit("/", 1)[1])
        names |= set(part.get("properties", {}))
    return names


def _openapi_schema_name(model: type[BrokerageSettings]) -> str | None:
    if model.exchange_name:
        return qc_schema.BINANCE_BROKERAGE_SCHEMAS[model.exchange_name]
    return qc_schema.BROKERAGE_SCHEMAS.get(model.brokerage_id)


MODELS = all_models()


def test_models_have_unique_keys_and_readable_names() -> None:
    assert len({model.key for model in MODELS}) == len(MODELS)
    for model in MODELS:
        assert 0 < len(model.display_name) <= MAX_DISPLAY_NAME
        assert model.brokerage_id.endswith("Brokerage")


def test_seed_fields_are_modelled_exactly() -> None:
    seed = _seed_fields()
    assert set(seed) == {model.key for model in MODELS}
    for model in MODELS:
        ours = {info.name for info in model.fields() if not info.extra}
        assert ours == seed[model.key], model.key


@pytest.mark.parametrize("model", [m for m in MODELS if m.key not in SEED_ONLY], ids=lambda m: m.key)
def test_extra_fields_come_from_the_openapi_file(model: type[BrokerageSettings]) -> None:
    schema_name = _openapi_schema_name(model)
    assert schema_name is not None
    properties = _openapi_properties(schema_name)
    for info in model.fields():
        if info.extra:
            assert info.name in properties, (model.key, info.name)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_field_metadata_is_consistent(model: type[BrokerageSettings]) -> None:
    names = [info.name for info in model.fields()]
    assert len(names) == len(set(names))
    for info in model.fields():
        assert info.label and info.help
        if info.kind is FieldKind.CREDENTIAL:
            assert not info.fixed and info.default is None and not info.choices
        if info.fixed:
            assert info.default is not None and info not in model.setting_fields()
        if info.default is not None and not info.fixed:
            assert clean_value(info, info.default) == info.default
    fields_by_attribute = dict(zip(model.model_fields.values(), model.fields(), strict=True))
    for model_field, info in fields_by_attribute.items():
        assert model_field.alias == info.name
        if info.is_credential:
            assert SecretStr in getattr(model_field.annotation, "__args__", (model_field.annotation,))


def test_binance_models_carry_their_exchange_name_as_a_fixed_field() -> None:
    binance = [model for model in MODELS if model.brokerage_id == "BinanceBrokerage"]
    assert len(binance) == 4
    for model in binance:
        info = model.field("binance-exchange-name")
        assert info.fixed and info.default == model.exchange_name
    assert all(model.exchange_name is None for model in MODELS if model not in binance)


def test_binance_spot_testnet_defaults_to_live_and_is_always_sent() -> None:
    model = get("BinanceSettings")
    info = model.field("binance-use-testnet")
    assert info.extra and info.required and info.default == "live"
    assert model.validate_settings({}) == {"binance-use-testnet": "live"}


@pytest.mark.parametrize(
    ("key", "settings", "paper"),
    [
        ("QuantConnectSettings", {}, True),
        ("InteractiveBrokersSettings", {"ib-trading-mode": "paper"}, True),
        ("InteractiveBrokersSettings", {"ib-trading-mode": "live"}, False),
        ("TradierSettings", {"tradier-environment": "paper"}, True),
        ("TradierSettings", {"tradier-environment": "live"}, False),
        ("BybitSettings", {"bybit-use-testnet": "paper"}, True),
        ("BybitSettings", {"bybit-use-testnet": "live"}, False),
        ("OandaSettings", {"oanda-environment": "Practice"}, True),
        ("OandaSettings", {"oanda-environment": "Trade"}, False),
        ("TradingTechnologiesSettings", {"tt-rest-environment": "uat"}, True),
        ("TradingTechnologiesSettings", {"tt-rest-environment": "live"}, False),
        ("TerminalLinkSettings", {"terminal-link-environment": "Beta"}, True),
        ("TerminalLinkSettings", {"terminal-link-environment": "Production"}, False),
        ("TerminalLinkSettings", {}, False),
        ("BinanceSettings", {"binance-use-testnet": "paper"}, True),
        ("BinanceSettings", {}, False),
        ("BinanceFuturesUSDMSettings", {}, False),
        ("KrakenSettings", {"kraken-verification-tier": "Pro"}, False),
        ("ZerodhaSettings", {}, False),
        ("BaseLiveAlgorithmSettings", {"id": "PaperTrading", "environment": "live"}, True),
        ("BaseLiveAlgorithmSettings", {"id": "Interactive", "environment": "paper"}, True),
        ("BaseLiveAlgorithmSettings", {"id": "Oanda", "environment": "live"}, False),
    ],
)
def test_is_paper_is_decided_from_settings_alone(key: str, settings: dict[str, Any], paper: bool) -> None:
    assert get(key).is_paper(settings) is paper


def test_is_paper_matches_form_values_case_insensitively() -> None:
    assert get("OandaSettings").is_paper({"oanda-environment": "practice"})
    assert get("InteractiveBrokersSettings").is_paper({"ib-trading-mode": " PAPER "})


@pytest.mark.parametrize("key", list(EXAMPLE_PROFILES), ids=str)
def test_example_profile_is_valid(key: str) -> None:
    settings, credentials = EXAMPLE_PROFILES[key]
    model = get(key)
    built = model.create(settings, credentials)
    assert built.settings_values().keys() >= model.validate_settings(settings).keys()


def test_ib_weekly_restart_defaults_to_2100_and_rejects_a_bad_time() -> None:
    ib = get("InteractiveBrokersSettings")
    assert ib.validate_settings({"ib-trading-mode": "live"})["ib-weekly-restart-utc-time"] == "21:00:00"
    assert (
        ib.validate_settings({"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "7:05:00"})[
            "ib-weekly-restart-utc-time"
        ]
        == "07:05:00"
    )
    for bad in ("25:00:00", "21:00", "9pm", "21:60:00"):
        with pytest.raises(FieldErrors) as caught:
            ib.validate_settings({"ib-trading-mode": "live", "ib-weekly-restart-utc-time": bad})
        assert caught.value.errors == {
            "ib-weekly-restart-utc-time": "Weekly restart time must look like 21:00:00 (hh:mm:ss)."
        }


def test_a_bad_enum_names_the_field_and_lists_the_choices() -> None:
    with pytest.raises(FieldErrors) as caught:
        get("TradierSettings").validate_settings({"tradier-environment": "sandbox"})
    assert caught.value.errors == {"tradier-environment": "Environment must be one of: live, paper."}
    assert str(caught.value) == "Environment must be one of: live, paper."


def test_enum_values_are_matched_case_insensitively_and_normalised() -> None:
    cleaned = get("OandaSettings").validate_settings({"oanda-environment": "practice"})
    assert cleaned == {"oanda-environment": "Practice"}


def test_a_missing_required_setting_without_default_is_reported_by_label() -> None:
    with pytest.raises(FieldErrors) as caught:
        get("InteractiveBrokersSettings").validate_settings({"ib-weekly-restart-utc-time": ""})
    assert caught.value.errors == {"ib-trading-mode": "Trading mode is required."}


def test_form_strings_become_bools_and_ints() -> None:
    zerodha = get("ZerodhaSettings").validate_settings(
        {
            "zerodha-product-type": "MIS",
            "zerodha-trading-segment": "equity",
            "zerodha-history-subscription": "true",
        }
    )
    assert zerodha == {
        "zerodha-product-type": "mis",
        "zerodha-trading-segment": "equity",
        "zerodha-history-subscription": True,
    }
    assert (
        get("ZerodhaSettings").validate_settings(
            {"zerodha-product-type": "cnc", "zerodha-trading-segment": "commodity"}
        )["zerodha-history-subscription"]
        is False
    )
    link = get("TerminalLinkSettings").validate_settings({"terminal-link-server-port": "8194"})
    assert link == {"terminal-link-connection-type": "SAPI", "terminal-link-server-port": 8194}


def test_bad_bool_and_int_name_the_field() -> None:
    with pytest.raises(FieldErrors) as caught:
        get("ZerodhaSettings").validate_settings(
            {
                "zerodha-product-type": "mis",
                "zerodha-trading-segment": "equity",
                "zerodha-history-subscription": "maybe",
            }
        )
    assert caught.value.errors == {
        "zerodha-history-subscription": "History API subscription must be true or false."
    }
    with pytest.raises(FieldErrors) as caught:
        get("TerminalLinkSettings").validate_settings({"terminal-link-server-port": "eighty"})
    assert caught.value.errors == {"terminal-link-server-port": "SAPI server port must be a whole number."}


def test_unknown_and_fixed_keys_are_ignored_by_validate_settings() -> None:
    cleaned = get("BinanceFuturesUSDMSettings").validate_settings(
        {"binance-fapi-url": "https://evil.example", "profile": "desk-a"}
    )
    assert cleaned == {}
    built = get("BinanceFuturesUSDMSettings").create(
        {"binance-fapi-url": "https://evil.example"}, {"binance-api-key": "k", "binance-api-secret": "s"}
    )
    assert built.settings_values()["binance-fapi-url"] == "https://fapi.binance.com"


def test_validate_settings_never_asks_for_credentials() -> None:
    for model in MODELS:
        assert all(info.kind is FieldKind.SETTING and not info.fixed for info in model.setting_fields())
        assert all(info.kind is FieldKind.CREDENTIAL for info in model.credential_fields())


def test_missing_credential_names_the_profile_field() -> None:
    with pytest.raises(FieldErrors) as caught:
        get("InteractiveBrokersSettings").validate_credentials({"ib-user-name": "u", "ib-account": "DU1"})
    assert caught.value.errors == {"ib-password": "Credential profile is missing IB password (ib-password)."}


def test_a_bad_oanda_account_id_is_refused_without_echoing_it() -> None:
    secret = "12345-SECRET"
    with pytest.raises(FieldErrors) as caught:
        get("OandaSettings").validate_credentials(
            {"oanda-account-id": SecretStr(secret), "oanda-access-token": SecretStr("token")}
        )
    assert caught.value.errors == {
        "oanda-account-id": "OANDA account id in the credential profile must look like 001-001-123456-001 "
        "(###-###-######-###)."
    }
    assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_a_real_seven_digit_oanda_account_id_is_accepted() -> None:
    cleaned = get("OandaSettings").validate_credentials(
        {"oanda-account-id": "101-004-1234567-001", "oanda-access-token": "t"}
    )
    assert cleaned["oanda-account-id"].get_secret_value() == "101-004-1234567-001"


@pytest.mark.parametrize("year", ["85", "19850", "198a", "1850", "3000"])
def test_samco_year_of_birth_must_be_a_four_digit_year(year: str) -> None:
    credentials = {"samco-client-id": "c", "samco-client-password": "p", "samco-year-of-birth": year}
    with pytest.raises(FieldErrors) as caught:
        get("SamcoSettings").validate_credentials(credentials)
    assert caught.value.errors == {
        "samco-year-of-birth": "Year of birth in the credential profile must look like 1985 (YYYY)."
    }


def test_samco_year_of_birth_is_sent_as_an_int() -> None:
    settings, credentials = EXAMPLE_PROFILES["SamcoSettings"]
    body = get("SamcoSettings").create(settings, credentials).brokerage_body(reveal=True)
    assert body["samco-year-of-birth"] == 1985


def test_bybit_api_url_follows_the_testnet_choice() -> None:
    bybit = get("BybitSettings")
    credentials = {"bybit-api-key": "k", "bybit-api-secret": "s"}
    paper = bybit.create({"bybit-use-testnet": "paper"}, credentials).settings_values()
    live = bybit.create({"bybit-use-testnet": "live"}, credentials).settings_values()
    assert paper["bybit-api-url"] == BYBIT_TESTNET_API
    assert live["bybit-api-url"] == BYBIT_LIVE_API
    assert live["bybit-vip-level"] == "VIP0"


def test_terminal_link_offers_dapi_and_sapi_and_defaults_to_sapi() -> None:
    info = get("TerminalLinkSettings").field("terminal-link-connection-type")
    assert info.choice_values() == ("SAPI", "DAPI")
    assert info.default == "SAPI"


def test_direct_model_validate_gets_the_same_checks() -> None:
    with pytest.raises(FieldErrors) as caught:
        get("TradierSettings").model_validate({"tradier-environment": "paper", "tradier-account-id": "a"})
    assert caught.value.errors == {
        "tradier-access-token": "Credential profile is missing Tradier access token (tradier-access-token)."
    }


def test_repr_and_dump_of_a_model_never_show_a_secret() -> None:
    settings, credentials = EXAMPLE_PROFILES["TradingTechnologiesSettings"]
    built = get("TradingTechnologiesSettings").create(settings, credentials)
    shown = repr(built) + str(built) + repr(built.brokerage_body(reveal=False)) + built.model_dump_json()
    for secret in credentials.values():
        assert secret not in shown


def test_legacy_shape_needs_credentials_unless_paper_trading() -> None:
    legacy = get("BaseLiveAlgorithmSettings")
    body = legacy.create({"id": "PaperTrading", "environment": "paper"}, {}).brokerage_body(reveal=True)
    assert body == {"id": "PaperTrading", "environment": "paper"}
    with pytest.raises(FieldErrors) as caught:
        legacy.create({"id": "Interactive", "environment": "live"}, {"user": "u"})
    assert set(caught.value.errors) == {"password", "account"}


def test_credentials_are_kept_exactly_and_only_empty_is_missing() -> None:
    credentials = {"ib-user-name": " joé\t", "ib-password": " ", "ib-account": "\tDU1 "}
    cleaned = get("InteractiveBrokersSettings").validate_credentials(credentials)
    assert {name: value.get_secret_value() for name, value in cleaned.items()} == credentials
    with pytest.raises(FieldErrors) as caught:
        get("InteractiveBrokersSettings").validate_credentials({**credentials, "ib-password": ""})
    assert list(caught.value.errors) == ["ib-password"]
    # Settings typed in Slack are still trimmed.
    assert get("InteractiveBrokersSettings").validate_settings({"ib-trading-mode": " paper "}) == {
        "ib-trading-mode": "paper",
        "ib-weekly-restart-utc-time": "21:00:00",
    }


@pytest.mark.parametrize("account", [" 001-001-123456-001", "001-001-123456-001\n", "001-001-123456-001\t"])
def test_a_credential_that_fits_only_once_trimmed_is_refused_naming_the_field(account: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        get("OandaSettings").validate_credentials({"oanda-account-id": account, "oanda-access-token": "t"})
    message = caught.value.errors["oanda-account-id"]
    assert message.startswith("OANDA account id in the credential profile must look like")
    assert "begins or ends with a space, tab or line break" in message
    assert "123456" not in message.replace("001-001-123456-001 (", "")


@pytest.mark.parametrize("year", [" 1985", "1985 ", "\uff11\uff19\uff18\uff15", "\u0661\u0669\u0668\u0665"])
def test_samco_year_of_birth_is_judged_exactly_in_ascii_digits(year: str) -> None:
    credentials = {"samco-client-id": "c", "samco-client-password": "p", "samco-year-of-birth": year}
    with pytest.raises(FieldErrors) as caught:
        get("SamcoSettings").validate_credentials(credentials)
    assert list(caught.value.errors) == ["samco-year-of-birth"]
