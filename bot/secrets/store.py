"""The SecretStore interface and the chain that tries configured backends in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.secrets.dir_store import DirectorySecretStore
from bot.secrets.env_store import EnvSecretStore
from bot.secrets.keys import is_secret_key
from bot.secrets.vault_store import VaultSecretStore

__all__ = [
    "ChainedSecretStore",
    "DirectorySecretStore",
    "EnvSecretStore",
    "SecretStore",
    "VaultSecretStore",
    "load_every_secret",
]


@runtime_checkable
class SecretStore(Protocol):
    """A source of secrets addressed by logical keys such as `profiles/ib-main/ib-password`."""

    name: str

    def get(self, key: str) -> str | None:
        """The value under `key`, or None when it is not set; a backend failure raises SecretBackendError."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Sorted logical keys under `prefix` (segment-aligned, e.g. 'profiles/'); never values."""
        ...


class ChainedSecretStore:
    """Tries stores in order: the first value found wins, and a failing backend stops the lookup."""

    def __init__(self, stores: Sequence[SecretStore]) -> None:
        if not stores:
            raise ValueError("ChainedSecretStore needs at least one store")
        self.stores: tuple[SecretStore, ...] = tuple(stores)
        self.name = "chain(" + ",".join(store.name for store in self.stores) + ")"

    def __repr__(self) -> str:
        return f"ChainedSecretStore({list(self.stores)!r})"

    def get(self, key: str) -> str | None:
        """First non-None value in backend order; errors propagate so an outage is never read as 'not set'."""
        for store in self.stores:
            value = store.get(key)
            if value is not None:
                return value
        return None

    def list_keys(self, prefix: str) -> list[str]:
        """Union of every backend's keys under `prefix`."""
        keys: set[str] = set()
        for store in self.stores:
            keys.update(store.list_keys(prefix))
        return sorted(keys)


def load_every_secret(store: SecretStore) -> int:
    """Read every secret value `store` holds, so that the outbound mask knows each one; returns how many.

    For tools that show stored text without deploying anything (the audit export): reading a value is
    what registers it with the mask. Identifiers (brokerage ids, the QuantConnect user id) are not read.
    """
    count = 0
    for key in store.list_keys(""):
        if is_secret_key(key) and store.get(key) is not None:
            count += 1
    return count
