"""Validate everything a deployment needs and build the `live/create` request body."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError

from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.classification import is_paper_body
from bot.brokerages.data_providers import (
    QUANTCONNECT_PROVIDER_ID,
    DataProviderConfig,
    DataProviderOption,
    find_option,
    resolve_option,
)
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.brokerages.fields import Support
from bot.brokerages.holdings import CASH_FIELD, HOLDINGS_FIELD, BrokerageHolding, CashAmount
from bot.lean_versions import is_lean_version_id

DATA_PROVIDERS_FIELD = "data-providers"
ItemT = TypeVar("ItemT", BrokerageHolding, CashAmount)


@dataclass(frozen=True, repr=False)
class DataProviderEntry:
    """One validated entry of `dataProviders`; `settings` is None for QuantConnect's own data."""

    provider_id: str
    settings: BrokerageSettings | None

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """The entry's object; credentials masked unless `reveal`."""
        if self.settings is None:
            return {"id": self.provider_id}
        return self.settings.brokerage_body(reveal=reveal)


@dataclass(frozen=True, repr=False)
class LiveCreateRequest:
    """A fully validated `live/create` request; credentials stay SecretStr until to_body()."""

    version_id: str
    project_id: int
    compile_id: str
    node_id: str
    brokerage: BrokerageSettings
    holdings: tuple[BrokerageHolding, ...]
    cash: tuple[CashAmount, ...]
    data_providers: tuple[DataProviderEntry, ...]
    automatic_redeploy: bool

    @property
    def model(self) -> type[BrokerageSettings]:
        """The brokerage settings model this request was built from."""
        return type(self.brokerage)

    @property
    def is_paper(self) -> bool:
        """Whether the deployment trades paper money, judged on the body itself (when unsure, not)."""
        return is_paper_body(self.to_body())

    def _body(self, *, reveal: bool) -> dict[str, Any]:
        brokerage = self.brokerage.brokerage_body(reveal=reveal)
        if self.holdings:
            brokerage["holdings"] = [holding.to_body() for holding in self.holdings]
        if self.cash:
            brokerage["cash"] = [amount.to_body() for amount in self.cash]
        return {
            "versionId": self.version_id,
            "projectId": self.project_id,
            "compileId": self.compile_id,
            "nodeId": self.node_id,
            "brokerage": brokerage,
            "dataProviders": {entry.provider_id: entry.body(reveal=reveal) for entry in self.data_providers},
            "automaticRedeploy": self.automatic_redeploy,
        }

    def to_body(self) -> dict[str, Any]:
        """The JSON body to POST; the only place secret values are revealed."""
        return self._body(reveal=True)

    def to_masked_body(self) -> dict[str, Any]:
        """The body with every credential replaced by ********, safe to show in Slack."""
        return self._body(reveal=False)

    def __repr__(self) -> str:
        return f"LiveCreateRequest({self.to_masked_body()!r})"

    __str__ = __repr__


def _check_ids(project_id: int, compile_id: str, node_id: str, version_id: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id <= 0:
        errors["project"] = "Project must be a QuantConnect project id (a positive whole number)."
    if not str(compile_id).strip():
        errors["compile"] = "Compile id is missing; compile the project first."
    if not str(node_id).strip():
        errors["node"] = "Live node is missing; choose a live node."
    if not is_lean_version_id(str(version_id).strip()):
        errors["version"] = "Lean version must be -1 (master) or a Lean version id."
    return errors


def _check_items(
    model: type[BrokerageSettings], holdings: Sequence[BrokerageHolding], cash: Sequence[CashAmount]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if holdings and model.holdings_support is Support.NONE:
        errors[HOLDINGS_FIELD] = (
            f"{model.display_name} does not accept starting holdings; clear the Holdings field."
        )
    if cash and model.cash_support is Support.NONE:
        errors[CASH_FIELD] = f"{model.display_name} does not accept starting cash; clear the Cash field."
    if not cash and model.cash_support is Support.REQUIRED:
        errors[CASH_FIELD] = f"{model.display_name} needs at least one cash amount, e.g. 10000 USD."
    return errors


def _option_for(
    config: DataProviderConfig, brokerage_model: type[BrokerageSettings]
) -> DataProviderOption | None:
    if config.model_key is not None:
        return find_option(config.provider_id, config.model_key)
    return resolve_option(config.provider_id, brokerage_model.key)


def _provider_entry(
    config: DataProviderConfig,
    brokerage_model: type[BrokerageSettings],
    brokerage_settings: Mapping[str, Any],
    brokerage_credentials: Mapping[str, SecretStr | str],
) -> DataProviderEntry:
    if config.provider_id == QUANTCONNECT_PROVIDER_ID:
        return DataProviderEntry(QUANTCONNECT_PROVIDER_ID, None)
    option = _option_for(config, brokerage_model)
    if option is None or option.model_key is None:
        raise ValueError(f"{config.provider_id} cannot be used as a data provider.")
    model = registry.get(option.model_key)
    same_as_brokerage = model is brokerage_model
    settings = config.settings or (brokerage_settings if same_as_brokerage else {})
    credentials = config.credentials or (brokerage_credentials if same_as_brokerage else {})
    try:
        provider = model.create(settings, credentials)
    except FieldErrors as exc:
        raise ValueError(" ".join(exc.errors.values())) from None
    if model.key == "TradierSettings" and provider.is_paper_trading():
        # QuantConnect's API file: Tradier's data feed is invalid with Tradier's paper environment.
        raise ValueError(
            "Tradier cannot feed data in the paper environment; choose QuantConnect data instead."
        )
    return DataProviderEntry(option.provider_id, provider)


def _data_provider_entries(
    configs: Sequence[DataProviderConfig],
    model: type[BrokerageSettings],
    settings: Mapping[str, Any],
    credentials: Mapping[str, SecretStr | str],
) -> tuple[tuple[DataProviderEntry, ...], list[str]]:
    if not configs:
        return (DataProviderEntry(QUANTCONNECT_PROVIDER_ID, None),), []
    entries: list[DataProviderEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for config in configs:
        option = _option_for(config, model)
        name = option.display_name if option else config.provider_id
        if config.provider_id in seen:
            problems.append(f"{name} is listed twice.")
            continue
        seen.add(config.provider_id)
        try:
            entries.append(_provider_entry(config, model, settings, credentials))
        except (ValueError, UnknownBrokerage) as exc:
            problems.append(f"Data provider {name}: {exc}")
    return tuple(entries), problems


def _own_values(config: DataProviderConfig) -> bool:
    return bool(config.settings or config.credentials)


def _items(kind: type[ItemT], items: Sequence[Any], field: str, errors: dict[str, str]) -> tuple[ItemT, ...]:
    try:
        return tuple(kind.model_validate(item) for item in items)
    except ValidationError:
        errors[field] = f"{field.capitalize()} could not be read; enter them again, one per line."
        return ()


def build_live_create_request(
    *,
    model: type[BrokerageSettings],
    settings: Mapping[str, Any],
    credentials: Mapping[str, SecretStr | str],
    holdings: Sequence[BrokerageHolding] = (),
    cash: Sequence[CashAmount] = (),
    data_providers: Sequence[DataProviderConfig] = (),
    project_id: int,
    compile_id: str,
    node_id: str,
    version_id: str,
    automatic_redeploy: bool = False,
) -> LiveCreateRequest:
    """Validate settings, credentials, holdings, cash and data providers; FieldErrors lists every problem."""
    errors = _check_ids(project_id, compile_id, node_id, version_id)
    brokerage: BrokerageSettings | None = None
    try:
        brokerage = model.create(settings, credentials)
    except FieldErrors as exc:
        errors.update(exc.errors)
    holding_items = _items(BrokerageHolding, holdings, HOLDINGS_FIELD, errors)
    cash_items = _items(CashAmount, cash, CASH_FIELD, errors)
    errors.update(_check_items(model, holding_items, cash_items))
    if brokerage is None:
        # The brokerage's own problems are already listed; a provider reusing them would only repeat them.
        data_providers = [
            config for config in data_providers if _own_values(config) or config.model_key != model.key
        ]
    entries, problems = _data_provider_entries(data_providers, model, settings, credentials)
    if problems:
        errors[DATA_PROVIDERS_FIELD] = " ".join(problems)
    if errors or brokerage is None:
        raise FieldErrors(errors)
    return LiveCreateRequest(
        version_id=str(version_id).strip(),
        project_id=project_id,
        compile_id=str(compile_id).strip(),
        node_id=str(node_id).strip(),
        brokerage=brokerage,
        holdings=holding_items,
        cash=cash_items,
        data_providers=entries,
        automatic_redeploy=bool(automatic_redeploy),
    )
