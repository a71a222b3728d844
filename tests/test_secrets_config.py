"""Secret settings from the environment, store construction and backend ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.secrets import (
    ChainedSecretStore,
    DirectorySecretStore,
    EnvSecretStore,
    SecretBackendError,
    SecretRegistry,
    SecretSettings,
    SecretSettingsError,
    VaultSecretStore,
    build_secret_store,
)
from bot.secrets.backends import backend, names
from bot.secrets.dir_store import DirectorySettings
from bot.secrets.env_store import EnvBackendSettings
from bot.secrets.vault_store import VaultSettings
from tests.fakes.fake_vault import running_vault


class _DownStore:
    """A backend whose every call fails, like an unreachable Vault."""

    name = "down"

    def get(self, key: str) -> str | None:
        raise SecretBackendError(self.name, "unreachable")

    def list_keys(self, prefix: str) -> list[str]:
        raise SecretBackendError(self.name, "unreachable")


def test_defaults_use_the_environment_only() -> None:
    settings = SecretSettings.from_env({})
    assert settings.backends == ("env",)
    assert isinstance(build_secret_store(settings, environ={}), EnvSecretStore)
    everything = {"SECRET_BACKENDS": "env,dir,vault", "VAULT_ADDR": "http://vault:8200", "VAULT_TOKEN": "t"}
    defaults = SecretSettings.from_env(everything)
    assert defaults.of("dir") == DirectorySettings(secrets_dir=Path("/run/secrets"))
    vault = defaults.of("vault")
    assert isinstance(vault, VaultSettings) and (vault.mount, vault.path) == ("secret", "qc-bot")


def test_each_backend_registers_its_own_settings_model() -> None:
    assert names() == ["env", "dir", "vault"]
    assert {name: backend(name).settings for name in names()} == {
        "env": EnvBackendSettings,
        "dir": DirectorySettings,
        "vault": VaultSettings,
    }


def test_every_malformed_setting_is_listed_without_values() -> None:
    with pytest.raises(SecretSettingsError) as caught:
        SecretSettings.from_env(
            {
                "SECRET_BACKENDS": "env, vualt, vault, env",
                "VAULT_ADDR": "vault.internal:8200",
                "VAULT_TOKEN": "tok-secret-1",
                "VAULT_SECRET_ID": "sid-secret-2",
                "VAULT_TIMEOUT": "soon",
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "unknown backend 'vualt'" in problems
    assert "'env' is listed twice" in problems
    assert "VAULT_ADDR" in problems
    assert "not both" in problems
    assert "VAULT_TIMEOUT" in problems
    assert len(caught.value.problems) == 5
    assert "tok-secret-1" not in str(caught.value) and "sid-secret-2" not in str(caught.value)


def test_vault_needs_a_way_to_log_in() -> None:
    with pytest.raises(SecretSettingsError) as caught:
        SecretSettings.from_env({"SECRET_BACKENDS": "vault", "VAULT_ADDR": "http://127.0.0.1:8200"})
    assert caught.value.problems == [
        "VAULT_TOKEN: set it, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole login."
    ]
    with pytest.raises(SecretSettingsError, match="VAULT_SECRET_ID"):
        SecretSettings.from_env(
            {"SECRET_BACKENDS": "vault", "VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_ROLE_ID": "r"}
        )


def test_vault_settings_are_ignored_when_vault_is_not_used() -> None:
    assert SecretSettings.from_env({"VAULT_ADDR": "not a url"}).backends == ("env",)


def test_builds_the_chain_in_the_configured_order(tmp_path: Path) -> None:
    (tmp_path / "quantconnect.api-token").write_text("from-dir-token\n")
    (tmp_path / "quantconnect.user-id").write_text("1111\n")
    with running_vault() as vault:
        vault.put("team/quantconnect", {"api-token": "from-vault-token", "user-id": "3333"})
        vault.put("team/profiles/ib-main", {"ib-account": "DU-vault"})
        vault.add_token("t-build")
        environ = {
            "SECRET_BACKENDS": "env,dir,vault",
            "SECRETS_DIR": str(tmp_path),
            "VAULT_ADDR": vault.url,
            "VAULT_TOKEN": "t-build",
            "VAULT_PATH": "/team/",
            "QC_USER_ID": "2222",
        }
        settings = SecretSettings.from_env(environ)
        vault = settings.of("vault")
        assert isinstance(vault, VaultSettings) and vault.path == "team"
        assert vault.token is not None and "t-build" not in repr(settings)
        store = build_secret_store(settings, environ=environ)
        assert isinstance(store, ChainedSecretStore)
        assert [type(s) for s in store.stores] == [EnvSecretStore, DirectorySecretStore, VaultSecretStore]
        assert store.name == "chain(env,dir,vault)"
        assert store.get("quantconnect/user-id") == "2222"  # env first
        assert store.get("quantconnect/api-token") == "from-dir-token"  # dir before vault
        assert store.get("profiles/ib-main/ib-account") == "DU-vault"  # only vault has it
        assert store.get("profiles/ib-main/ib-password") is None
        assert store.list_keys("quantconnect/") == ["quantconnect/api-token", "quantconnect/user-id"]
        assert store.list_keys("profiles/") == ["profiles/ib-main/ib-account"]


def test_a_failing_backend_is_raised_not_skipped() -> None:
    env = EnvSecretStore(environ={"QC_API_TOKEN": "tok-from-env"}, registry=SecretRegistry())
    assert ChainedSecretStore([env, _DownStore()]).get("quantconnect/api-token") == "tok-from-env"
    chain = ChainedSecretStore([env, _DownStore()])
    with pytest.raises(SecretBackendError, match="down"):
        chain.get("quantconnect/user-id")
    with pytest.raises(SecretBackendError):
        chain.list_keys("profiles/")


def test_missing_secrets_dir_fails_when_the_store_is_built(tmp_path: Path) -> None:
    settings = SecretSettings.from_env({"SECRET_BACKENDS": "dir", "SECRETS_DIR": str(tmp_path / "absent")})
    with pytest.raises(SecretBackendError, match="SECRETS_DIR"):
        build_secret_store(settings)
