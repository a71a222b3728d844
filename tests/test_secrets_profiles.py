"""Credential profiles: listing per brokerage, completeness, resolution and the errors around them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.brokerages import registry
from bot.secrets import (
    ChainedSecretStore,
    CredentialProfiles,
    EnvSecretStore,
    InvalidProfileName,
    ProfileBrokerageMismatch,
    ProfileIncomplete,
    ProfileNotFound,
    QuantConnectCredentialsMissing,
    SecretBackendError,
    SecretRegistry,
    VaultSecretStore,
)
from tests.fakes.fake_vault import FakeVault, running_vault

IB = registry.get("InteractiveBrokersSettings")
BINANCE = registry.get("BinanceSettings")
BINANCE_USDM = registry.get("BinanceFuturesUSDMSettings")
BINANCE_US = registry.get("BinanceUSSettings")
COINBASE = registry.get("CoinbaseSettings")

ENVIRON = {
    "QCBOT_PROFILES__IB_MAIN__BROKERAGE": "InteractiveBrokersBrokerage",
    "QCBOT_PROFILES__IB_MAIN__IB_USER_NAME": "trader-joe",
    "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD": "ib-pass-9876",
    "QCBOT_PROFILES__IB_MAIN__IB_ACCOUNT": "DU1234567",
    "QCBOT_PROFILES__IB_HALF__BROKERAGE": "InteractiveBrokersBrokerage",
    "QCBOT_PROFILES__IB_HALF__IB_USER_NAME": "half-user",
    "QCBOT_PROFILES__BINANCE_TESTNET__BROKERAGE": "BinanceBrokerage",
    "QCBOT_PROFILES__BINANCE_TESTNET__BINANCE_API_KEY": "bn-key-abcdef",
    "QCBOT_PROFILES__BINANCE_TESTNET__BINANCE_API_SECRET": "bn-secret-abcdef",
    "QCBOT_PROFILES__COINBASE_MAIN__BROKERAGE": "CoinbaseBrokerage",
    "QCBOT_PROFILES__COINBASE_MAIN__COINBASE_API_KEY": "cb-key-123",
    "QCBOT_PROFILES__COINBASE_MAIN__COINBASE_API_SECRET": "cb-secret-123",
    "QCBOT_PROFILES__COINBASE_MAIN__COINBASE_API_NAME": "cb-name-123",
    "QCBOT_PROFILES__ORPHAN__IB_PASSWORD": "orphan-pass",
    "QC_USER_ID": "4242",
    "QC_API_TOKEN": "qc-token-abcdef",
}
SECRET_VALUES = [value for name, value in ENVIRON.items() if not name.endswith("BROKERAGE")]


@pytest.fixture
def profiles() -> CredentialProfiles:
    return CredentialProfiles(EnvSecretStore(environ=ENVIRON, registry=SecretRegistry()))


def _assert_no_values(text: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text


def test_lists_profile_names_per_brokerage(profiles: CredentialProfiles) -> None:
    assert profiles.list_profiles("InteractiveBrokersBrokerage") == ["ib-half", "ib-main"]
    assert profiles.list_profiles("BinanceBrokerage") == ["binance-testnet"]
    assert profiles.list_profiles("KrakenBrokerage") == []
    # The orphan has no brokerage key, so it serves no brokerage.
    assert profiles.list_profiles() == ["binance-testnet", "coinbase-main", "ib-half", "ib-main"]
    assert profiles.profiles_by_brokerage() == {
        "BinanceBrokerage": ["binance-testnet"],
        "CoinbaseBrokerage": ["coinbase-main"],
        "InteractiveBrokersBrokerage": ["ib-half", "ib-main"],
    }


def test_completeness_reports_missing_names_only(profiles: CredentialProfiles) -> None:
    assert profiles.missing_fields("ib-main", IB) == []
    missing = profiles.missing_fields("ib-half", IB)
    assert missing == ["ib-password", "ib-account"]
    _assert_no_values(repr(missing))


def test_one_binance_profile_serves_the_models_whose_fields_it_has(profiles: CredentialProfiles) -> None:
    assert profiles.missing_fields("binance-testnet", BINANCE) == []
    assert profiles.missing_fields("binance-testnet", BINANCE_USDM) == []
    assert profiles.missing_fields("binance-testnet", BINANCE_US) == [
        "binanceus-api-key",
        "binanceus-api-secret",
    ]


def test_resolve_returns_secret_strings_for_every_credential(profiles: CredentialProfiles) -> None:
    resolved = profiles.resolve("ib-main", IB)
    assert set(resolved) == {"ib-user-name", "ib-password", "ib-account"}
    assert all(isinstance(value, SecretStr) for value in resolved.values())
    assert resolved["ib-password"].get_secret_value() == "ib-pass-9876"
    _assert_no_values(repr(resolved) + str(resolved))


def test_optional_extra_credentials_pass_through_when_present(profiles: CredentialProfiles) -> None:
    resolved = profiles.resolve("coinbase-main", COINBASE)
    assert set(resolved) == {"coinbase-api-key", "coinbase-api-secret", "coinbase-api-name"}


def test_resolve_refuses_a_profile_of_another_brokerage(profiles: CredentialProfiles) -> None:
    with pytest.raises(ProfileBrokerageMismatch) as caught:
        profiles.resolve("binance-testnet", IB)
    message = str(caught.value)
    assert "binance-testnet" in message
    assert "BinanceBrokerage" in message and "InteractiveBrokersBrokerage" in message
    with pytest.raises(ProfileBrokerageMismatch):
        profiles.missing_fields("ib-main", BINANCE)


def test_resolve_refuses_an_incomplete_profile_naming_fields_not_values(profiles: CredentialProfiles) -> None:
    with pytest.raises(ProfileIncomplete) as caught:
        profiles.resolve("ib-half", IB)
    assert caught.value.missing == ["ib-password", "ib-account"]
    assert caught.value.profile == "ib-half"
    message = str(caught.value)
    assert "ib-half" in message and "ib-password" in message and "ib-account" in message
    _assert_no_values(message)


def test_unknown_profile_and_bad_names(profiles: CredentialProfiles) -> None:
    with pytest.raises(ProfileNotFound, match="'ib-nope'"):
        profiles.resolve("ib-nope", IB)
    with pytest.raises(ProfileNotFound, match="no 'brokerage' key"):
        profiles.brokerage_of("orphan")
    for bad in ("IB-Main", "ib_main", "-ib", "ib--main", "ib/main", "", "x" * 64):
        with pytest.raises(InvalidProfileName):
            profiles.missing_fields(bad, IB)


def test_quantconnect_credentials(profiles: CredentialProfiles) -> None:
    user_id, token = profiles.quantconnect_credentials()
    assert user_id == "4242"
    assert token.get_secret_value() == "qc-token-abcdef"
    empty = CredentialProfiles(EnvSecretStore(environ={"QC_USER_ID": "4242"}, registry=SecretRegistry()))
    with pytest.raises(QuantConnectCredentialsMissing) as caught:
        empty.quantconnect_credentials()
    assert caught.value.missing == ["QC_API_TOKEN"]
    assert "4242" not in str(caught.value)


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with running_vault() as server:
        server.put(
            "qc-bot/profiles/ib-vault",
            {
                "brokerage": "InteractiveBrokersBrokerage",
                "ib-user-name": "v-user",
                "ib-password": "v-pass-1234",
            },
        )
        server.add_token("t-profiles")
        yield server


def test_profiles_across_env_and_vault_resolve_per_field(vault: FakeVault) -> None:
    env = EnvSecretStore(
        environ={"QCBOT_PROFILES__IB_VAULT__IB_ACCOUNT": "DU7654321"}, registry=SecretRegistry()
    )
    store = ChainedSecretStore(
        [env, VaultSecretStore(vault.url, token="t-profiles", registry=SecretRegistry())]
    )
    profiles = CredentialProfiles(store)
    assert profiles.list_profiles("InteractiveBrokersBrokerage") == ["ib-vault"]
    resolved = profiles.resolve("ib-vault", IB)
    assert {k: v.get_secret_value() for k, v in resolved.items()} == {
        "ib-user-name": "v-user",
        "ib-password": "v-pass-1234",
        "ib-account": "DU7654321",
    }


def test_vault_denial_during_resolve_is_an_error_and_nothing_is_returned(vault: FakeVault) -> None:
    profiles = CredentialProfiles(VaultSecretStore(vault.url, token="t-profiles", registry=SecretRegistry()))
    assert profiles.brokerage_of("ib-vault") == "InteractiveBrokersBrokerage"
    vault.revoke("t-profiles")
    with pytest.raises(SecretBackendError, match="permission denied"):
        profiles.resolve("ib-vault", IB)
