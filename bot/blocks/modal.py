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
from bot.blocks.modal_fields import (
    OPTION_VALUE_LIMIT,
    SELECT_OPTION_LIMIT,
    cash_block,
    data_providers_block,
    holdings_block,
    reason_block,
    redeploy_block,
    setting_block,
    version_block,
)
from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support
from bot.ids import NODE_AUTO, Action, Callback
from bot.ids import Block as BlockId
from bot.lean_versions import LeanVersionChoices
from bot.numbers import parse_id
from bot.quantconnect.models import Node

DEFAULT_MODEL_KEY = "QuantConnectSettings"
TITLE = "Deploy live"
SUBMIT = "Request deploy"
CLOSE = "Cancel"
PRIVATE_METADATA_LIMIT = 3000
ERROR_TEXT_LIMIT = 1900
# An option value for a project named in `/qc deploy <name>` that is not resolved to an id yet.
PROJECT_QUERY_PREFIX = "find:"
AUTO_NODE_LABEL = "Auto: first free node"


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


def offered_values(view: Mapping[str, Any], block_id: str) -> set[str] | None:
    """The option values a view's select offers under `block_id`; None when the view has no such select."""
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("block_id") == block_id and "options" in element:
            return {str(o.get("value")) for o in element.get("options") or []}
    return None


# ---- brokerage settings ------------------------------------------------------------------------------
