"""Secret backend reading HashiCorp Vault KV v2 through hvac (the optional `vault` extra)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from bot.env_settings import EnvSettings, problem, problem_line
from bot.secrets.backends import SecretBackend, register
from bot.secrets.errors import SecretBackendError
from bot.secrets.keys import (
    is_secret_key,
    is_segment,
    is_valid_key,
    normalize_prefix,
    secret_label,
    split_key,
)
from bot.secrets.redaction import DEFAULT_REGISTRY, SecretRegistry

if TYPE_CHECKING:
    import hvac

T = TypeVar("T")
# Profiles live two levels below the prefix; a little headroom, but never an unbounded walk of the mount.
MAX_LIST_DEPTH = 4


def _plain(value: str | SecretStr | None) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None


def _import_hvac() -> ModuleType:
    try:
        import hvac
        import hvac.exceptions
    except ImportError:
        raise SecretBackendError(
            "vault", "the Vault backend needs the hvac package: pip install 'qc-deploy-bot[vault]'."
        ) from None
    return hvac


def vault_location(key: str, path_prefix: str) -> tuple[str, str]:
    """KV v2 path and field: profiles/ib-main/ib-password -> (qc-bot/profiles/ib-main, ib-password)."""
    segments = split_key(key)
    return "/".join([part for part in [path_prefix] if part] + segments[:-1]), segments[-1]


class VaultSecretStore:
    """Reads secrets from Vault KV v2: one Vault secret per profile, one field per credential."""

    def __init__(
        self,
        url: str,
        *,
        token: str | SecretStr | None = None,
        role_id: str | SecretStr | None = None,
        secret_id: str | SecretStr | None = None,
        mount: str = "secret",
        path_prefix: str = "qc-bot",
        timeout: float = 5.0,
        namespace: str | None = None,
        approle_mount: str = "approle",
        registry: SecretRegistry = DEFAULT_REGISTRY,
    ) -> None:
        self.name = "vault"
        self.url = url.rstrip("/")
        self.mount = mount.strip("/")
        self.path_prefix = path_prefix.strip("/")
        self.timeout = timeout
        self.namespace = namespace or None
        self.approle_mount = approle_mount.strip("/")
        self._registry = registry
        self._token = SecretStr(_plain(token) or "")
        self._role_id = SecretStr(_plain(role_id) or "")
        self._secret_id = SecretStr(_plain(secret_id) or "")
        self._use_approle = bool(self._role_id.get_secret_value())
        if self._use_approle and not self._secret_id.get_secret_value():
            raise SecretBackendError(
                self.name, "AppRole login needs VAULT_SECRET_ID as well as VAULT_ROLE_ID."
            )
        if not self._use_approle and not self._token.get_secret_value():
            raise SecretBackendError(
                self.name, "no Vault credentials: set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID."
            )
        registry.register(self._token.get_secret_value() or None, "VAULT_TOKEN")
        registry.register(self._secret_id.get_secret_value() or None, "VAULT_SECRET_ID")
        # Fail at start-up, not on the first deployment, when the optional extra is not installed.
        self._hvac = _import_hvac()
        self._lock = threading.Lock()
        self._client: hvac.Client | None = None

    def __repr__(self) -> str:
        auth = "approle" if self._use_approle else "token"
        where = f"url={self.url!r}, mount={self.mount!r}, path_prefix={self.path_prefix!r}"
        return f"VaultSecretStore({where}, auth={auth})"

    def _new_client(self) -> hvac.Client:
        client = self._hvac.Client(url=self.url, timeout=self.timeout, namespace=self.namespace)
        if self._use_approle:
            self._login(client)
        else:
            client.token = self._token.get_secret_value()
        return client

    def _login(self, client: hvac.Client) -> None:
        response = self._guard(
            lambda: client.auth.approle.login(
                role_id=self._role_id.get_secret_value(),
                secret_id=self._secret_id.get_secret_value(),
                mount_point=self.approle_mount,
            ),
            "log in with AppRole",
            login=True,
        )
        # The token AppRole hands out stands in for VAULT_TOKEN.
        self._registry.register(response["auth"]["client_token"], "VAULT_TOKEN")

    def _connected(self) -> hvac.Client:
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _guard(self, call: Callable[[], T], action: str, *, login: bool = False) -> T:
        """Run one hvac call, turning any failure into a SecretBackendError that names what was attempted."""
        import requests

        vault_errors = self._hvac.exceptions
        where = f"Vault at {self.url}"
        try:
            return call()
        except vault_errors.Forbidden:
            raise SecretBackendError(
                self.name,
                f"{where} denied the request to {action} (permission denied): check the token's policy.",
            ) from None
        except (vault_errors.InvalidRequest, vault_errors.Unauthorized) as exc:
            if login:
                raise SecretBackendError(
                    self.name,
                    f"{where} refused the AppRole login at auth/{self.approle_mount}: "
                    "check VAULT_ROLE_ID and VAULT_SECRET_ID (the secret id may have expired).",
                ) from None
            raise SecretBackendError(
                self.name, f"{where} refused the request to {action} ({type(exc).__name__})."
            ) from None
        except (vault_errors.VaultDown, vault_errors.VaultNotInitialized):
            raise SecretBackendError(
                self.name,
                f"{where} is sealed or not initialised, so it could not {action}: unseal it and retry.",
            ) from None
        except vault_errors.VaultError as exc:
            raise SecretBackendError(
                self.name, f"{where} failed to {action} ({type(exc).__name__})."
            ) from None
        except requests.Timeout:
            raise SecretBackendError(
                self.name, f"{where} did not answer within {self.timeout:g} s to {action}."
            ) from None
        except requests.RequestException:
            raise SecretBackendError(
                self.name, f"{where} is unreachable, could not {action}: check VAULT_ADDR and the network."
            ) from None

    def _request(self, operation: Callable[[hvac.Client], T], action: str) -> T:
        vault_errors = self._hvac.exceptions

        client = self._connected()

        def attempt() -> T:
            try:
                return operation(client)
            except vault_errors.Forbidden:
                if not self._use_approle:
                    raise
            # AppRole tokens expire and Vault then answers "permission denied": log in again once, and a
            # second refusal is a real denial.
            with self._lock:
                self._login(client)
            return operation(client)

        return self._guard(attempt, action)

    def _read_secret(self, path: str) -> dict[str, str] | None:
        vault_errors = self._hvac.exceptions

        def read(client: hvac.Client) -> dict[str, Any] | None:
            try:
                return client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.mount, raise_on_deleted_version=True
                )
            except vault_errors.InvalidPath:
                return None

        response = self._request(read, f"read {self.mount}/{path}")
        if response is None:
            return None
        data = (response.get("data") or {}).get("data")
        if not isinstance(data, dict):
            return None
        values: dict[str, str] = {}
        for field, value in data.items():
            if isinstance(value, bool | int | float | str):
                values[str(field)] = str(value)
            elif value is not None:
                raise SecretBackendError(
                    self.name,
                    f"field '{field}' of {self.mount}/{path} is not a text value; store it as a string.",
                )
        return values

    def _list(self, path: str) -> list[str]:
        vault_errors = self._hvac.exceptions

        def list_(client: hvac.Client) -> list[str]:
            try:
                response = client.secrets.kv.v2.list_secrets(path=path, mount_point=self.mount)
            except vault_errors.InvalidPath:
                return []
            return list((response.get("data") or {}).get("keys") or [])

        return self._request(list_, f"list {self.mount}/{path or '(root)'}")

    def get(self, key: str) -> str | None:
        """Value of a logical key, or None when the Vault secret or its field does not exist."""
        path, field = vault_location(key, self.path_prefix)
        value = (self._read_secret(path) or {}).get(field) or None
        if value is not None and is_secret_key(key):
            self._registry.register(value, secret_label(key))
        return value

    def list_keys(self, prefix: str) -> list[str]:
        """Logical keys under `prefix`: fields of the Vault secrets found by listing below it."""
        keys: set[str] = set()
        self._collect(normalize_prefix(prefix), keys, depth=0)
        return sorted(keys)

    def _path(self, segments: list[str]) -> str:
        return "/".join([part for part in [self.path_prefix] if part] + segments)

    def _add_fields(self, segments: list[str], keys: set[str]) -> None:
        for field in self._read_secret(self._path(segments)) or {}:
            key = "/".join([*segments, field])
            if is_valid_key(key):
                keys.add(key)

    def _collect(self, segments: list[str], keys: set[str], depth: int) -> None:
        if segments:
            self._add_fields(segments, keys)
        if depth >= MAX_LIST_DEPTH:
            return
        for child in self._list(self._path(segments)):
            name = child.rstrip("/")
            if not is_segment(name):
                continue
            if child.endswith("/"):
                self._collect([*segments, name], keys, depth + 1)
            else:
                self._add_fields([*segments, name], keys)


class VaultSettings(EnvSettings):
    """The vault backend's settings (VAULT_*): where Vault is and how the bot logs in."""

    addr: str | None = Field(None, validation_alias="VAULT_ADDR", validate_default=True)
    token: SecretStr | None = Field(None, validation_alias="VAULT_TOKEN")
    role_id: SecretStr | None = Field(None, validation_alias="VAULT_ROLE_ID")
    secret_id: SecretStr | None = Field(None, validation_alias="VAULT_SECRET_ID", validate_default=True)
    mount: str = Field("secret", validation_alias="VAULT_MOUNT", validate_default=True)
    path: str = Field("qc-bot", validation_alias="VAULT_PATH")
    namespace: str | None = Field(None, validation_alias="VAULT_NAMESPACE")
    timeout: float = Field(5.0, validation_alias="VAULT_TIMEOUT")

    @field_validator("addr")
    @classmethod
    def _an_address(cls, value: str | None) -> str:
        if value is None:
            raise problem("required when SECRET_BACKENDS includes vault.")
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise problem("must be an http:// or https:// address, e.g. https://vault:8200.")
        return value

    @field_validator("secret_id")
    @classmethod
    def _one_way_to_log_in(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        token, role_id = info.data.get("token"), info.data.get("role_id")
        if token and (role_id or value):
            raise problem_line(
                "VAULT_TOKEN and VAULT_ROLE_ID/VAULT_SECRET_ID: set one way to log in, not both."
            )
        if not token and not (role_id and value):
            if role_id or value:
                missing = "VAULT_SECRET_ID" if role_id else "VAULT_ROLE_ID"
                raise problem_line(f"{missing}: AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID.")
            raise problem_line("VAULT_TOKEN: set it, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole login.")
        return value

    @field_validator("mount")
    @classmethod
    def _a_mount(cls, value: str) -> str:
        if not value.strip("/"):
            raise problem("must name the KV v2 mount, e.g. secret.")
        return value.strip("/")

    @field_validator("path")
    @classmethod
    def _a_path(cls, value: str) -> str:
        return value.strip("/")

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise problem("must be a positive number of seconds.") from None
        if seconds <= 0:
            raise problem("must be a positive number of seconds.")
        return seconds


def _vault_store(settings: VaultSettings, _environ: Any) -> VaultSecretStore:
    assert settings.addr is not None, "VaultSettings requires VAULT_ADDR"
    return VaultSecretStore(
        settings.addr,
        token=settings.token,
        role_id=settings.role_id,
        secret_id=settings.secret_id,
        mount=settings.mount,
        path_prefix=settings.path,
        timeout=settings.timeout,
        namespace=settings.namespace,
    )


register(SecretBackend("vault", VaultSettings, _vault_store, rank=2))
