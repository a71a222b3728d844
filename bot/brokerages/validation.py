"""Check and normalise field values, with messages a trader can act on that name the field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from bot.brokerages.errors import FieldErrors
from bot.brokerages.fields import FieldInfo

Value = str | int | bool

_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_HHMMSS = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")
# QuantConnect documents six digits in the third group; real OANDA accounts carry seven or eight.
_OANDA_ACCOUNT = re.compile(r"^\d{3}-\d{3}-\d{6,8}-\d{3}$")
_YEAR = re.compile(r"^\d{4}$")


def _time_of_day(text: str) -> str | None:
    match = _HHMMSS.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _oanda_account(text: str) -> str | None:
    return text if _OANDA_ACCOUNT.match(text) else None


def _year(text: str) -> str | None:
    if not _YEAR.match(text):
        return None
    return text if 1900 <= int(text) <= dt.date.today().year else None


# format_hint -> (normaliser returning None when the text does not fit, example shown in messages)
FORMATS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "hh:mm:ss": (_time_of_day, "21:00:00"),
    "###-###-######-###": (_oanda_account, "001-001-123456-001"),
    "YYYY": (_year, "1985"),
}


def _text(raw: object) -> str:
    if isinstance(raw, SecretStr):
        raw = raw.get_secret_value()
    return str(raw).strip()


def _is_blank(raw: object) -> bool:
    return raw is None or _text(raw) == ""


def _where(info: FieldInfo) -> str:
    # Credentials are fixed in the secret store, so the trader needs to know where to look.
    return f"{info.label} in the credential profile" if info.is_credential else info.label


def missing_message(info: FieldInfo) -> str:
    """The message for a required field that was not given."""
    if info.is_credential:
        return f"Credential profile is missing {info.label} ({info.name})."
    return f"{info.label} is required."


def clean_value(info: FieldInfo, raw: object) -> Value:
    """Return the normalised value of one non-blank field, or raise ValueError with a plain message.

    Messages never repeat the value itself: for credentials it is a secret.
    """
    if info.value_type == "bool":
        if isinstance(raw, bool):
            return raw
        word = _text(raw).lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{_where(info)} must be true or false.")
    text = _text(raw)
    if info.choices:
        by_lower = {choice.value.lower(): choice.value for choice in info.choices}
        if text.lower() not in by_lower:
            raise ValueError(f"{_where(info)} must be one of: {', '.join(info.choice_values())}.")
        text = by_lower[text.lower()]
    if info.format_hint in FORMATS:
        normalise, example = FORMATS[info.format_hint]
        normalised = normalise(text)
        if normalised is None:
            raise ValueError(f"{_where(info)} must look like {example} ({info.format_hint}).")
        text = normalised
    if info.value_type == "int":
        if isinstance(raw, bool) or not text.isdigit():
            raise ValueError(f"{_where(info)} must be a whole number.")
        # Credentials stay text so that they can be wrapped in SecretStr; the body builder converts them.
        return text if info.is_credential else int(text)
    return text


def clean_fields(
    infos: Iterable[FieldInfo], raw: Mapping[str, Any], *, apply_defaults: bool = True
) -> dict[str, Value]:
    """Clean the given fields of a mapping keyed by QuantConnect name; blanks become defaults or are left out.

    Keys of `raw` that are not among `infos` are ignored (form state and profiles carry other keys too).
    """
    cleaned: dict[str, Value] = {}
    errors: dict[str, str] = {}
    for info in infos:
        value = raw.get(info.name)
        if _is_blank(value):
            if apply_defaults and info.default is not None:
                cleaned[info.name] = info.default
            elif info.required:
                errors[info.name] = missing_message(info)
            continue
        try:
            cleaned[info.name] = clean_value(info, value)
        except ValueError as exc:
            errors[info.name] = str(exc)
    if errors:
        raise FieldErrors(errors)
    return cleaned
