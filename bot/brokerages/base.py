"""Base of every brokerage settings model: field metadata, validation and the brokerage block of the body."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from bot.brokerages.errors import FieldErrors
from bot.brokerages.fields import META_KEY, FieldInfo, FieldKind, Support, field_info_from_meta
from bot.brokerages.validation import Value, clean_fields

MASK = "********"
MAX_DISPLAY_NAME = 75  # becomes the text of a Slack select option


@functools.cache
def _fields_of(model: type[BrokerageSettings]) -> tuple[FieldInfo, ...]:
    infos: list[FieldInfo] = []
    for field in model.model_fields.values():
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or META_KEY not in extra or field.alias is None:
            raise TypeError(
                f"{model.__name__} field {field.alias} must be declared with setting() or credential()"
            )
        infos.append(field_info_from_meta(field.alias, extra[META_KEY]))  # type: ignore[arg-type]
    return tuple(infos)


class BrokerageSettings(BaseModel):
    """One brokerage block of `live/create`: aliases are QuantConnect names, credentials are SecretStr."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    key: ClassVar[str]
    brokerage_id: ClassVar[str]
    exchange_name: ClassVar[str | None] = None
    display_name: ClassVar[str]
    cash_support: ClassVar[Support] = Support.NONE
    holdings_support: ClassVar[Support] = Support.NONE
    # The model's own paper marker: always, or when `field` equals `value`. Whether a request is paper is
    # decided from the body to be sent (bot.brokerages.classification), which also checks the endpoints.
    always_paper: ClassVar[bool] = False
    paper_when: ClassVar[tuple[str, str] | None] = None
    # Hosts of the venue's paper/testnet endpoints; a paper body may point at these and nowhere else.
    paper_hosts: ClassVar[frozenset[str]] = frozenset()
    # Settings of a data provider only (Polygon, Alpaca's data feed): never the brokerage block, and their
    # credentials sit in the deployment's profile beside the brokerage's.
    data_provider_only: ClassVar[bool] = False

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if len(getattr(cls, "display_name", "")) > MAX_DISPLAY_NAME:
            raise TypeError(f"{cls.__name__}.display_name is longer than {MAX_DISPLAY_NAME} characters")
        expected = {"str": (str,), "int": (int,), "bool": (bool,)}
        for info, field in zip(cls.fields(), cls.model_fields.values(), strict=True):
            annotation = field.annotation
            allowed = (SecretStr,) if info.is_credential else expected[info.value_type]
            if not any(kind in getattr(annotation, "__args__", (annotation,)) for kind in allowed):
                raise TypeError(f"{cls.__name__} field {info.name} is declared {annotation}, not {allowed}")

    @classmethod
    def fields(cls) -> tuple[FieldInfo, ...]:
        """Every field in modal order, credentials included."""
        return _fields_of(cls)

    @classmethod
    def field(cls, name: str) -> FieldInfo:
        """The field with this QuantConnect name."""
        for info in cls.fields():
            if info.name == name:
                return info
        raise KeyError(name)

    @classmethod
    def credential_fields(cls) -> tuple[FieldInfo, ...]:
        """Fields resolved from the credential profile."""
        return tuple(info for info in cls.fields() if info.kind is FieldKind.CREDENTIAL)

    @classmethod
    def setting_fields(cls) -> tuple[FieldInfo, ...]:
        """Settings the deploy modal asks for (fixed constants excluded)."""
        return tuple(info for info in cls.fields() if info.kind is FieldKind.SETTING and not info.fixed)

    @classmethod
    def fixed_fields(cls) -> tuple[FieldInfo, ...]:
        """Settings whose value is fixed per model and filled in by the builder."""
        return tuple(info for info in cls.fields() if info.fixed)

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Clean the modal settings (defaults applied, form strings converted); raise FieldErrors."""
        return clean_fields(cls.setting_fields(), raw)

    @classmethod
    def validate_credentials(cls, raw: Mapping[str, SecretStr | str]) -> dict[str, SecretStr]:
        """Check a credential profile has every required credential in the right shape; raise FieldErrors."""
        cleaned = clean_fields(cls.credential_fields(), raw, apply_defaults=False)
        return {name: SecretStr(str(value)) for name, value in cleaned.items()}

    @classmethod
    def fixed_values(cls, settings: Mapping[str, Any]) -> dict[str, Value]:
        """The constants the builder adds; a model may derive them from the chosen settings."""
        return {info.name: info.default for info in cls.fixed_fields() if info.default is not None}

    @classmethod
    def cross_field_errors(
        cls, settings: Mapping[str, Any], credentials: Mapping[str, SecretStr]
    ) -> dict[str, str]:
        """Rules that involve several fields at once; empty when the combination is fine."""
        return {}

    @classmethod
    def is_paper(cls, settings: Mapping[str, Any]) -> bool:
        """Whether these settings trade paper money, decided without credentials."""
        if cls.always_paper:
            return True
        if cls.paper_when is None:
            return False
        name, paper_value = cls.paper_when
        chosen = settings.get(name)
        if chosen is None or str(chosen).strip() == "":
            chosen = cls.field(name).default
        return str(chosen).strip().lower() == paper_value.lower()

    @classmethod
    def marks_paper(cls, sent: Mapping[str, Any]) -> bool:
        """Whether a brokerage block as sent carries the model's paper marker: exact value, no defaults."""
        if cls.always_paper:
            return True
        if cls.paper_when is None:
            return False
        name, paper_value = cls.paper_when
        return sent.get(name) == paper_value

    @classmethod
    def create(cls, settings: Mapping[str, Any], credentials: Mapping[str, SecretStr | str]) -> Self:
        """Validate modal settings and profile credentials together and return the model."""
        errors: dict[str, str] = {}
        clean_settings: dict[str, Any] = {}
        clean_credentials: dict[str, SecretStr] = {}
        try:
            clean_settings = cls.validate_settings(settings)
        except FieldErrors as exc:
            errors.update(exc.errors)
        try:
            clean_credentials = cls.validate_credentials(credentials)
        except FieldErrors as exc:
            errors.update(exc.errors)
        if not errors:
            errors.update(cls.cross_field_errors(clean_settings, clean_credentials))
        if errors:
            raise FieldErrors(errors)
        return cls.model_validate({**clean_settings, **clean_credentials})

    @model_validator(mode="before")
    @classmethod
    def _check_all_fields(cls, data: Any) -> Any:
        # Direct model_validate() gets the same plain-language checks as create(); FieldErrors is not a
        # ValueError, so pydantic lets it through unchanged.
        if not isinstance(data, Mapping):
            return data
        by_attribute = {field.alias: name for name, field in cls.model_fields.items()}
        raw = {alias: data.get(alias, data.get(attribute)) for alias, attribute in by_attribute.items()}
        settings = {info.name: raw[info.name] for info in cls.setting_fields()}
        cleaned = clean_fields(cls.fields(), {**raw, **cls.fixed_values(settings)})
        return {
            name: SecretStr(str(value)) if cls.field(name).is_credential else value
            for name, value in cleaned.items()
        }

    def settings_values(self) -> dict[str, Value]:
        """Every setting that is set, fixed constants included, keyed by QuantConnect name."""
        values = self.model_dump(by_alias=True, exclude_none=True)
        return {
            info.name: values[info.name]
            for info in self.fields()
            if not info.is_credential and info.name in values
        }

    def brokerage_body(self, *, reveal: bool) -> dict[str, Any]:
        """The brokerage object of `live/create` without holdings/cash; credentials masked unless `reveal`."""
        body: dict[str, Any] = {"id": self.brokerage_id}
        for attribute, model_field in type(self).model_fields.items():
            value = getattr(self, attribute)
            if value is None:
                continue
            info = self.field(model_field.alias or attribute)
            if isinstance(value, SecretStr):
                value = _reveal(info, value) if reveal else MASK
            body[info.name] = value
        return body

    def is_paper_trading(self) -> bool:
        """Whether this configured brokerage trades paper money."""
        return self.is_paper(self.settings_values())


def _reveal(info: FieldInfo, secret: SecretStr) -> str | int:
    text = secret.get_secret_value()
    return int(text) if info.value_type == "int" else text
