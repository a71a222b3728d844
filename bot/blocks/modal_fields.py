"""The deploy modal's inputs: one builder per field (settings, Lean version, holdings, cash, data providers,
redeploy, reason), each keeping what was entered when the modal is rebuilt. Pure functions only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import OPTION_TEXT_LIMIT, Block, option, plain, truncate
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.data_providers import QUANTCONNECT, data_providers_for
from bot.brokerages.fields import FieldInfo, Support
from bot.brokerages.holdings import CASH_FORMAT_HELP, HOLDINGS_FORMAT_HELP
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.lean_versions import MASTER, LeanVersionChoices
from bot.numbers import is_ascii_digits
from bot.quantconnect.models import LeanVersion

HINT_LIMIT = 2000
PLACEHOLDER_LIMIT = 150
OPTION_VALUE_LIMIT = 150
SELECT_OPTION_LIMIT = 100
TRUE = "true"
FALSE = "false"
REDEPLOY_LABEL = "Redeploy automatically if the algorithm stops unexpectedly"


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
