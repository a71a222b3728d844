"""The secret backends by name: each backend module registers itself with its own settings model.

A new backend is one module: its store class, a settings model naming its variables, and a `register` call.
SECRET_BACKENDS then names it (bot/secrets/config.py builds the configured ones in order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.secrets.store import SecretStore


@dataclass(frozen=True)
class SecretBackend:
    """A backend SECRET_BACKENDS may name: its settings model and how to build its store from them."""

    name: str
    settings: type[BaseModel]
    build: Callable[[Any, Mapping[str, str] | None], SecretStore]
    # Where it is listed in messages and documentation (env, dir, vault).
    rank: int


_BACKENDS: dict[str, SecretBackend] = {}


def register(backend: SecretBackend) -> SecretBackend:
    """Make a backend available under its name."""
    _BACKENDS[backend.name] = backend
    return backend


def backend(name: str) -> SecretBackend:
    """The backend registered under `name` (KeyError when there is none)."""
    return _BACKENDS[name]


def names() -> list[str]:
    """Every registered backend's name, in their documented order."""
    return [b.name for b in sorted(_BACKENDS.values(), key=lambda b: b.rank)]
