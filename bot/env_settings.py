"""Settings read from an environment mapping with pydantic-settings: every problem collected, each named by
its variable, never quoting a secret.

A settings model names each field by its variable (`validation_alias`); `read_settings` validates a mapping
(the process environment over `.env`) and raises `ValidationError`, which `problems` turns into one line per
problem, `NAME: what is wrong`. The field types below parse the environment's text with the bot's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseModel)

# Error types: a problem of one variable (its name goes first), or a whole line that names its variables.
_PROBLEM = "setting"
_LINE = "settings"


def problem(message: str) -> PydanticCustomError:
    """A problem of the variable being validated; the line will read `NAME: message`."""
    return PydanticCustomError(_PROBLEM, "{message}", {"message": message})


def problem_line(line: str) -> PydanticCustomError:
    """A problem that names its variables itself (several variables at once)."""
    return PydanticCustomError(_LINE, "{message}", {"message": line})


def problems(error: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem of `model`, `NAME: what is wrong`, each named by its variable."""
    variables = _variables(model)
    lines = []
    for item in error.errors():
        field = next((str(part) for part in reversed(item["loc"]) if isinstance(part, str)), "settings")
        # A default that failed its check is reported under the field's name: name its variable instead.
        name = variables.get(field, field)
        if item["type"] == _LINE:
            lines.append(str(item["msg"]))
        elif item["type"] == "missing":
            lines.append(f"{name}: required, not set")
        else:
            lines.append(f"{name}: {item['msg']}")
    return lines


class EnvSettings(BaseSettings):
    """Base of the bot's settings models: fields named by their variables, values from one mapping.

    The mapping is the only source (see `read_settings`): the secret backends read the same one, so the two
    never disagree about what is set, and a test never picks up a variable of the process running it.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: `read_settings` hands in the environment mapping."""
        return (init_settings,)


def _names(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _variables(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> variable name, nested models included."""
    found: dict[str, str] = {}
    for name, field in model.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            found.update(_variables(nested))
        elif _names(field):
            found[name] = _names(field)[0]
    return found


def env_values(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """The values `model` reads from `environ`, by variable name: stripped, blank meaning not set."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            values[name] = env_values(nested, environ)
            continue
        for variable in _names(field):
            raw = environ.get(variable)
            if raw is not None and raw.strip():
                values[variable] = raw.strip()
                break
    return values


def read_settings(model: type[SettingsT], env: Mapping[str, str], **extra: Any) -> SettingsT:
    """Validate `model` from the mapping `env` (plus `extra` values by field name); raises ValidationError."""
    return model(**env_values(model, env), **extra)


# -- field types: the environment's text in, typed values out, problems in plain words -------------------


def _text(value: Any) -> str:
    return str(value).strip()


def whole_number(minimum: int, maximum: int) -> BeforeValidator:
    """An integer within minimum..maximum (checked on the environment's text, like every type here)."""

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            number = int(value)
        except ValueError:
            raise problem(f"{value!r} is not a whole number") from None
        if not minimum <= number <= maximum:
            raise problem(f"{number} is outside {minimum}..{maximum}")
        return number

    return BeforeValidator(parse)


def number(minimum: float) -> BeforeValidator:
    """A number at least `minimum` (checked on the environment's text; values set in code are trusted)."""

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = float(value)
        except ValueError:
            raise problem(f"{value!r} is not a number") from None
        if parsed < minimum:
            raise problem(f"{parsed} is below the minimum {minimum}")
        return parsed

    return BeforeValidator(parse)


def _flag(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise problem(f"{value!r} is not true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]


def choice(options: Iterable[str], *, upper: bool = False) -> BeforeValidator:
    """One of `options`, compared in upper or lower case."""
    allowed = tuple(options)

    def parse(value: Any) -> Any:
        text = _text(value).upper() if upper else _text(value).lower()
        if text not in allowed:
            raise problem(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return BeforeValidator(parse)


def http_url(value: Any) -> Any:
    """An http(s) URL, ending with a slash."""
    text = _text(value)
    if not re.match(r"^https?://[^\s/]+", text):
        raise problem(f"{text!r} is not an http(s) URL")
    return text if text.endswith("/") else text + "/"


HttpUrl = Annotated[str, BeforeValidator(http_url)]


def token(prefix: str) -> BeforeValidator:
    """A secret that must start with `prefix`; the problem names the prefix, never the value."""

    def parse(value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and text and not text.startswith(prefix):
            raise problem(f"must start with {prefix!r}")
        return value

    return BeforeValidator(parse)


def slack_id(pattern: str, example: str) -> BeforeValidator:
    """One Slack id of the given shape."""
    shape = re.compile(pattern)

    def parse(value: Any) -> Any:
        if isinstance(value, str) and value and not shape.match(value):
            raise problem(f"{value!r} does not look like a Slack id (e.g. {example})")
        return value

    return BeforeValidator(parse)


def slack_ids(pattern: str, example: str) -> BeforeValidator:
    """Comma-separated Slack ids of the given shape, as a set."""
    shape = re.compile(pattern)

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        ids = [part.strip() for part in value.split(",") if part.strip()]
        bad = [i for i in ids if not shape.match(i)]
        if bad:
            raise problem(f"{', '.join(bad)} not a valid Slack id (e.g. {example})")
        return frozenset(ids)

    return BeforeValidator(parse)
