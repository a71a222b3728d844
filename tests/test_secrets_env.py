"""Environment-variable backend: naming, .env loading, precedence and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.secrets import EnvSecretStore, SecretBackendError, SecretRegistry
from bot.secrets.env_store import env_name, key_from_env_name


def test_logical_keys_map_to_documented_variable_names() -> None:
    assert env_name("profiles/ib-main/ib-password") == "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD"
    assert env_name("profiles/binance-testnet/brokerage") == "QCBOT_PROFILES__BINANCE_TESTNET__BROKERAGE"
    assert env_name("quantconnect/user-id") == "QC_USER_ID"
    assert env_name("quantconnect/api-token") == "QC_API_TOKEN"


@pytest.mark.parametrize(
    "name", ["QCBOT_PROFILES___IB", "QCBOT__X", "QCBOT_PROFILES__IB_", "PATH", "qcbot_x"]
)
def test_names_that_only_look_like_ours_are_ignored(name: str) -> None:
    assert key_from_env_name(name) is None


def test_reads_from_mapping_and_lists_under_prefix() -> None:
    environ = {
        "QCBOT_PROFILES__IB_MAIN__BROKERAGE": "InteractiveBrokersBrokerage",
        "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD": "pa$$-word#1",
        "QCBOT_PROFILES__IB_MAIN__IB_ACCOUNT": "",
        "QC_USER_ID": "4242",
        "HOME": "/root",
    }
    store = EnvSecretStore(environ=environ, registry=SecretRegistry())
    assert store.get("profiles/ib-main/ib-password") == "pa$$-word#1"
    assert store.get("profiles/ib-main/ib-account") is None  # empty counts as not set
    assert store.get("profiles/ib-main/ib-user-name") is None
    assert store.get("quantconnect/user-id") == "4242"
    assert store.list_keys("profiles/") == ["profiles/ib-main/brokerage", "profiles/ib-main/ib-password"]
    assert store.list_keys("quantconnect/") == ["quantconnect/user-id"]


def test_dotenv_file_fills_gaps_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# credential profile ib-main\n"
        "QCBOT_PROFILES__IB_MAIN__BROKERAGE=InteractiveBrokersBrokerage\n"
        "QCBOT_PROFILES__IB_MAIN__IB_USER_NAME=from-file\n"
        "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD='p@ss $HOME #not-a-comment'\n"
        'QCBOT_PROFILES__IB_MAIN__IB_ACCOUNT="DU 123\\"456"\n'
        "QC_API_TOKEN=file-token-value\n",
        encoding="utf-8",
    )
    store = EnvSecretStore(
        environ={"QCBOT_PROFILES__IB_MAIN__IB_USER_NAME": "from-env"},
        dotenv_path=dotenv,
        registry=SecretRegistry(),
    )
    assert store.get("profiles/ib-main/ib-user-name") == "from-env"
    # Single quotes keep '$' and '#' literally; no interpolation happens.
    assert store.get("profiles/ib-main/ib-password") == "p@ss $HOME #not-a-comment"
    assert store.get("profiles/ib-main/ib-account") == 'DU 123"456'
    assert store.get("quantconnect/api-token") == "file-token-value"
    assert "profiles/ib-main/ib-password" in store.list_keys("profiles/ib-main/")


def test_values_returned_are_registered_for_redaction_except_identifiers() -> None:
    registry = SecretRegistry()
    store = EnvSecretStore(
        environ={
            "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD": "hunter2-secret",
            "QCBOT_PROFILES__IB_MAIN__BROKERAGE": "InteractiveBrokersBrokerage",
        },
        registry=registry,
    )
    store.get("profiles/ib-main/ib-password")
    store.get("profiles/ib-main/brokerage")
    assert registry.redact("pw hunter2-secret on InteractiveBrokersBrokerage") == (
        "pw ***ib-password*** on InteractiveBrokersBrokerage"
    )


def test_missing_dotenv_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretBackendError) as caught:
        EnvSecretStore(environ={}, dotenv_path=tmp_path / "absent.env")
    assert "DOTENV_PATH" in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_unreadable_dotenv_file_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "dot.env"
    directory.mkdir()  # a directory where a file is expected: unreadable even for root
    with pytest.raises(SecretBackendError) as caught:
        EnvSecretStore(environ={}, dotenv_path=directory)
    assert "cannot be read" in str(caught.value)
    assert str(directory) in str(caught.value)


def test_repr_shows_no_values() -> None:
    store = EnvSecretStore(environ={"QC_API_TOKEN": "tok-very-secret"}, registry=SecretRegistry())
    assert "tok-very-secret" not in repr(store)
