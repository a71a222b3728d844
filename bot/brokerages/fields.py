"""Metadata of one brokerage field: what the modal shows and how a value is checked."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

ValueType = Literal["str", "int", "bool"]

# Key under which a pydantic field carries our metadata in json_schema_extra.
META_KEY = "x-qc-field"


class FieldKind(StrEnum):
    """Where a value comes from: the credential profile (never Slack) or the deploy modal."""

    CREDENTIAL = "credential"
    SETTING = "setting"


class Support(StrEnum):
    """Whether a brokerage accepts starting cash or holdings."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class Choice:
    """One allowed value of an enumerated field."""

    value: str
    label: str


@dataclass(frozen=True)
class FieldInfo:
    """Everything the modal, the card and the builder need to know about one QuantConnect field."""

    name: str
    label: str
    help: str
    kind: FieldKind
    required: bool
    choices: tuple[Choice, ...] = ()
    default: str | int | bool | None = None
    format_hint: str | None = None
    value_type: ValueType = "str"
    extra: bool = False
    fixed: bool = False
    example: str | None = None

    @property
    def is_credential(self) -> bool:
        """True when the value comes from the credential profile."""
        return self.kind is FieldKind.CREDENTIAL

    def choice_values(self) -> tuple[str, ...]:
        """The allowed values, empty when free-form."""
        return tuple(choice.value for choice in self.choices)


def choices(*values: str | tuple[str, str]) -> tuple[Choice, ...]:
    """Build choices from plain values (label = value) or (value, label) pairs."""
    built: list[Choice] = []
    for item in values:
        value, label = (item, item) if isinstance(item, str) else item
        built.append(Choice(value=value, label=label))
    return tuple(built)


def _field(
    kind: FieldKind,
    name: str,
    label: str,
    help: str,
    *,
    required: bool,
    choices: tuple[Choice, ...],
    default: str | int | bool | None,
    format_hint: str | None,
    value_type: ValueType,
    extra: bool,
    fixed: bool,
    example: str | None,
) -> Any:
    meta = {
        "kind": kind.value,
        "label": label,
        "help": help,
        "required": required,
        "choices": [[choice.value, choice.label] for choice in choices],
        "default": default,
        "format_hint": format_hint,
        "value_type": value_type,
        "extra": extra,
        "fixed": fixed,
        "example": example,
    }
    # The pydantic default stays None: required-ness and defaults are applied by our own validation so that
    # messages name the field in plain language instead of pydantic's wording.
    return Field(default=None, alias=name, json_schema_extra={META_KEY: meta})


def setting(
    name: str,
    label: str,
    help: str,
    *,
    required: bool = True,
    choices: tuple[Choice, ...] = (),
    default: str | int | bool | None = None,
    format_hint: str | None = None,
    value_type: ValueType = "str",
    extra: bool = False,
    fixed: bool = False,
    example: str | None = None,
) -> Any:
    """Declare a setting chosen in the deploy modal (or a fixed constant the builder fills in)."""
    return _field(
        FieldKind.SETTING,
        name,
        label,
        help,
        required=required,
        choices=choices,
        default=default,
        format_hint=format_hint,
        value_type=value_type,
        extra=extra,
        fixed=fixed,
        example=example,
    )


def credential(
    name: str,
    label: str,
    help: str,
    *,
    required: bool = True,
    format_hint: str | None = None,
    value_type: ValueType = "str",
    extra: bool = False,
    example: str | None = None,
) -> Any:
    """Declare a credential resolved from the secret store, never typed into Slack."""
    return _field(
        FieldKind.CREDENTIAL,
        name,
        label,
        help,
        required=required,
        choices=(),
        default=None,
        format_hint=format_hint,
        value_type=value_type,
        extra=extra,
        fixed=False,
        example=example,
    )


def field_info_from_meta(name: str, meta: dict[str, Any]) -> FieldInfo:
    """Rebuild a FieldInfo from the metadata stored on a pydantic field."""
    return FieldInfo(
        name=name,
        label=meta["label"],
        help=meta["help"],
        kind=FieldKind(meta["kind"]),
        required=meta["required"],
        choices=tuple(Choice(value=value, label=label) for value, label in meta["choices"]),
        default=meta["default"],
        format_hint=meta["format_hint"],
        value_type=meta["value_type"],
        extra=meta["extra"],
        fixed=meta["fixed"],
        example=meta["example"],
    )
