"""Whether a credential profile can serve a request: the brokerage's credentials and every chosen data
provider's that has credentials of its own (Alpaca data: API key and secret), checked before approval.

Messages name the profile and the fields, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.data_providers import resolve_option
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.brokerages.oauth_brokers import QUANTCONNECT_AUTH, oauth_model
from bot.ids import Block
from bot.live_create import placeholder_credential
from bot.secrets.errors import ProfileIncomplete, SecretError

if TYPE_CHECKING:
    from bot.secrets.profiles import CredentialProfiles


def profile_problems(
    profiles: CredentialProfiles, profile: str, model_key: str, data_providers: Iterable[str] = ()
) -> dict[str, str]:
    """Why the profile cannot serve this brokerage (keyed `profile`) or a chosen data provider (keyed
    `data-providers`); empty when it can. Reads and drops the values: the deployer resolves them again."""
    try:
        model = registry.get(model_key)
    except UnknownBrokerage as exc:
        return {"brokerage": str(exc)}
    supplied: tuple[str, ...] = ()
    oauth = oauth_model(model.key)
    if oauth is not None:
        # Read once: `auth=quantconnect` means QuantConnect's authorization supplies the tokens.
        try:
            mode = profiles.auth_mode(profile)
        except SecretError as exc:
            return {"profile": exc.user_message}
        if mode not in (None, QUANTCONNECT_AUTH):
            return {"profile": f"Profile {profile}: auth must be {QUANTCONNECT_AUTH} or left out."}
        supplied = oauth.authorized_fields if mode == QUANTCONNECT_AUTH else ()
    problem = _model_problem(profiles, profile, model, supplied)
    if problem:
        return {"profile": problem}
    for provider in provider_models(model, data_providers):
        problem = _model_problem(profiles, profile, provider, ())
        if problem:
            return {Block.DATA_PROVIDERS: f"Data provider {provider.display_name}: {problem}"}
    return {}


def provider_models(
    model: type[BrokerageSettings], data_providers: Iterable[str]
) -> list[type[BrokerageSettings]]:
    """Chosen data providers whose credentials are not the brokerage's own (the profile holds them too)."""
    models: list[type[BrokerageSettings]] = []
    for entry in data_providers:
        option = resolve_option(entry, model.key)
        if option is not None and option.model_key not in (None, model.key):
            models.append(registry.get(option.model_key))
    return models


def _model_problem(
    profiles: CredentialProfiles, profile: str, model: type[BrokerageSettings], supplied: tuple[str, ...]
) -> str:
    try:
        resolved = profiles.resolve(profile, model, supplied=supplied)
        # QuantConnect supplies these at deploy time; a stand-in of the right shape checks the rest.
        stand_ins = {name: SecretStr(placeholder_credential(model, name)) for name in supplied}
        model.validate_credentials({**stand_ins, **resolved})
    except ProfileIncomplete as exc:
        described = ", ".join(f"{model.field(name).label} ({name})" for name in exc.missing)
        return (
            f"Profile {profile} is missing {described}. Store them in the secret store "
            "(see docs/secrets.md) and submit again."
        )
    except SecretError as exc:
        return exc.user_message
    except FieldErrors as exc:
        problems = " ".join(exc.errors.values())
        return f"Profile {profile}: {problems} Fix it in the secret store and submit again."
    return ""
