"""Secret-store settings read from the environment, and the store they build."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, SecretStr

from bot.secrets.errors import SecretSettingsError
from bot.secrets.store import (
    ChainedSecretStore,
    DirectorySecretStore,
    EnvSecretStore,
    SecretStore,
    VaultSecretStore,
)

BackendName = Literal["env", "dir", "vault"]
BACKEND_NAMES: tuple[BackendName, ...] = ("env", "dir", "vault")


class SecretSettings(BaseModel):
    """Which secret backends to use, in which order, and how to reach each."""

    model_config = ConfigDict(frozen=True)

    backends: tuple[BackendName, ...] = ("env",)
    secrets_dir: Path = Path("/run/secrets")
    dotenv_path: Path | None = None
    vault_addr: str | None = None
    vault_token: SecretStr | None = None
    vault_role_id: SecretStr | None = None
    vault_secret_id: SecretStr | None = None
    vault_mount: str = "secret"
    vault_path: str = "qc-bot"
    vault_namespace: str | None = None
    vault_timeout: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SecretSettings:
        """Read SECRET_BACKENDS, SECRETS_DIR, DOTENV_PATH, VAULT_*; the error lists every problem."""
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        backends: list[BackendName] = []
        for raw in (text("SECRET_BACKENDS") or "env").split(","):
            name = raw.strip().lower()
            if not name:
                continue
            if name not in BACKEND_NAMES:
                problems.append(f"SECRET_BACKENDS: unknown backend {raw.strip()!r} (use env, dir or vault).")
            elif name in backends:
                problems.append(f"SECRET_BACKENDS: backend '{name}' is listed twice.")
            else:
                backends.append(name)  # type: ignore[arg-type]  # checked against BACKEND_NAMES above
        if not backends and not problems:
            problems.append("SECRET_BACKENDS: list at least one backend (env, dir or vault).")

        token, role_id, secret_id = text("VAULT_TOKEN"), text("VAULT_ROLE_ID"), text("VAULT_SECRET_ID")
        addr = text("VAULT_ADDR")
        mount = (text("VAULT_MOUNT") or "secret").strip("/")
        path = (text("VAULT_PATH") or "qc-bot").strip("/")
        timeout = 5.0
        if "vault" in backends:
            if addr is None:
                problems.append("VAULT_ADDR: required when SECRET_BACKENDS includes vault.")
            else:
                parsed = urlparse(addr)
                if parsed.scheme not in ("http", "https") or not parsed.netloc:
                    problems.append(
                        "VAULT_ADDR: must be an http:// or https:// address, e.g. https://vault:8200."
                    )
            if token and (role_id or secret_id):
                problems.append(
                    "VAULT_TOKEN and VAULT_ROLE_ID/VAULT_SECRET_ID: set one way to log in, not both."
                )
            elif not token and not (role_id and secret_id):
                if role_id or secret_id:
                    missing = "VAULT_SECRET_ID" if role_id else "VAULT_ROLE_ID"
                    problems.append(f"{missing}: AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID.")
                else:
                    problems.append(
                        "VAULT_TOKEN: set it, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole login."
                    )
            if not mount:
                problems.append("VAULT_MOUNT: must name the KV v2 mount, e.g. secret.")
            raw_timeout = text("VAULT_TIMEOUT")
            if raw_timeout is not None:
                try:
                    timeout = float(raw_timeout)
                    if timeout <= 0:
                        raise ValueError
                except ValueError:
                    problems.append("VAULT_TIMEOUT: must be a positive number of seconds.")
        if problems:
            raise SecretSettingsError(problems)

        return cls(
            backends=tuple(backends),
            secrets_dir=Path(text("SECRETS_DIR") or "/run/secrets"),
            dotenv_path=Path(dotenv) if (dotenv := text("DOTENV_PATH")) else None,
            vault_addr=addr,
            vault_token=SecretStr(token) if token else None,
            vault_role_id=SecretStr(role_id) if role_id else None,
            vault_secret_id=SecretStr(secret_id) if secret_id else None,
            vault_mount=mount,
            vault_path=path,
            vault_namespace=text("VAULT_NAMESPACE"),
            vault_timeout=timeout,
        )


def _build_one(name: BackendName, settings: SecretSettings, environ: Mapping[str, str] | None) -> SecretStore:
    if name == "env":
        return EnvSecretStore(environ=environ, dotenv_path=settings.dotenv_path)
    if name == "dir":
        return DirectorySecretStore(settings.secrets_dir)
    if settings.vault_addr is None:
        raise SecretSettingsError(["VAULT_ADDR: required when SECRET_BACKENDS includes vault."])
    return VaultSecretStore(
        settings.vault_addr,
        token=settings.vault_token,
        role_id=settings.vault_role_id,
        secret_id=settings.vault_secret_id,
        mount=settings.vault_mount,
        path_prefix=settings.vault_path,
        timeout=settings.vault_timeout,
        namespace=settings.vault_namespace,
    )


def build_secret_store(settings: SecretSettings, environ: Mapping[str, str] | None = None) -> SecretStore:
    """The configured backends in order (a single one returned as is); `environ` feeds the env backend."""
    stores = [_build_one(name, settings, environ) for name in settings.backends]
    return stores[0] if len(stores) == 1 else ChainedSecretStore(stores)
