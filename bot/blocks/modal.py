"""The deploy modal (callback `deploy`), generated from a brokerage settings model. Pure functions only."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.blocks.common import (
    MODAL_BLOCK_LIMIT,
    OPTION_TEXT_LIMIT,
    Block,
    context,
    divider,
    escape,
    header,
    option,
    plain,
    section,
    truncate,
)
from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.data_providers import QUANTCONNECT, data_providers_for
from bot.brokerages.fields import FieldInfo, Support
from bot.brokerages.holdings import CASH_FORMAT_HELP, HOLDINGS_FORMAT_HELP
from bot.ids import NODE_AUTO, Action, Callback
from bot.ids import Block as BlockId
from bot.lean_versions import MASTER, LeanVersionChoices
from bot.numbers import is_ascii_digits, parse_id
from bot.quantconnect.models import LeanVersion, Node

DEFAULT_MODEL_KEY = "QuantConnectSettings"
TITLE = "Deploy live"
SUBMIT = "Request deploy"
CLOSE = "Cancel"
PRIVATE_METADATA_LIMIT = 3000
HINT_LIMIT = 2000
PLACEHOLDER_LIMIT = 150
OPTION_VALUE_LIMIT = 150
SELECT_OPTION_LIMIT = 100
ERROR_TEXT_LIMIT = 1900
# An option value for a project named in `/qc deploy <name>` that is not resolved to an id yet.
PROJECT_QUERY_PREFIX = "find:"
TRUE = "true"
FALSE = "false"
AUTO_NODE_LABEL = "Auto: first free node"
REDEPLOY_LABEL = "Redeploy automatically if the algorithm stops unexpectedly"


@dataclass(frozen=True)
class ProjectOption:
    """The project in the project select: an id chosen from the list, or a name typed after /qc deploy."""

    value: str
    label: str

    @classmethod
    def for_project(cls, project_id: int, name: str) -> ProjectOption:
        """A project chosen from QuantConnect's list."""
        return cls(value=str(project_id), label=truncate(f"{name} ({project_id})", OPTION_TEXT_LIMIT))

    @classmethod
    def for_query(cls, text: str) -> ProjectOption:
        """A project named in the command, resolved at submission."""
        # Control and format characters are no part of a project name and Slack refuses some in options.
        cleaned = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())
        value = PROJECT_QUERY_PREFIX + cleaned[: OPTION_VALUE_LIMIT - len(PROJECT_QUERY_PREFIX)]
        return cls(value=value, label=truncate(cleaned, OPTION_TEXT_LIMIT))

    @property
    def project_id(self) -> int | None:
        """The project id when chosen from the list."""
        return parse_id(self.value)

    @property
    def query(self) -> str:
        """What to look the project up by: its id, or the name typed in the command."""
        return self.value.removeprefix(PROJECT_QUERY_PREFIX)

    def to_option(self) -> dict[str, Any]:
        """The Block Kit option."""
        return option(self.label, self.value)


@dataclass(frozen=True)
class ModalMetadata:
    """What the modal carries in private_metadata: where to answer. Never a secret, never a setting."""

    channel_id: str = ""

    def to_json(self) -> str:
        """Compact JSON within Slack's private_metadata limit."""
        return json.dumps({"channel_id": self.channel_id[:100]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ModalMetadata:
        """Read it back; anything unreadable yields the empty metadata."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        return cls(channel_id=str(data.get("channel_id") or "")) if isinstance(data, dict) else cls()


@dataclass(frozen=True)
class ModalInputs:
    """Everything the deploy modal shows; `values` are entered values by block id (see modal_state)."""

    model_key: str = DEFAULT_MODEL_KEY
    profiles: tuple[str, ...] | None = None
    profiles_error: str | None = None
    project: ProjectOption | None = None
    nodes: tuple[Node, ...] | None = None
    nodes_error: str | None = None
    versions: LeanVersionChoices | None = None  # None until a project or brokerage is chosen
    values: Mapping[str, Any] = field(default_factory=dict)
    metadata: ModalMetadata = field(default_factory=ModalMetadata)
    deploy_channel_id: str | None = None


def deploy_modal(inputs: ModalInputs) -> dict[str, Any]:
    """The whole modal view for `views.open` / `views.update`."""
    model = registry.get(inputs.model_key)
    blocks: list[Block] = [_intro(inputs.deploy_channel_id), brokerage_block(model.key)]
    blocks += profile_blocks(model, inputs.profiles, inputs.profiles_error, inputs.values)
    blocks.append(project_block(inputs.project))
    blocks += node_blocks(inputs.nodes, inputs.nodes_error, inputs.values, project_chosen=inputs.project)
    blocks.append(version_block(inputs.versions, inputs.values.get(BlockId.VERSION)))
    settings = model.setting_fields()
    if settings:
        blocks += [divider(), header(truncate(f"{model.display_name} settings", 150))]
        blocks += [setting_block(info, inputs.values.get(info.name)) for info in settings]
    if model.holdings_support is not Support.NONE or model.cash_support is not Support.NONE:
        blocks.append(divider())
    if model.holdings_support is not Support.NONE:
        blocks.append(holdings_block(model, inputs.values.get(BlockId.HOLDINGS)))
    if model.cash_support is not Support.NONE:
        blocks.append(cash_block(model, inputs.values.get(BlockId.CASH)))
    blocks += [
        divider(),
        data_providers_block(model.key, inputs.values.get(BlockId.DATA_PROVIDERS)),
        redeploy_block(inputs.values.get(BlockId.AUTOMATIC_REDEPLOY)),
        reason_block(inputs.values.get(BlockId.REASON)),
    ]
    if len(blocks) > MODAL_BLOCK_LIMIT:
        raise ValueError(f"the deploy modal for {model.key} has {len(blocks)} blocks, over Slack's limit")
    return {
        "type": "modal",
        "callback_id": Callback.DEPLOY.value,
        "title": plain(TITLE),
        "submit": plain(SUBMIT),
        "close": plain(CLOSE),
        "private_metadata": inputs.metadata.to_json()[:PRIVATE_METADATA_LIMIT],
        "blocks": blocks,
    }


def input_block_ids(view: Mapping[str, Any]) -> set[str]:
    """Block ids of the view's input blocks: the only places a `response_action: errors` may point at."""
    return {
        str(block.get("block_id"))
        for block in view.get("blocks") or []
        if block.get("type") == "input" and block.get("block_id")
    }


# ---- fixed blocks ------------------------------------------------------------------------------------


def _intro(deploy_channel_id: str | None) -> Block:
    where = f"<#{deploy_channel_id}>" if deploy_channel_id else "the deploy channel"
    return context(
        f"The request is posted to {where} for approval before anything is deployed. "
        "Credentials come from the chosen profile in the secret store: never type a password or key here."
    )


def brokerage_block(model_key: str) -> Block:
    """Brokerage select; changing it rebuilds the modal for that brokerage's settings."""
    options = [option(model.display_name, model.key) for model in registry.all_models()]
    initial = next((o for o in options if o["value"] == model_key), None)
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.BROKERAGE_SELECT.value,
        "placeholder": plain("Choose a brokerage"),
        "options": options,
    }
    if initial is not None:
        element["initial_option"] = initial
    return {
        "type": "input",
        "block_id": BlockId.BROKERAGE.value,
        "dispatch_action": True,
        "label": plain("Brokerage"),
        "element": element,
    }


def profile_blocks(
    model: type[BrokerageSettings],
    profiles: Sequence[str] | None,
    error: str | None,
    values: Mapping[str, Any],
) -> list[Block]:
    """The credential profile select (names only), or a note while profiles load or when there are none."""
    credentials = model.credential_fields()
    if not credentials:
        return [context(f"{escape(model.display_name)} needs no credentials: no profile to choose.")]
    wanted = ", ".join(info.label for info in credentials if info.required) or "optional credentials only"
    note = context(
        truncate(f"The profile supplies: {escape(wanted)}. Values stay in the secret store.", 3000)
    )
    if error is not None:
        return [section(f":warning: {escape(error)}", block_id=BlockId.PROFILE_LOADING.value), note]
    if profiles is None:
        return [section("Loading credential profiles…", block_id=BlockId.PROFILE_LOADING.value), note]
    if not profiles:
        return [
            section(
                f":warning: No credential profile for {escape(model.display_name)} exists yet. "
                f"An operator can add one to the secret store (brokerage id `{model.brokerage_id}`).",
                block_id=BlockId.PROFILE_LOADING.value,
            ),
            note,
        ]
    options = [option(name, name) for name in profiles[:SELECT_OPTION_LIMIT]]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.VALUE.value,
        "placeholder": plain("Choose a credential profile"),
        "options": options,
    }
    chosen = values.get(BlockId.PROFILE)
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is None and len(options) == 1:
        initial = options[0]
    if initial is not None:
        element["initial_option"] = initial
    block = {
        "type": "input",
        "block_id": BlockId.PROFILE.value,
        "label": plain("Credential profile"),
        "element": element,
        "hint": plain(f"Profiles made for {model.display_name}; only their names are shown."),
    }
    return [block, note]


def project_block(project: ProjectOption | None) -> Block:
    """Type-ahead project select backed by projects/read (cached); choosing one lists its live nodes."""
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": Action.PROJECT_SELECT.value,
        "placeholder": plain("Type to search your QuantConnect projects"),
        "min_query_length": 0,
    }
    if project is not None:
        element["initial_option"] = project.to_option()
    return {
        "type": "input",
        "block_id": BlockId.PROJECT.value,
        "dispatch_action": True,
        "label": plain("Project"),
        "element": element,
    }


def node_label(node: Node) -> str:
    """How a node reads in the select: its name and id, and who keeps it busy."""
    if node.busy:
        who = node.used_by or "another algorithm"
        return truncate(f"{node.name or node.id}: busy — used by {who}", OPTION_TEXT_LIMIT)
    gpu = ", GPU" if node.has_gpu else ""
    return truncate(f"{node.label}{gpu}", OPTION_TEXT_LIMIT)


def node_blocks(
    nodes: Sequence[Node] | None,
    error: str | None,
    values: Mapping[str, Any],
    *,
    project_chosen: ProjectOption | None,
) -> list[Block]:
    """Node select: auto (first free) plus the chosen project's live nodes, busy ones marked."""
    options = [option(AUTO_NODE_LABEL, NODE_AUTO)]
    options += [option(node_label(node), node.id) for node in (nodes or ())[: SELECT_OPTION_LIMIT - 1]]
    chosen = values.get(BlockId.NODE)
    initial = next((o for o in options if o["value"] == chosen), options[0])
    if nodes is None:
        hint = (
            "Choose a project to list its live nodes."
            if project_chosen is None
            else "Auto picks a free node."
        )
    elif not nodes:
        hint = "The project has no live nodes listed; auto lets QuantConnect's answer decide at deploy time."
    else:
        free = sum(1 for node in nodes if not node.busy)
        hint = f"{free} of {len(nodes)} live nodes are free. Auto picks the first free node without a GPU."
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": BlockId.NODE.value,
            "label": plain("Live node"),
            "element": {
                "type": "static_select",
                "action_id": Action.VALUE.value,
                "options": options,
                "initial_option": initial,
            },
            "hint": plain(hint),
        }
    ]
    if error is not None:
        blocks.append({**context(f":warning: {escape(error)}"), "block_id": BlockId.NODE_NOTE.value})
    return blocks


MASTER_LABEL = "-1: Lean master (not advised for live trading)"


def version_label(version: LeanVersion) -> str:
    """How a Lean version reads in the select: its id, date and description."""
    parts = [str(version.id)]
    if version.created is not None:
        parts.append(version.created.strftime("%Y-%m-%d"))
    if version.description:
        parts.append(version.description)
    return truncate(" · ".join(parts), OPTION_TEXT_LIMIT)


def version_options(choices: LeanVersionChoices | None) -> list[dict[str, Any]]:
    """The default first (project's own, else newest), other versions newest first, master (-1) last."""
    options: list[dict[str, Any]] = []
    default = choices.default if choices is not None else None
    if choices is not None and default is not None:
        kind = "project default" if choices.default_is_projects else "newest"
        options.append(option(f"{kind} ({default})", default))
    listed = choices.listed() if choices is not None else ()
    # Slack allows 100 options: room for the default and master.
    options += [option(version_label(v), str(v.id)) for v in listed[: SELECT_OPTION_LIMIT - 2]]
    options.append(option(MASTER_LABEL, MASTER))
    return options


def _version_hint(choices: LeanVersionChoices | None) -> str:
    if choices is None:
        return "Choose a project first: its own Lean version is then preselected."
    default = choices.default
    if choices.versions_error is not None:
        unread = f":warning: Could not read QuantConnect's Lean versions ({choices.versions_error})"
        if default is None:
            return (
                f"{unread}, and the project's Lean version is unknown, so nothing is preselected. Try again "
                "later, or choose -1 (master) only if you mean it."
            )
        return f"{unread}: the project's own version and master (-1) are offered."
    if choices.default_is_projects:
        return f"Preselected: this project's Lean version ({default}). Master (-1) is not advised for live."
    if default is None:
        return ":warning: QuantConnect listed no Lean versions: nothing is preselected."
    if choices.project_chosen:
        return (
            f"QuantConnect did not report this project's Lean version, so the newest ({default}) is "
            "preselected."
        )
    return f"The newest Lean version ({default}) is preselected; choosing a project preselects its own."


def version_block(choices: LeanVersionChoices | None, entered: Any = None) -> Block:
    """Lean version select; option values are Lean version ids (-1 = master). Never preselects master."""
    options = version_options(choices)
    by_value = {o["value"]: o for o in options}
    default = choices.default if choices is not None else None
    # What was chosen before, if still offered; else the default. Master is never the fallback.
    initial = by_value.get(str(entered)) or (by_value.get(default) if default is not None else None)
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.VALUE.value,
        "placeholder": plain("Choose a Lean version"),
        "options": options,
    }
    if initial is not None:
        element["initial_option"] = initial
    return {
        "type": "input",
        "block_id": BlockId.VERSION.value,
        "label": plain("Lean version"),
        "element": element,
        "hint": plain(truncate(_version_hint(choices), HINT_LIMIT)),
    }


def offered_values(view: Mapping[str, Any], block_id: str) -> set[str] | None:
    """The option values a view's select offers under `block_id`; None when the view has no such select."""
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("block_id") == block_id and "options" in element:
            return {str(o.get("value")) for o in element.get("options") or []}
    return None


# ---- brokerage settings ------------------------------------------------------------------------------


def setting_block(info: FieldInfo, entered: Any = None) -> Block:
    """One input per setting field: block_id = QuantConnect field name, action_id = value."""
    if info.is_credential:
        raise ValueError(f"{info.name} is a credential: it comes from the profile, never from the modal")
    initial = entered if entered not in (None, "") else info.default
    if info.choices:
        element = _select([(choice.label, choice.value) for choice in info.choices], initial)
    elif info.value_type == "bool":
        element = _select([("Yes", TRUE), ("No", FALSE)], _bool_text(initial))
    elif info.value_type == "int":
        element = {"type": "number_input", "action_id": Action.VALUE.value, "is_decimal_allowed": False}
        if initial not in (None, "") and is_ascii_digits(str(initial).removeprefix("-")):
            element["initial_value"] = str(initial)
        if info.example:
            element["placeholder"] = plain(truncate(info.example, PLACEHOLDER_LIMIT))
    else:
        element = {"type": "plain_text_input", "action_id": Action.VALUE.value}
        if initial not in (None, ""):
            element["initial_value"] = str(initial)
        placeholder = info.example or info.format_hint
        if placeholder:
            element["placeholder"] = plain(truncate(placeholder, PLACEHOLDER_LIMIT))
    hint = info.help
    if info.format_hint:
        hint += f" Format: {info.format_hint}" + (f", e.g. {info.example}." if info.example else ".")
    block: Block = {
        "type": "input",
        "block_id": info.name,
        "label": plain(truncate(info.label, HINT_LIMIT)),
        "element": element,
        "hint": plain(truncate(hint, HINT_LIMIT)),
    }
    if not info.required:
        block["optional"] = True
    return block


def _bool_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return TRUE if value else FALSE
    return TRUE if str(value).strip().lower() in ("true", "yes", "1", "on") else FALSE


def _select(pairs: Sequence[tuple[str, str]], initial: Any) -> dict[str, Any]:
    options = [option(label, value) for label, value in pairs[:SELECT_OPTION_LIMIT]]
    element: dict[str, Any] = {"type": "static_select", "action_id": Action.VALUE.value, "options": options}
    wanted = None if initial is None else str(initial).lower()
    match = next((o for o in options if o["value"].lower() == wanted), None)
    if match is not None:
        element["initial_option"] = match
    return element


# ---- holdings, cash, data providers, redeploy, reason --------------------------------------------------


def _multiline(block_id: str, label: str, hint: str, entered: Any, *, optional: bool) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": Action.VALUE.value, "multiline": True}
    if entered:
        element["initial_value"] = str(entered)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "hint": plain(truncate(hint, HINT_LIMIT)),
    }
    if optional:
        block["optional"] = True
    return block


def holdings_block(model: type[BrokerageSettings], entered: Any = None) -> Block:
    """Starting holdings, one per line."""
    required = model.holdings_support is Support.REQUIRED
    return _multiline(
        BlockId.HOLDINGS.value, "Starting holdings", HOLDINGS_FORMAT_HELP, entered, optional=not required
    )


def cash_block(model: type[BrokerageSettings], entered: Any = None) -> Block:
    """Starting cash, one currency per line (required by Trading Technologies)."""
    required = model.cash_support is Support.REQUIRED
    hint = CASH_FORMAT_HELP + (f" {model.display_name} requires at least one line." if required else "")
    return _multiline(BlockId.CASH.value, "Starting cash", hint, entered, optional=not required)


def data_providers_block(model_key: str, entered: Any = None) -> Block:
    """Data providers in precedence order: the one picked first is asked first."""
    offered = data_providers_for(model_key)
    options = [option(choice.display_name, choice.option_value) for choice in offered]
    chosen = [str(v) for v in entered] if isinstance(entered, list | tuple) else [QUANTCONNECT.option_value]
    by_value = {o["value"]: o for o in options}
    initial = [by_value[value] for value in chosen if value in by_value]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": Action.VALUE.value,
        "placeholder": plain("QuantConnect"),
        "options": options,
    }
    if initial:
        element["initial_options"] = initial
    return {
        "type": "input",
        "block_id": BlockId.DATA_PROVIDERS.value,
        "optional": True,
        "label": plain("Data providers"),
        "element": element,
        "hint": plain(
            "The order you pick them in is the precedence: the first is asked for data first. "
            "Left empty, QuantConnect's data is used."
        ),
    }


def redeploy_block(entered: Any = None) -> Block:
    """Automatic redeploy checkbox."""
    box = option(REDEPLOY_LABEL, TRUE)
    element: dict[str, Any] = {"type": "checkboxes", "action_id": Action.VALUE.value, "options": [box]}
    if entered is True or (isinstance(entered, list | tuple) and TRUE in entered):
        element["initial_options"] = [box]
    return {
        "type": "input",
        "block_id": BlockId.AUTOMATIC_REDEPLOY.value,
        "optional": True,
        "label": plain("Automatic redeploy"),
        "element": element,
    }


def reason_block(entered: Any = None) -> Block:
    """Why this deployment is needed (required; approvers read it)."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": Action.VALUE.value,
        "multiline": True,
        "max_length": 2000,
        "placeholder": plain("What changed and why it should go live now"),
    }
    if entered:
        element["initial_value"] = str(entered)
    return {
        "type": "input",
        "block_id": BlockId.REASON.value,
        "label": plain("Reason"),
        "element": element,
        "hint": plain("Approvers see this on the request card."),
    }
