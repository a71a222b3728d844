"""Vault KV v2 backend against the loopback fake Vault over HTTP: token, AppRole, list, denial, outages."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import httpx
import pytest

from bot.secrets import SecretBackendError, SecretRegistry, VaultSecretStore
from tests.fakes.fake_vault import FakeVault, running_vault

IB_MAIN = {
    "brokerage": "InteractiveBrokersBrokerage",
    "ib-user-name": "trader-joe",
    "ib-password": "vault-pass-123",
    "ib-account": "DU1234567",
}


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with running_vault() as server:
        server.put("qc-bot/profiles/ib-main", IB_MAIN)
        server.put(
            "qc-bot/profiles/binance-testnet", {"brokerage": "BinanceBrokerage", "binance-api-key": "k-1234"}
        )
        server.put("qc-bot/quantconnect", {"user-id": "4242", "api-token": "qc-token-xyz"})
        server.put("other-app/db", {"password": "not-ours"})
        server.add_token("root-token")
        server.add_token("qc-bot-token", paths=("qc-bot/", "qc-bot"))
        server.add_approle("role-1", "secret-1", paths=("qc-bot/", "qc-bot"))
        yield server


def _store(vault: FakeVault, **kwargs: object) -> VaultSecretStore:
    options: dict[str, object] = {"token": "qc-bot-token", "timeout": 2.0, "registry": SecretRegistry()}
    options.update(kwargs)
    return VaultSecretStore(vault.url, **options)  # type: ignore[arg-type]


def test_fake_answers_like_vault_for_missing_paths_and_get_list(vault: FakeVault) -> None:
    headers = {"X-Vault-Token": "root-token"}
    missing = httpx.get(f"{vault.url}/v1/secret/data/qc-bot/nope", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"errors": []}
    listed = httpx.get(f"{vault.url}/v1/secret/metadata/qc-bot?list=true", headers=headers)
    assert listed.json()["data"]["keys"] == ["profiles/", "quantconnect"]
    denied = httpx.get(f"{vault.url}/v1/secret/data/qc-bot/quantconnect", headers={"X-Vault-Token": "bad"})
    assert (denied.status_code, denied.json()) == (403, {"errors": ["permission denied"]})


def test_token_auth_reads_fields_and_missing_is_none(vault: FakeVault) -> None:
    store = _store(vault)
    assert store.get("profiles/ib-main/ib-password") == "vault-pass-123"
    assert store.get("quantconnect/api-token") == "qc-token-xyz"
    assert store.get("profiles/ib-main/ib-weird") is None
    assert store.get("profiles/no-such-profile/ib-password") is None
    reads = [r for r in vault.requests if r.method == "GET"]
    assert reads[0].path == "/v1/secret/data/qc-bot/profiles/ib-main"
    assert all(r.had_token for r in reads)


def test_list_keys_walks_profiles_and_their_fields(vault: FakeVault) -> None:
    store = _store(vault)
    assert store.list_keys("profiles/") == [
        "profiles/binance-testnet/binance-api-key",
        "profiles/binance-testnet/brokerage",
        "profiles/ib-main/brokerage",
        "profiles/ib-main/ib-account",
        "profiles/ib-main/ib-password",
        "profiles/ib-main/ib-user-name",
    ]
    assert store.list_keys("profiles/ib-main/") == [
        "profiles/ib-main/brokerage",
        "profiles/ib-main/ib-account",
        "profiles/ib-main/ib-password",
        "profiles/ib-main/ib-user-name",
    ]
    assert store.list_keys("profiles/nobody/") == []
    assert any(r.method == "LIST" and r.path == "/v1/secret/metadata/qc-bot/profiles" for r in vault.requests)


def test_custom_mount_prefix_and_namespace() -> None:
    with running_vault(mount="kv") as server:
        server.put("teams/trading/quantconnect", {"api-token": "ns-token-1"})
        server.add_token("t-1")
        store = VaultSecretStore(
            server.url,
            token="t-1",
            mount="kv",
            path_prefix="teams/trading",
            namespace="ops",
            registry=SecretRegistry(),
        )
        assert store.get("quantconnect/api-token") == "ns-token-1"
        assert server.requests[-1].path == "/v1/kv/data/teams/trading/quantconnect"
        assert server.requests[-1].namespace == "ops"


def test_approle_login_then_read(vault: FakeVault) -> None:
    store = _store(vault, token=None, role_id="role-1", secret_id="secret-1")
    assert store.get("profiles/ib-main/ib-user-name") == "trader-joe"
    assert vault.requests[0].method == "POST"
    assert vault.requests[0].path == "/v1/auth/approle/login"
    assert vault.state.logins == 1


def test_approle_logs_in_again_once_when_its_token_expires(vault: FakeVault) -> None:
    store = _store(vault, token=None, role_id="role-1", secret_id="secret-1")
    store.get("profiles/ib-main/ib-user-name")
    for token in vault.issued_tokens():
        if token.startswith("hvs."):
            vault.revoke(token)
    assert store.get("profiles/ib-main/ib-account") == "DU1234567"
    assert vault.state.logins == 2


def test_bad_approle_credentials_are_an_error_naming_the_settings(vault: FakeVault) -> None:
    store = _store(vault, token=None, role_id="role-1", secret_id="wrong-secret-id")
    with pytest.raises(SecretBackendError) as caught:
        store.get("quantconnect/api-token")
    message = str(caught.value)
    assert "VAULT_ROLE_ID" in message and "VAULT_SECRET_ID" in message
    assert "wrong-secret-id" not in message


def test_permission_denied_is_an_error_not_missing(vault: FakeVault) -> None:
    vault.add_token("narrow-token", paths=("other-app/",))
    store = _store(vault, token="narrow-token")
    with pytest.raises(SecretBackendError) as caught:
        store.get("profiles/ib-main/ib-password")
    message = str(caught.value)
    assert "permission denied" in message
    assert "secret/qc-bot/profiles/ib-main" in message
    assert "narrow-token" not in message
    with pytest.raises(SecretBackendError, match="permission denied"):
        store.list_keys("profiles/")


def test_sealed_vault_is_an_error(vault: FakeVault) -> None:
    vault.state.sealed = True
    with pytest.raises(SecretBackendError, match="sealed"):
        _store(vault).get("quantconnect/api-token")


def test_unreachable_vault_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed again: nothing listens, so the connection is refused.
    store = VaultSecretStore(f"http://127.0.0.1:{port}", token="t", timeout=1.0, registry=SecretRegistry())
    with pytest.raises(SecretBackendError) as caught:
        store.get("quantconnect/api-token")
    assert "unreachable" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_missing_credentials_fail_at_construction() -> None:
    with pytest.raises(SecretBackendError, match="VAULT_TOKEN"):
        VaultSecretStore("http://127.0.0.1:1")
    with pytest.raises(SecretBackendError, match="VAULT_SECRET_ID"):
        VaultSecretStore("http://127.0.0.1:1", role_id="role-1")


def test_values_and_vault_credentials_are_registered_for_redaction(vault: FakeVault) -> None:
    registry = SecretRegistry()
    store = _store(vault, registry=registry)
    store.get("profiles/ib-main/ib-password")
    assert registry.redact("qc-bot-token / vault-pass-123") == "***VAULT_TOKEN*** / ***ib-password***"
    assert "qc-bot-token" not in repr(store)


def test_without_hvac_installed_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    with pytest.raises(SecretBackendError, match=r"qc-deploy-bot\[vault\]"):
        VaultSecretStore("http://127.0.0.1:1", token="t-1")
