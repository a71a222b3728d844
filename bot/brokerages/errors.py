"""Errors raised while validating brokerage settings, credentials, holdings and cash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.errors import BotError


class FieldErrors(BotError):
    """One plain-language message per invalid field, keyed by the QuantConnect field name."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("\n".join(self.errors.values()) or "The deployment request is invalid.")

    @classmethod
    def single(cls, field: str, message: str) -> FieldErrors:
        """An error about one field."""
        return cls({field: message})


class UnknownBrokerage(BotError):
    """A brokerage key or id that none of the settings models answers to."""

    def __init__(self, asked: str, valid: Iterable[str]) -> None:
        self.asked = asked
        self.valid: tuple[str, ...] = tuple(valid)
        super().__init__(f'Unknown brokerage "{asked}". Choose one of: {", ".join(self.valid)}.')
