"""Turn a submitted deploy modal's `state.values` into a validated DeployForm, or field errors by block id."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.blocks.modal import ERROR_TEXT_LIMIT, ProjectOption, input_block_ids
from bot.blocks.modal_fields import TRUE
from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.data_providers import QUANTCONNECT, data_providers_for
from bot.brokerages.errors import FieldErrors, UnknownBrokerage
from bot.brokerages.fields import Support
from bot.brokerages.holdings import parse_cash, parse_holdings
from bot.errors import BotError
from bot.forms import DeployForm
from bot.ids import NODE_AUTO, Block
from bot.lean_versions import is_lean_version_id

StateValues = Mapping[str, Mapping[str, Mapping[str, Any]]]

REASON_MIN_LENGTH = 3


class ModalErrors(BotError):
    """Plain-language messages keyed by the modal block they belong to."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__(" ".join(self.errors.values()) or "The deploy form has problems.")


@dataclass(frozen=True)
class FormDraft:
    """A checked submission whose project is not looked up yet (that needs QuantConnect)."""

    model: type[BrokerageSettings]
    profile: str
    project: ProjectOption
    node_id: str | None
    version_id: str
    settings: dict[str, Any]
    holdings: list[dict[str, Any]] = field(default_factory=list)
    cash: list[dict[str, Any]] = field(default_factory=list)
    data_providers: list[str] = field(default_factory=lambda: [QUANTCONNECT.provider_id])
    automatic_redeploy: bool = False
    reason: str = ""

    def to_form(self, project_id: int, project_name: str) -> DeployForm:
        """The DeployForm for the resolved project."""
        return DeployForm(
            model_key=self.model.key,
            profile=self.profile,
            project_id=project_id,
            project_name=project_name,
            node_id=self.node_id,
            version_id=self.version_id,
            settings=self.settings,
            holdings=self.holdings,
            cash=self.cash,
            data_providers=self.data_providers,
            automatic_redeploy=self.automatic_redeploy,
            reason=self.reason,
        )


def element_value(element: Mapping[str, Any]) -> Any:
    """One element's state: a str, a list of option values, or None when nothing is entered."""
    kind = element.get("type")
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return [str(o.get("value")) for o in element.get("selected_options") or []]
    if "selected_option" in element:
        selected = element.get("selected_option")
        return str(selected.get("value")) if isinstance(selected, Mapping) else None
    if "selected_options" in element:
        return [str(o.get("value")) for o in element.get("selected_options") or []]
    value = element.get("value")
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def read_state(state_values: StateValues) -> dict[str, Any]:
    """Flatten `view.state.values` to {block_id: value}; each block holds one element."""
    flat: dict[str, Any] = {}
    for block_id, elements in state_values.items():
        for element in elements.values():
            flat[block_id] = element_value(element)
            break
    return flat


def selected_project(state_values: StateValues) -> ProjectOption | None:
    """The project option currently chosen (with its text), to keep it across a view update."""
    for element in (state_values.get(Block.PROJECT) or {}).values():
        selected = element.get("selected_option")
        if isinstance(selected, Mapping) and selected.get("value"):
            text = selected.get("text")
            label = str(text.get("text")) if isinstance(text, Mapping) else str(selected["value"])
            return ProjectOption(value=str(selected["value"]), label=label)
    return None


def chosen_model(values: Mapping[str, Any]) -> type[BrokerageSettings] | None:
    """The brokerage model chosen in the form, if any (and known)."""
    key = values.get(Block.BROKERAGE)
    if not key:
        return None
    try:
        return registry.get(str(key))
    except UnknownBrokerage:
        return None


def parse_submission(
    state_values: StateValues, *, offered_versions: Collection[str] | None = None
) -> FormDraft:
    """Check every field of a submission; raise ModalErrors listing each problem next to its block.

    `offered_versions` are the Lean version ids the submitted view offered; a value outside them is refused.
    """
    values = read_state(state_values)
    errors: dict[str, str] = {}
    model = chosen_model(values)
    if model is None:
        raise ModalErrors({Block.BROKERAGE: "Choose a brokerage from the list."})

    profile = str(values.get(Block.PROFILE) or "").strip()
    if model.credential_fields() and not profile:
        errors[Block.PROFILE] = (
            f"Choose the credential profile that holds your {model.display_name} credentials."
        )

    project = selected_project(state_values)
    if project is None or not project.query.strip():
        errors[Block.PROJECT] = "Choose the QuantConnect project to deploy."

    node = str(values.get(Block.NODE) or NODE_AUTO).strip()
    node_id = None if node in ("", NODE_AUTO) else node

    version_id = _version(values.get(Block.VERSION), offered_versions, errors)

    settings: dict[str, Any] = {}
    try:
        settings = model.validate_settings(
            {info.name: values.get(info.name) for info in model.setting_fields()}
        )
    except FieldErrors as exc:
        errors.update(exc.errors)

    holdings = _holdings(model, values.get(Block.HOLDINGS), errors)
    cash = _cash(model, values.get(Block.CASH), errors)
    data_providers = _data_providers(model, values.get(Block.DATA_PROVIDERS), errors)
    redeploy = values.get(Block.AUTOMATIC_REDEPLOY)
    automatic_redeploy = isinstance(redeploy, list) and TRUE in redeploy

    reason = str(values.get(Block.REASON) or "").strip()
    if len(reason) < REASON_MIN_LENGTH:
        errors[Block.REASON] = "Give a reason for this deployment: approvers read it before they decide."

    if errors or project is None:
        raise ModalErrors(errors)
    return FormDraft(
        model=model,
        profile=profile,
        project=project,
        node_id=node_id,
        version_id=version_id,
        settings=settings,
        holdings=holdings,
        cash=cash,
        data_providers=data_providers,
        automatic_redeploy=automatic_redeploy,
        reason=reason,
    )


def form_from_state(state_values: StateValues) -> DeployForm:
    """A DeployForm straight from the state, for a project chosen from the list (id and label known)."""
    draft = parse_submission(state_values)
    project_id = draft.project.project_id
    if project_id is None:
        raise ModalErrors({Block.PROJECT: f'Project "{draft.project.query}" has to be looked up first.'})
    name = draft.project.label.removesuffix(f" ({project_id})")
    return draft.to_form(project_id, name)


def errors_for_view(errors: Mapping[str, str], view: Mapping[str, Any]) -> dict[str, str]:
    """Errors Slack accepts for this view: keyed by its input blocks; others join the reason's message."""
    present = input_block_ids(view)
    fallback = Block.REASON.value if Block.REASON.value in present else next(iter(sorted(present)), None)
    placed: dict[str, str] = {}
    for block_id, message in errors.items():
        target = block_id if block_id in present else fallback
        if target is None:
            continue
        placed[target] = f"{placed[target]} {message}" if target in placed else message
    return {block_id: _clip(message) for block_id, message in placed.items()}


def _clip(message: str) -> str:
    return message if len(message) <= ERROR_TEXT_LIMIT else message[: ERROR_TEXT_LIMIT - 1] + "…"


def _version(raw: Any, offered: Collection[str] | None, errors: dict[str, str]) -> str:
    text = "" if raw is None else str(raw)
    if text == "":
        errors[Block.VERSION] = "Choose the Lean version to run."
    elif not is_lean_version_id(text):
        errors[Block.VERSION] = (
            "Lean version must be -1 (master) or a Lean version id, a whole number like 17202."
        )
    elif offered is not None and text not in offered:
        errors[Block.VERSION] = (
            f"Lean version {text} is not one of the versions offered: choose one from the list."
        )
    return text


def _holdings(model: type[BrokerageSettings], raw: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    if model.holdings_support is Support.NONE or not raw:
        if model.holdings_support is Support.REQUIRED:
            errors[Block.HOLDINGS] = f"{model.display_name} needs starting holdings: one position per line."
        return []
    try:
        return [holding.to_body() for holding in parse_holdings(str(raw))]
    except FieldErrors as exc:
        errors[Block.HOLDINGS] = " ".join(exc.errors.values())
        return []


def _cash(model: type[BrokerageSettings], raw: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    required = model.cash_support is Support.REQUIRED
    amounts: list[dict[str, Any]] = []
    if model.cash_support is not Support.NONE and raw:
        try:
            amounts = [amount.to_body() for amount in parse_cash(str(raw))]
        except FieldErrors as exc:
            errors[Block.CASH] = " ".join(exc.errors.values())
            return []
    if required and not amounts:
        errors[Block.CASH] = (
            f"{model.display_name} needs starting cash: at least one line like 10000 USD (AMOUNT CURRENCY)."
        )
    return amounts


def _data_providers(model: type[BrokerageSettings], raw: Any, errors: dict[str, str]) -> list[str]:
    offered = {choice.option_value: choice for choice in data_providers_for(model.key)}
    chosen = [str(value) for value in raw] if isinstance(raw, list) else []
    unknown = [value for value in chosen if value not in offered]
    if unknown:
        errors[Block.DATA_PROVIDERS] = (
            f"{', '.join(unknown)} cannot feed data to {model.display_name}; "
            f"choose from {', '.join(choice.display_name for choice in offered.values())}."
        )
        return [QUANTCONNECT.provider_id]
    ids = list(dict.fromkeys(offered[value].provider_id for value in chosen))
    return ids or [QUANTCONNECT.provider_id]
