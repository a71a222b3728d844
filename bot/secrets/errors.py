"""Errors of the secret store and profiles: each names the profile, field or setting, never a value."""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import BotError


class SecretError(BotError):
    """Base of every secret-store and credential-profile error."""


class SecretBackendError(SecretError):
    """A backend could not answer (unreadable file, Vault down, sealed or denied); never means 'not set'."""

    def __init__(self, backend: str, user_message: str) -> None:
        super().__init__(f"Secret backend '{backend}': {user_message}")
        self.backend: str = backend


class SecretSettingsError(SecretError):
    """The secret-store settings (SECRET_BACKENDS, VAULT_*, ...) are malformed; lists every problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__(
            "Secret store settings are not usable:\n" + "\n".join(f"- {p}" for p in self.problems)
        )


class InvalidProfileName(SecretError):
    """A profile name breaks the naming rule (lowercase letters, digits, single hyphens)."""

    def __init__(self, profile: str) -> None:
        # The name is operator input, not a secret; repr() shows stray spaces or capitals plainly.
        super().__init__(
            f"Profile name {profile!r} is not valid: use lowercase letters, digits and single hyphens "
            "between them (for example 'ib-main' or 'binance-testnet'), at most 63 characters."
        )
        self.profile: str = profile


class ProfileNotFound(SecretError):
    """No credential profile of that name exists in any configured backend."""

    def __init__(self, profile: str, hint: str | None = None) -> None:
        message = f"Credential profile '{profile}' was not found in the secret store."
        super().__init__(f"{message} {hint}" if hint else message)
        self.profile: str = profile


class ProfileBrokerageMismatch(SecretError):
    """The profile belongs to a different brokerage than the one requested."""

    def __init__(self, profile: str, profile_brokerage: str, wanted_brokerage: str) -> None:
        super().__init__(
            f"Credential profile '{profile}' is for {profile_brokerage}, not {wanted_brokerage}: "
            f"choose a profile made for {wanted_brokerage}."
        )
        self.profile: str = profile
        self.profile_brokerage: str = profile_brokerage
        self.wanted_brokerage: str = wanted_brokerage


class ProfileIncomplete(SecretError):
    """The profile lacks required credential fields of the model; `missing` holds their names only."""

    def __init__(self, profile: str, missing: list[str], model_name: str | None = None) -> None:
        target = f" for {model_name}" if model_name else ""
        super().__init__(
            f"Credential profile '{profile}' is incomplete{target}: missing {', '.join(missing)}. "
            "Store these fields in the secret store (see docs/secrets.md) and try again."
        )
        self.profile: str = profile
        self.missing: list[str] = list(missing)


class QuantConnectCredentialsMissing(SecretError):
    """The QuantConnect API user id or token is not set in any configured backend."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"QuantConnect API credentials are not set: missing {', '.join(missing)} "
            "(environment variable names; other backends use the keys in docs/secrets.md)."
        )
        self.missing: list[str] = list(missing)
