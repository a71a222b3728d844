"""The `live/create` body a request would send, built before deploy time with placeholders.

Credentials, compile id and (for "auto") the node are only known at deploy time, so they are stand-ins here;
everything else is exactly what the deployer will send. Preview shows this body masked, and the request
service decides paper versus real money from it: one builder, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import SecretStr

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.builder import LiveCreateRequest, build_live_create_request
from bot.brokerages.data_providers import DataProviderConfig, find_option
from bot.brokerages.validation import FORMATS

COMPILE_PLACEHOLDER = "(assigned at deploy)"
NODE_PLACEHOLDER = "(first free node at deploy)"


class RequestContent(Protocol):
    """What a deploy form and a stored deploy request share: everything the body is built from."""

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


def placeholder_credential(model: type[BrokerageSettings], name: str) -> str:
    """A value of the right shape for a credential field; the builder masks it, nothing real is read."""
    info = model.field(name)
    if info.format_hint in FORMATS:
        return FORMATS[info.format_hint][1]
    if info.value_type == "int":
        return "0"
    return "********"


def _provider_configs(entries: Sequence[str], model: type[BrokerageSettings]) -> list[DataProviderConfig]:
    configs = []
    for provider_id in entries:
        own = provider_id == model.brokerage_id
        option = None if own else find_option(provider_id)
        configs.append(
            DataProviderConfig(provider_id, model.key if own else (option.model_key if option else None))
        )
    return configs


def placeholder_request(
    content: RequestContent, model: type[BrokerageSettings], credential_names: Iterable[str]
) -> LiveCreateRequest:
    """The request's body with placeholder credentials (for these field names), compile id and node.

    Raises FieldErrors when the request could not be sent as it stands.
    """
    credentials = {name: SecretStr(placeholder_credential(model, name)) for name in credential_names}
    return build_live_create_request(
        model=model,
        settings=content.settings,
        credentials=credentials,
        holdings=content.holdings,  # type: ignore[arg-type]  # the builder validates the stored dicts
        cash=content.cash,  # type: ignore[arg-type]
        data_providers=_provider_configs(content.data_providers, model),
        project_id=content.project_id,
        compile_id=COMPILE_PLACEHOLDER,
        node_id=content.node_id or NODE_PLACEHOLDER,
        version_id=content.version_id,
        automatic_redeploy=content.automatic_redeploy,
    )
