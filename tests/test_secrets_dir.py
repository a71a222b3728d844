"""Directory backend (Docker / Kubernetes secrets): flat and nested layouts, Kubernetes symlinks, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.secrets import DirectorySecretStore, SecretBackendError, SecretRegistry


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_flat_file_names_with_trailing_newline_stripped(tmp_path: Path) -> None:
    _write(tmp_path / "profiles.ib-main.brokerage", "InteractiveBrokersBrokerage\n")
    _write(tmp_path / "profiles.ib-main.ib-password", "  spaced pass  \n")
    _write(tmp_path / "quantconnect.api-token", "tok-123456\r\n")
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    assert store.get("profiles/ib-main/brokerage") == "InteractiveBrokersBrokerage"
    # Only the line end goes: surrounding spaces may be part of a password.
    assert store.get("profiles/ib-main/ib-password") == "  spaced pass  "
    assert store.get("quantconnect/api-token") == "tok-123456"
    assert store.get("profiles/ib-main/ib-account") is None
    assert store.list_keys("profiles/") == ["profiles/ib-main/brokerage", "profiles/ib-main/ib-password"]


def test_nested_layout_and_empty_file(tmp_path: Path) -> None:
    _write(tmp_path / "profiles" / "binance-testnet" / "brokerage", "BinanceBrokerage")
    _write(tmp_path / "profiles" / "binance-testnet" / "binance-api-key", "key-abcdef")
    _write(tmp_path / "profiles" / "binance-testnet" / "binance-api-secret", "")
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    assert store.get("profiles/binance-testnet/binance-api-key") == "key-abcdef"
    assert store.get("profiles/binance-testnet/binance-api-secret") is None
    assert "profiles/binance-testnet/binance-api-key" in store.list_keys("profiles/binance-testnet/")


def test_kubernetes_style_mount_with_hidden_data_dir_and_symlinks(tmp_path: Path) -> None:
    mount = tmp_path / "profiles" / "ib-main"
    payload = mount / "..2024_01_01_00_00_00.000000001"
    _write(payload / "ib-user-name", "trader-joe")
    _write(payload / "brokerage", "InteractiveBrokersBrokerage")
    (mount / "..data").symlink_to(payload.name)
    for name in ("ib-user-name", "brokerage"):
        (mount / name).symlink_to(Path("..data") / name)
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    assert store.get("profiles/ib-main/ib-user-name") == "trader-joe"
    assert store.list_keys("profiles/") == ["profiles/ib-main/brokerage", "profiles/ib-main/ib-user-name"]


def test_flat_file_wins_over_nested(tmp_path: Path) -> None:
    _write(tmp_path / "profiles.ib-main.ib-account", "DU111111")
    _write(tmp_path / "profiles" / "ib-main" / "ib-account", "DU222222")
    assert (
        DirectorySecretStore(tmp_path, registry=SecretRegistry()).get("profiles/ib-main/ib-account")
        == "DU111111"
    )


def test_directory_where_a_file_is_expected_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "profiles.ib-main.ib-password").mkdir()
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    with pytest.raises(SecretBackendError) as caught:
        store.get("profiles/ib-main/ib-password")
    message = str(caught.value)
    assert "profiles/ib-main/ib-password" in message
    assert "is a directory" in message


def test_broken_symlink_is_an_error_not_missing(tmp_path: Path) -> None:
    (tmp_path / "quantconnect.api-token").symlink_to(tmp_path / "gone")
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    with pytest.raises(SecretBackendError, match="points nowhere"):
        store.get("quantconnect/api-token")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "quantconnect.api-token"
    _write(secret, "tok-abcdef")
    secret.chmod(0)
    store = DirectorySecretStore(tmp_path, registry=SecretRegistry())
    with pytest.raises(SecretBackendError, match="permission denied"):
        store.get("quantconnect/api-token")


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "quantconnect.api-token").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SecretBackendError, match="UTF-8"):
        DirectorySecretStore(tmp_path, registry=SecretRegistry()).get("quantconnect/api-token")


def test_missing_root_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(SecretBackendError, match="SECRETS_DIR"):
        DirectorySecretStore(tmp_path / "nope")


def test_read_values_are_registered_for_redaction(tmp_path: Path) -> None:
    _write(tmp_path / "profiles.ib-main.ib-password", "s3cret-pass\n")
    registry = SecretRegistry()
    DirectorySecretStore(tmp_path, registry=registry).get("profiles/ib-main/ib-password")
    assert registry.redact("login with s3cret-pass failed") == "login with ***ib-password*** failed"


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        ("\tpäss word \t\n", "\tpäss word \t"),
        ("pass\r\n", "pass"),
        ("pass\r", "pass\r"),
        ("pa\r\nss\n", "pa\r\nss"),
        ("pass\n\n", "pass\n"),
        (" ", " "),
    ],
)
def test_only_one_final_line_end_is_removed(tmp_path: Path, stored: str, value: str) -> None:
    (tmp_path / "profiles.ib-main.ib-password").write_bytes(stored.encode())
    assert (
        DirectorySecretStore(tmp_path, registry=SecretRegistry()).get("profiles/ib-main/ib-password") == value
    )
