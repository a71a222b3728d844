"""The starting book a deploy modal is prefilled with: holdings and cash, and where they came from.

Pure values: `StartingBook` is what the modal shows, `BookSource` is what the modal carries in its
private_metadata and the request stores, so the card can say where the numbers came from and whether the
person edited them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support
from bot.brokerages.holdings import BrokerageHolding, CashAmount, format_cash, format_holdings


def takes_book(model: type[BrokerageSettings]) -> bool:
    """Whether the brokerage's settings take starting holdings or cash at all."""
    return model.holdings_support is not Support.NONE or model.cash_support is not Support.NONE


class BookOrigin(StrEnum):
    """Where prefilled holdings and cash came from."""

    QUANTCONNECT = "quantconnect"
    REQUEST = "request"


@dataclass(frozen=True)
class BookSource:
    """Where a request's holdings and cash came from, and whether the person changed them before sending."""

    origin: BookOrigin
    as_of: datetime | None = None
    request_id: str | None = None
    edited: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (stored with the request)."""
        data: dict[str, Any] = {"origin": self.origin.value, "edited": self.edited}
        if self.as_of is not None:
            data["as_of"] = self.as_of.isoformat()
        if self.request_id is not None:
            data["request_id"] = self.request_id
        return data

    @classmethod
    def from_json(cls, data: Any) -> BookSource | None:
        """Read it back; anything unreadable yields None (the card then says nothing about a source)."""
        if not isinstance(data, Mapping):
            return None
        try:
            origin = BookOrigin(str(data.get("origin")))
            as_of = datetime.fromisoformat(str(data["as_of"])) if data.get("as_of") else None
        except ValueError:
            return None
        request_id = data.get("request_id")
        return cls(
            origin=origin,
            as_of=as_of,
            request_id=str(request_id)[:32] if request_id else None,
            edited=bool(data.get("edited")),
        )


@dataclass(frozen=True)
class StartingBook:
    """Holdings and cash to prefill, their source, or why nothing could be prefilled (`note`)."""

    holdings: tuple[BrokerageHolding, ...] = ()
    cash: tuple[CashAmount, ...] = ()
    source: BookSource | None = None
    note: str | None = None

    @property
    def holdings_text(self) -> str:
        """The holdings in the modal's one-per-line format."""
        return format_holdings(self.holdings)

    @property
    def cash_text(self) -> str:
        """The cash balances in the modal's one-per-line format."""
        return format_cash(self.cash)

    def digest(self) -> str:
        """A short fingerprint of what was prefilled, to tell at submission whether the person edited it."""
        return book_digest(self.holdings_text, self.cash_text)


def book_digest(holdings_text: str | None, cash_text: str | None) -> str:
    """The fingerprint of holdings and cash texts, blank lines and surrounding spaces ignored."""
    normalized = _normalized(holdings_text) + "\n--\n" + _normalized(cash_text)
    return hashlib.sha256(normalized.encode()).hexdigest()[:16]


def _normalized(text: str | None) -> str:
    return "\n".join(" ".join(line.split()) for line in (text or "").splitlines() if line.strip())


def holdings_of(items: Iterable[Mapping[str, Any]]) -> tuple[BrokerageHolding, ...]:
    """Stored `live/create` holdings as typed items; an item that no longer validates is left out."""
    out = []
    for item in items:
        try:
            out.append(BrokerageHolding.model_validate(item))
        except ValidationError:
            continue
    return tuple(out)


def cash_of(items: Iterable[Mapping[str, Any]]) -> tuple[CashAmount, ...]:
    """Stored `live/create` cash as typed items; an item that no longer validates is left out."""
    out = []
    for item in items:
        try:
            out.append(CashAmount.model_validate(item))
        except ValidationError:
            continue
    return tuple(out)
