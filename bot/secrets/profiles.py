"""Credential profiles: named sets of brokerage credentials kept in the secret store, checked and resolved."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.oauth_brokers import QUANTCONNECT_AUTH
from bot.secrets.env_store import ENV_ALIASES
from bot.secrets.errors import (
    ProfileBrokerageMismatch,
    ProfileIncomplete,
    ProfileNotFound,
    QuantConnectCredentialsMissing,
)
from bot.secrets.keys import (
    AUTH_FIELD,
    BROKERAGE_FIELD,
    PROFILES,
    QC_API_TOKEN_KEY,
    QC_USER_ID_KEY,
    is_segment,
    profile_key,
    validate_profile_name,
)
from bot.secrets.store import SecretStore


@dataclass(frozen=True)
class FieldStatus:
    """Whether one credential field of a model is set in a profile; carries the name only, never the value."""

    name: str
    label: str
    required: bool
    is_set: bool


class CredentialProfiles:
    """Lists, checks and resolves credential profiles stored under `profiles/<name>/<field>`."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def _profile_names(self) -> list[str]:
        names: set[str] = set()
        for key in self.store.list_keys(f"{PROFILES}/"):
            parts = key.split("/")
            if len(parts) == 3 and is_segment(parts[1]):
                names.add(parts[1])
        return sorted(names)

    def profiles_by_brokerage(self) -> dict[str, list[str]]:
        """Profile names grouped by brokerage id, sorted; profiles without a brokerage key are left out."""
        grouped: dict[str, list[str]] = {}
        for name in self._profile_names():
            brokerage = self._brokerage_value(name)
            if brokerage is not None:
                grouped.setdefault(brokerage, []).append(name)
        return dict(sorted(grouped.items()))

    def list_profiles(self, brokerage_id: str | None = None) -> list[str]:
        """Names of the profiles (for one brokerage id, or all), sorted; names only."""
        grouped = self.profiles_by_brokerage()
        if brokerage_id is not None:
            return list(grouped.get(brokerage_id, []))
        return sorted(name for names in grouped.values() for name in names)

    def _brokerage_value(self, profile: str) -> str | None:
        value = self.store.get(profile_key(profile, BROKERAGE_FIELD))
        return (value.strip() or None) if value is not None else None

    def brokerage_of(self, profile: str) -> str:
        """The QuantConnect brokerage id the profile is for; raises ProfileNotFound."""
        validate_profile_name(profile)
        brokerage = self._brokerage_value(profile)
        if brokerage is not None:
            return brokerage
        if self.store.list_keys(f"{PROFILES}/{profile}/"):
            raise ProfileNotFound(
                profile,
                f"It has credential fields but no '{BROKERAGE_FIELD}' key: store the brokerage id "
                "(e.g. InteractiveBrokersBrokerage) under it, see docs/secrets.md.",
            )
        raise ProfileNotFound(profile)

    def _check_brokerage(self, profile: str, model: type[BrokerageSettings]) -> None:
        brokerage = self.brokerage_of(profile)
        if model.data_provider_only:
            return  # a data provider's keys sit in the profile of whichever brokerage it feeds
        if brokerage != model.brokerage_id:
            raise ProfileBrokerageMismatch(profile, brokerage, model.brokerage_id)

    def field_status(self, profile: str, model: type[BrokerageSettings]) -> list[FieldStatus]:
        """Whether each credential field of `model` is set; raises ProfileNotFound or a brokerage mismatch."""
        self._check_brokerage(profile, model)
        return [
            FieldStatus(
                name=info.name,
                label=info.label,
                required=info.required,
                is_set=self.store.get(profile_key(profile, info.name)) is not None,
            )
            for info in model.credential_fields()
        ]

    def missing_fields(self, profile: str, model: type[BrokerageSettings]) -> list[str]:
        """Names of the required credential fields the profile lacks for `model` (empty when complete)."""
        if not model.credential_fields():
            return []  # e.g. QuantConnect paper trading: no profile is needed, whatever its name
        statuses = self.field_status(profile, model)  # checks the name and the brokerage first
        supplied = self.supplied_by_quantconnect(profile, model)
        return [
            status.name
            for status in statuses
            if status.required and not status.is_set and status.name not in supplied
        ]

    def supplied_by_quantconnect(self, profile: str, model: type[BrokerageSettings]) -> tuple[str, ...]:
        """The fields QuantConnect's authorization supplies for an `auth=quantconnect` profile, else none."""
        fields = tuple(getattr(model, "authorized_fields", ()))
        # Only brokerages QuantConnect can authorize look at `auth` (one secret read fewer for the others).
        if not hasattr(model, "quantconnect_auth") or self.auth_mode(profile) != QUANTCONNECT_AUTH:
            return ()
        return fields

    def auth_mode(self, profile: str) -> str | None:
        """The profile's `auth` value (`quantconnect`: tokens come from QuantConnect) or None; not secret."""
        validate_profile_name(profile)
        value = self.store.get(profile_key(profile, AUTH_FIELD))
        return None if value is None else value.strip().lower()

    def resolve(
        self, profile: str, model: type[BrokerageSettings], *, supplied: Collection[str] = ()
    ) -> dict[str, SecretStr]:
        """Every credential of `model` the profile holds, keyed by QuantConnect name; complete or an error.

        Fields in `supplied` come from elsewhere (QuantConnect's authorization) and are not required here.
        """
        if not model.credential_fields():
            return {}
        self._check_brokerage(profile, model)
        resolved: dict[str, SecretStr] = {}
        missing: list[str] = []
        for info in model.credential_fields():
            value = self.store.get(profile_key(profile, info.name))
            if value is not None:
                resolved[info.name] = SecretStr(value)
            elif info.required and info.name not in supplied:
                missing.append(info.name)
        if missing:
            # Nothing partially resolved leaves this method: the caller gets all the fields or none.
            raise ProfileIncomplete(profile, missing, model.display_name)
        return resolved

    def quantconnect_credentials(self) -> tuple[str, SecretStr]:
        """The QuantConnect API user id and token; raises naming QC_USER_ID / QC_API_TOKEN when missing."""
        user_id = self.store.get(QC_USER_ID_KEY)
        token = self.store.get(QC_API_TOKEN_KEY)
        missing = [
            ENV_ALIASES[key]
            for key, value in ((QC_USER_ID_KEY, user_id), (QC_API_TOKEN_KEY, token))
            if not value
        ]
        if user_id is None or token is None:
            raise QuantConnectCredentialsMissing(missing)
        return user_id.strip(), SecretStr(token)
