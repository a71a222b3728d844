"""Secret backend reading one file per secret (the Docker / Kubernetes secrets convention)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from bot.env_settings import EnvSettings
from bot.secrets.backends import SecretBackend, register
from bot.secrets.errors import SecretBackendError
from bot.secrets.keys import is_secret_key, is_valid_key, normalize_prefix, secret_label, split_key
from bot.secrets.redaction import DEFAULT_REGISTRY, SecretRegistry

FLAT_SEPARATOR = "."


def flat_file_name(key: str) -> str:
    """Flat-layout file name of a key: profiles/ib-main/ib-password -> profiles.ib-main.ib-password."""
    return FLAT_SEPARATOR.join(split_key(key))


def _strip_line_end(text: str) -> str:
    # `echo secret > file` and most editors add a final newline that is never part of the secret; other
    # whitespace is kept because it may be, a lone final carriage return included.
    for line_end in ("\r\n", "\n"):
        if text.endswith(line_end):
            return text[: -len(line_end)]
    return text


class DirectorySecretStore:
    """Reads one file per secret under a root: flat `profiles.ib-main.ib-password` or nested directories."""

    def __init__(self, root: Path | str, *, registry: SecretRegistry = DEFAULT_REGISTRY) -> None:
        self.name = "dir"
        self.root = Path(root)
        self._registry = registry
        if not self.root.is_dir():
            raise SecretBackendError(
                self.name,
                f"the secrets directory {self.root} (SECRETS_DIR) does not exist or is not a directory.",
            )

    def __repr__(self) -> str:
        return f"DirectorySecretStore(root={str(self.root)!r})"

    def _candidates(self, key: str) -> list[Path]:
        segments = split_key(key)
        flat = self.root / FLAT_SEPARATOR.join(segments)
        nested = self.root.joinpath(*segments)
        return [flat] if flat == nested else [flat, nested]

    def _read(self, path: Path, key: str) -> str | None:
        if not os.path.lexists(path):
            return None
        where = f"the file for '{key}' ({path.relative_to(self.root)} under {self.root})"
        if path.is_symlink() and not path.exists():
            raise SecretBackendError(self.name, f"{where} is a link that points nowhere; fix or remove it.")
        if path.is_dir():
            raise SecretBackendError(self.name, f"{where} is a directory, not a file.")
        try:
            # Bytes, then UTF-8: text mode would turn a "\r" inside the value into "\n".
            text = path.read_bytes().decode("utf-8")
        except PermissionError:
            raise SecretBackendError(
                self.name, f"{where} cannot be read: permission denied for the bot's user."
            ) from None
        except UnicodeDecodeError:
            raise SecretBackendError(self.name, f"{where} is not UTF-8 text.") from None
        except OSError as exc:
            raise SecretBackendError(self.name, f"{where} cannot be read ({type(exc).__name__}).") from None
        return _strip_line_end(text) or None

    def get(self, key: str) -> str | None:
        """Value of a logical key (flat file first, then nested), or None when no file or an empty one."""
        for path in self._candidates(key):
            value = self._read(path, key)
            if value is not None:
                if is_secret_key(key):
                    self._registry.register(value, secret_label(key))
                return value
        return None

    def list_keys(self, prefix: str) -> list[str]:
        """Logical keys under `prefix` that have a file, in either layout."""
        wanted = normalize_prefix(prefix)
        keys: set[str] = set()
        for directory, dirnames, filenames in os.walk(self.root):
            # Kubernetes mounts keep their payload in hidden `..data` / `..<timestamp>` folders (symlinked).
            dirnames[:] = [name for name in dirnames if not name.startswith(".")]
            relative = Path(directory).relative_to(self.root).parts
            for filename in filenames:
                if filename.startswith("."):
                    continue
                key = "/".join((*relative, filename)) if relative else filename.replace(FLAT_SEPARATOR, "/")
                if is_valid_key(key) and key.split("/")[: len(wanted)] == wanted:
                    keys.add(key)
        return sorted(keys)


class DirectorySettings(EnvSettings):
    """The dir backend's settings: where the secret files are (SECRETS_DIR)."""

    secrets_dir: Path = Field(Path("/run/secrets"), validation_alias="SECRETS_DIR")


register(
    SecretBackend(
        "dir",
        DirectorySettings,
        lambda settings, _environ: DirectorySecretStore(settings.secrets_dir),
        rank=1,
    )
)
