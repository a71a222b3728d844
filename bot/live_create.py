"""The one way a `live/create` body is built: a request's stored choices plus credentials resolved per model.

The deployer builds it with the profile's values and sends it. Preview and the paper/real-money decision build
the very same body with placeholder credentials (never reading a secret value) and a stand-in compile id and
node, which only exist at deploy time; Preview shows it masked. One builder, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.builder import LiveCreateRequest, build_live_create_request
from bot.brokerages.classification import Classification, classify_body
from bot.brokerages.data_providers import DataProviderConfig, resolve_option
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.brokerages.validation import FORMATS
from bot.secrets.errors import SecretError

if TYPE_CHECKING:
    from bot.secrets.profiles import CredentialProfiles
    from bot.store.models import DeployRequest

COMPILE_PLACEHOLDER = "(assigned at deploy)"
NODE_PLACEHOLDER = "(first free node at deploy)"

# The credentials of one settings model (the brokerage's, or a data provider's with credentials of its own).
Credentials = Callable[[type[BrokerageSettings]], Mapping[str, SecretStr | str]]


class RequestContent(Protocol):
    """What a deploy form and a stored deploy request share: everything the body is built from."""

    @property
    def model_key(self) -> str: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...
    @property
    def holdings(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def cash(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def data_providers(self) -> Sequence[str]: ...
    @property
    def project_id(self) -> int: ...
    @property
    def node_id(self) -> str | None: ...
    @property
    def version_id(self) -> str: ...
    @property
    def automatic_redeploy(self) -> bool: ...


def live_create_request(
    content: RequestContent, credentials: Credentials, *, compile_id: str, node_id: str
) -> LiveCreateRequest:
    """Validate and build the request's body; UnknownBrokerage, or FieldErrors listing every problem."""
    model = registry.get(content.model_key)
    return build_live_create_request(
        model=model,
        settings=content.settings,
        credentials=credentials(model),
        holdings=content.holdings,  # type: ignore[arg-type]  # the builder validates the stored dicts
        cash=content.cash,  # type: ignore[arg-type]
        data_providers=provider_configs(content.data_providers, model, credentials),
        project_id=content.project_id,
        compile_id=compile_id,
        node_id=node_id,
        version_id=content.version_id,
        automatic_redeploy=content.automatic_redeploy,
    )


def provider_configs(
    entries: Iterable[str], model: type[BrokerageSettings], credentials: Credentials
) -> list[DataProviderConfig]:
    """Data providers in precedence order; one with a model of its own gets that model's credentials."""
    configs: list[DataProviderConfig] = []
    for entry in entries:
        option = resolve_option(entry, model.key)
        if option is None:
            configs.append(DataProviderConfig(entry, None))  # the builder says why it cannot be used
        elif option.model_key in (None, model.key):
            # QuantConnect's own data, or the brokerage itself: the builder reuses its credentials.
            configs.append(DataProviderConfig(option.provider_id, option.model_key))
        else:
            provider = registry.get(option.model_key)
            configs.append(
                DataProviderConfig(option.provider_id, option.model_key, dict(credentials(provider)))
            )
    return configs


def placeholder_credential(model: type[BrokerageSettings], name: str) -> str:
    """A value of the right shape for a credential field; the builder masks it, nothing real is read."""
    info = model.field(name)
    if info.format_hint in FORMATS:
        return FORMATS[info.format_hint][1]
    if info.value_type == "int":
        return "0"
    return "********"


def placeholders(names: Callable[[type[BrokerageSettings]], Iterable[str]]) -> Credentials:
    """Credentials of the right shape for the fields `names` lists per model (a body before deploy)."""

    def resolve(model: type[BrokerageSettings]) -> dict[str, SecretStr | str]:
        return {name: SecretStr(placeholder_credential(model, name)) for name in names(model)}

    return resolve


def placeholder_request(
    content: RequestContent, names: Callable[[type[BrokerageSettings]], Iterable[str]]
) -> LiveCreateRequest:
    """The body before deploy: placeholder credentials (for the fields `names` lists), compile id and node."""
    return live_create_request(
        content,
        placeholders(names),
        compile_id=COMPILE_PLACEHOLDER,
        node_id=content.node_id or NODE_PLACEHOLDER,
    )


def classify(content: RequestContent) -> Classification:
    """Paper or real money, judged on the body approval would send; reads no secret.

    Placeholders stand in for the credentials every profile of a model must hold. Raises UnknownBrokerage,
    or FieldErrors when the request could not be sent as it stands.
    """
    return classify_body(placeholder_request(content, _required_credentials).to_body())


def _required_credentials(model: type[BrokerageSettings]) -> list[str]:
    return [info.name for info in model.credential_fields() if info.required]


@dataclass(frozen=True)
class Preview:
    """The `live/create` body approval would send, credentials masked; or why it cannot be built yet."""

    request: DeployRequest
    model_name: str
    body: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)


def preview(request: DeployRequest, profiles: CredentialProfiles) -> Preview:
    """The masked body of a stored request, with the credential fields its profile holds; reads no value."""

    def held(model: type[BrokerageSettings]) -> list[str]:
        # Names only: which credential fields the profile holds, so optional extras show up too.
        return [s.name for s in profiles.field_status(request.profile, model) if s.is_set or s.required]

    model_name = registry.display_name(request.model_key)
    try:
        built = placeholder_request(request, held)
    except UnknownBrokerage as exc:
        return Preview(request, model_name, None, [str(exc)])
    except SecretError as exc:
        return Preview(request, model_name, None, [exc.user_message])
    except FieldErrors as exc:
        return Preview(request, model_name, None, list(exc.errors.values()))
    return Preview(request, model_name, built.to_masked_body())
