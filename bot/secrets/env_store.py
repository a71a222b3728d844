"""Secret backend reading process environment variables, with an optional .env file underneath."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field

from bot.env_settings import EnvSettings
from bot.secrets.backends import SecretBackend, register
from bot.secrets.errors import SecretBackendError
from bot.secrets.keys import (
    QC_API_TOKEN_KEY,
    QC_USER_ID_KEY,
    is_secret_key,
    normalize_prefix,
    secret_label,
    split_key,
)
from bot.secrets.redaction import DEFAULT_REGISTRY, SecretRegistry

ENV_PREFIX = "QCBOT_"
SEGMENT_SEPARATOR = "__"
# The QuantConnect API credentials keep the names every QuantConnect tool already uses.
ENV_ALIASES: dict[str, str] = {QC_USER_ID_KEY: "QC_USER_ID", QC_API_TOKEN_KEY: "QC_API_TOKEN"}
_ALIAS_TO_KEY = {name: key for key, name in ENV_ALIASES.items()}


def env_name(key: str) -> str:
    """Variable name of a key: profiles/ib-main/ib-password -> QCBOT_PROFILES__IB_MAIN__IB_PASSWORD."""
    if key in ENV_ALIASES:
        return ENV_ALIASES[key]
    return ENV_PREFIX + SEGMENT_SEPARATOR.join(
        segment.upper().replace("-", "_") for segment in split_key(key)
    )


def key_from_env_name(name: str) -> str | None:
    """Logical key of an environment variable name, or None when the name is not one of ours."""
    if name in _ALIAS_TO_KEY:
        return _ALIAS_TO_KEY[name]
    if not name.startswith(ENV_PREFIX) or name != name.upper():
        return None
    body = name[len(ENV_PREFIX) :]
    key = "/".join(part.lower().replace("_", "-") for part in body.split(SEGMENT_SEPARATOR))
    # Round-tripping rejects names that only look similar (triple underscores, edge underscores, ...).
    try:
        return key if env_name(key) == name else None
    except ValueError:
        return None


class EnvSecretStore:
    """Reads secrets from environment variables; a .env file fills in what the environment does not set."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        dotenv_path: Path | str | None = None,
        *,
        registry: SecretRegistry = DEFAULT_REGISTRY,
    ) -> None:
        self.name = "env"
        self._registry = registry
        self._dotenv_path = Path(dotenv_path) if dotenv_path is not None else None
        file_values = self._load_dotenv(self._dotenv_path) if self._dotenv_path is not None else {}
        live = os.environ if environ is None else environ
        # The real environment wins over the file, as python-dotenv's load_dotenv does by default.
        self._values: dict[str, str] = {**file_values, **dict(live)}

    def _load_dotenv(self, path: Path) -> dict[str, str]:
        if not path.exists():
            raise SecretBackendError(self.name, f"the .env file {path} (DOTENV_PATH) does not exist.")
        try:
            # No interpolation: a password containing '$' must be taken literally, not expanded.
            with path.open(encoding="utf-8") as stream:
                raw = dotenv_values(stream=stream, interpolate=False)
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretBackendError(
                self.name, f"the .env file {path} (DOTENV_PATH) cannot be read ({type(exc).__name__})."
            ) from None
        return {name: value for name, value in raw.items() if value is not None}

    def __repr__(self) -> str:
        return f"EnvSecretStore(dotenv_path={self._dotenv_path!r})"

    def get(self, key: str) -> str | None:
        """Value of a logical key, or None when unset or empty."""
        value = self._values.get(env_name(key))
        if not value:
            return None
        if is_secret_key(key):
            self._registry.register(value, secret_label(key))
        return value

    def list_keys(self, prefix: str) -> list[str]:
        """Logical keys under `prefix` that have a non-empty value."""
        wanted = normalize_prefix(prefix)
        keys: set[str] = set()
        for name, value in self._values.items():
            key = key_from_env_name(name)
            if key is not None and value and key.split("/")[: len(wanted)] == wanted:
                keys.add(key)
        return sorted(keys)


class EnvBackendSettings(EnvSettings):
    """The env backend's settings: a .env file (DOTENV_PATH) under the environment, if any."""

    dotenv_path: Path | None = Field(None, validation_alias="DOTENV_PATH")


register(
    SecretBackend(
        "env",
        EnvBackendSettings,
        lambda settings, environ: EnvSecretStore(environ=environ, dotenv_path=settings.dotenv_path),
        rank=0,
    )
)
