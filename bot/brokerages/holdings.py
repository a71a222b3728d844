"""Starting holdings and cash: typed items, a one-line-per-entry text format, parsing and formatting."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.brokerages.errors import FieldErrors
from bot.brokerages.symbol_id import normalize_symbol_id
from bot.numbers import MAX_AMOUNT, parse_amount

HOLDINGS_FIELD = "holdings"
CASH_FIELD = "cash"

HOLDINGS_FORMAT_HELP = (
    "One per line: SYMBOL QUANTITY AVERAGE_PRICE [SYMBOL_ID], e.g. SPY 100 450.25 SPY R735QTJ8XC9X. "
    "Negative quantity = short."
)
CASH_FORMAT_HELP = "One per line: AMOUNT CURRENCY, e.g. 10000 USD or 0.5 BTC."
# Far more lines than any starting portfolio has; a pasted file is refused instead of being carried along.
MAX_LINES = 200
_LIMIT_HELP = f"at most {MAX_AMOUNT:,}"
_QUANTITY_HELP = f"a number (digits 0-9 like 100, or -0.5 for a short position; {_LIMIT_HELP} in size)"
_PRICE_HELP = f"a number (digits 0-9 like 450.25; {_LIMIT_HELP})"

_CURRENCY = re.compile(r"^[A-Za-z0-9]{2,10}$")
_SYMBOL = re.compile(r"^[A-Za-z0-9._/\-^=]{1,40}$")


class BrokerageHolding(BaseModel):
    """A position the algorithm starts with."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    symbol_id: str | None = Field(default=None, alias="symbolId")
    symbol: str
    quantity: float
    average_price: float = Field(alias="averagePrice")

    # The same bounds as the text format, so that a stored request re-validated before live/create holds too.
    @field_validator("symbol_id")
    @classmethod
    def _symbol_id_shape(cls, value: str | None) -> str | None:
        return None if value is None else normalize_symbol_id(value)

    @field_validator("quantity")
    @classmethod
    def _quantity_bounds(cls, value: float) -> float:
        if not _bounded(value) or value == 0:
            raise ValueError(f"quantity must be non-zero and at most {MAX_AMOUNT:,} in size")
        return value

    @field_validator("average_price")
    @classmethod
    def _price_bounds(cls, value: float) -> float:
        if not _bounded(value) or value < 0:
            raise ValueError(f"average price must be between 0 and {MAX_AMOUNT:,}")
        return value

    def to_body(self) -> dict[str, str | float]:
        """The `live/create` shape; symbolId only when known."""
        return self.model_dump(by_alias=True, exclude_none=True)


class CashAmount(BaseModel):
    """A cash balance the algorithm starts with."""

    model_config = ConfigDict(frozen=True)

    amount: float
    currency: str

    @field_validator("amount")
    @classmethod
    def _amount_bounds(cls, value: float) -> float:
        if not _bounded(value) or value < 0:
            raise ValueError(f"amount must be between 0 and {MAX_AMOUNT:,}")
        return value

    def to_body(self) -> dict[str, str | float]:
        """The `live/create` shape."""
        return self.model_dump()


def _bounded(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= MAX_AMOUNT


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _lines(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _parse_holding(line: str) -> BrokerageHolding:
    parts = line.split(maxsplit=3)
    if len(parts) < 3:
        raise ValueError(f'"{_shown(line)}" needs SYMBOL QUANTITY AVERAGE_PRICE, e.g. SPY 100 450.25.')
    symbol, quantity_text, price_text = parts[:3]
    if not _SYMBOL.match(symbol):
        raise ValueError(f'symbol "{_shown(symbol)}" is not a ticker (letters, digits and . _ / - ^ =).')
    # QuantConnect's Holding.Quantity is negative for a short position (Lean's PositionSide.Short).
    quantity = parse_amount(quantity_text)
    if quantity is None:
        raise ValueError(f'quantity "{_shown(quantity_text)}" is not {_QUANTITY_HELP}.')
    if quantity == 0:
        raise ValueError(f"quantity of {symbol} is zero; leave the line out instead.")
    price = parse_amount(price_text)
    if price is None:
        raise ValueError(f'average price "{_shown(price_text)}" is not {_PRICE_HELP}.')
    if price < 0:
        raise ValueError(f'average price "{_shown(price_text)}" cannot be negative.')
    symbol_id = normalize_symbol_id(parts[3]) if len(parts) == 4 else None
    return BrokerageHolding(
        symbol_id=symbol_id, symbol=symbol.upper(), quantity=quantity, average_price=price
    )


def _parse_cash(line: str) -> CashAmount:
    parts = line.split()
    if len(parts) != 2:
        raise ValueError(f'"{_shown(line)}" needs AMOUNT CURRENCY, e.g. 10000 USD.')
    amount_text, currency = parts
    if parse_amount(amount_text) is None and parse_amount(currency) is not None:
        # "USD 10000" is a common way to write it; accept either order.
        amount_text, currency = currency, amount_text
    amount = parse_amount(amount_text)
    if amount is None:
        raise ValueError(f'amount "{_shown(amount_text)}" is not {_PRICE_HELP}.')
    if amount < 0:
        # A starting balance is what the account holds; a debt is not cash the algorithm starts with.
        raise ValueError(
            f'amount "{_shown(amount_text)}" cannot be negative: give the cash the account holds.'
        )
    if not _CURRENCY.match(currency):
        raise ValueError(f'currency "{_shown(currency)}" is not a currency code like USD or BTC.')
    return CashAmount(amount=amount, currency=currency.upper())


def _numbered_lines(text: str, field: str, label: str) -> list[tuple[int, str]]:
    lines = list(_lines(text))
    if len(lines) > MAX_LINES:
        raise FieldErrors.single(field, f"{label}: {len(lines)} lines; at most {MAX_LINES} are accepted.")
    return lines


def parse_holdings(text: str) -> list[BrokerageHolding]:
    """Parse one holding per line (blank lines ignored); FieldErrors under `holdings` lists bad lines."""
    holdings: list[BrokerageHolding] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _numbered_lines(text, HOLDINGS_FIELD, "Holdings"):
        try:
            holding = _parse_holding(line)
        except ValueError as exc:
            problems.append(f"Line {number}: {exc}")
            continue
        # Two lines for one symbol would leave QuantConnect to pick one of them; say which instead.
        key = holding.symbol_id or holding.symbol
        if key in seen:
            problems.append(
                f"Line {number}: {holding.symbol} is already given on line {seen[key]}; "
                "give each position once, with its total quantity."
            )
            continue
        seen[key] = number
        holdings.append(holding)
    if problems:
        raise FieldErrors.single(HOLDINGS_FIELD, "Holdings: " + " ".join(problems))
    return holdings


def parse_cash(text: str) -> list[CashAmount]:
    """Parse one cash amount per line (blank lines ignored); FieldErrors under `cash` lists bad lines."""
    amounts: list[CashAmount] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _numbered_lines(text, CASH_FIELD, "Cash"):
        try:
            amount = _parse_cash(line)
        except ValueError as exc:
            problems.append(f"Line {number}: {exc}")
            continue
        if amount.currency in seen:
            problems.append(
                f"Line {number}: {amount.currency} is already given on line {seen[amount.currency]}."
            )
            continue
        seen[amount.currency] = number
        amounts.append(amount)
    if problems:
        raise FieldErrors.single(CASH_FIELD, "Cash: " + " ".join(problems))
    return amounts


def format_holdings(holdings: Iterable[BrokerageHolding]) -> str:
    """Show holdings in the format parse_holdings reads back."""
    lines = []
    for holding in holdings:
        parts = [holding.symbol, _show(holding.quantity), _show(holding.average_price)]
        if holding.symbol_id:
            parts.append(holding.symbol_id)
        lines.append(" ".join(parts))
    return "\n".join(lines)


def format_cash(amounts: Iterable[CashAmount]) -> str:
    """Show cash amounts in the format parse_cash reads back."""
    return "\n".join(f"{_show(amount.amount)} {amount.currency}" for amount in amounts)
