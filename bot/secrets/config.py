"""Which secret backends to use, in which order, each with its own settings; and the store they build."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from bot.env_settings import problems, read_settings

# Importing the backend modules registers them (each owns its settings model).
from bot.secrets import dir_store, env_store, vault_store  # noqa: F401
from bot.secrets.backends import backend, names
from bot.secrets.errors import SecretSettingsError
from bot.secrets.store import ChainedSecretStore, SecretStore

DEFAULT_BACKENDS = "env"


@dataclass(frozen=True)
class SecretSettings:
    """The configured backends in lookup order, each with its validated settings."""

    backends: tuple[str, ...]
    configs: tuple[BaseModel, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SecretSettings:
        """Read SECRET_BACKENDS and the settings of each backend it names; the error lists every problem."""
        chosen, found = _backend_names(environ.get("SECRET_BACKENDS", ""))
        configs: list[BaseModel] = []
        for name in chosen:
            try:
                configs.append(read_settings(backend(name).settings, environ))
            except ValidationError as exc:
                found += problems(exc, backend(name).settings)
        if found:
            raise SecretSettingsError(found)
        return cls(tuple(chosen), tuple(configs))

    def of(self, name: str) -> BaseModel:
        """The settings of a configured backend (KeyError when it is not configured)."""
        return dict(zip(self.backends, self.configs, strict=True))[name]


def _backend_names(raw: str) -> tuple[list[str], list[str]]:
    """The backend names SECRET_BACKENDS lists (default env), and what is wrong with the list."""
    known = names()
    options = f"{', '.join(known[:-1])} or {known[-1]}"
    chosen: list[str] = []
    found: list[str] = []
    for item in (raw.strip() or DEFAULT_BACKENDS).split(","):
        name = item.strip().lower()
        if not name:
            continue
        if name not in known:
            found.append(f"SECRET_BACKENDS: unknown backend {item.strip()!r} (use {options}).")
        elif name in chosen:
            found.append(f"SECRET_BACKENDS: backend '{name}' is listed twice.")
        else:
            chosen.append(name)
    if not chosen and not found:
        found.append(f"SECRET_BACKENDS: list at least one backend ({options}).")
    return chosen, found


def build_secret_store(settings: SecretSettings, environ: Mapping[str, str] | None = None) -> SecretStore:
    """The configured backends in order (a single one returned as is); `environ` feeds the env backend."""
    stores = [
        backend(name).build(config, environ)
        for name, config in zip(settings.backends, settings.configs, strict=True)
    ]
    return stores[0] if len(stores) == 1 else ChainedSecretStore(stores)
