"""Check and normalise field values, with messages a trader can act on that name the field.

Settings typed in Slack are trimmed; credential values are judged and kept exactly as the secret store holds
them (a trailing space can be part of a password), so only an empty credential counts as missing.
"""

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
# ASCII digits and fullmatch only: `\d` accepts other scripts' digits and `$` a trailing newline.
_HHMMSS = re.compile(r"([0-9]{1,2}):([0-9]{2}):([0-9]{2})")
# QuantConnect documents six digits in the third group; real OANDA accounts carry seven or eight.
_OANDA_ACCOUNT = re.compile(r"[0-9]{3}-[0-9]{3}-[0-9]{6,8}-[0-9]{3}")
_YEAR = re.compile(r"[0-9]{4}")
_WHOLE_NUMBER = re.compile(r"[0-9]+")


def _time_of_day(text: str) -> str | None:
    match = _HHMMSS.fullmatch(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _oanda_account(text: str) -> str | None:
    return text if _OANDA_ACCOUNT.fullmatch(text) else None


def _year(text: str) -> str | None:
    if not _YEAR.fullmatch(text):
        return None
    return text if 1900 <= int(text) <= dt.date.today().year else None


# format_hint -> (normaliser returning None when the text does not fit, example shown in messages)
FORMATS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "hh:mm:ss": (_time_of_day, "21:00:00"),
    "###-###-######-###": (_oanda_account, "001-001-123456-001"),
    "YYYY": (_year, "1985"),
}


def _text(info: FieldInfo, raw: object) -> str:
    if isinstance(raw, SecretStr):
        raw = raw.get_secret_value()
    text = str(raw)
    # A credential is sent byte for byte as stored; only what a person typed into Slack is trimmed.
    return text if info.is_credential else text.strip()


def _is_blank(info: FieldInfo, raw: object) -> bool:
    return raw is None or _text(info, raw) == ""


def _where(info: FieldInfo) -> str:
    # Credentials are fixed in the secret store, so the trader needs to know where to look.
    return f"{info.label} in the credential profile" if info.is_credential else info.label


def _edge_space_note(info: FieldInfo, text: str) -> str:
    # Says what is wrong with a stored credential without showing it: the commonest cause is a stray space.
    if info.is_credential and text != text.strip():
        return (
            " The stored value begins or ends with a space, tab or line break; credentials are used exactly"
            " as stored."
        )
    return ""


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
        word = _text(info, raw).lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{_where(info)} must be true or false.")
    text = _text(info, raw)
    if info.choices:
        by_lower = {choice.value.lower(): choice.value for choice in info.choices}
        if text.lower() not in by_lower:
            raise ValueError(f"{_where(info)} must be one of: {', '.join(info.choice_values())}.")
        text = by_lower[text.lower()]
    if info.format_hint in FORMATS:
        normalise, example = FORMATS[info.format_hint]
        normalised = normalise(text)
        if normalised is None:
            raise ValueError(
                f"{_where(info)} must look like {example} ({info.format_hint})."
                + _edge_space_note(info, text)
            )
        text = normalised
    if info.value_type == "int":
        if isinstance(raw, bool) or not _WHOLE_NUMBER.fullmatch(text):
            raise ValueError(f"{_where(info)} must be a whole number." + _edge_space_note(info, text))
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
        if _is_blank(info, value):
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
