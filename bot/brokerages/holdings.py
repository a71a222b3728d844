"""Starting holdings and cash: typed items, a one-line-per-entry text format, parsing and formatting."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from bot.brokerages.errors import FieldErrors

HOLDINGS_FIELD = "holdings"
CASH_FIELD = "cash"

HOLDINGS_FORMAT_HELP = (
    "One per line: SYMBOL QUANTITY AVERAGE_PRICE [SYMBOL_ID], e.g. SPY 100 450.25 SPY R735QTJ8XC9X. "
    "Negative quantity = short."
)
CASH_FORMAT_HELP = "One per line: AMOUNT CURRENCY, e.g. 10000 USD or 0.5 BTC."

_CURRENCY = re.compile(r"^[A-Za-z0-9]{2,10}$")
_SYMBOL = re.compile(r"^[A-Za-z0-9._/\-^=]{1,40}$")


class BrokerageHolding(BaseModel):
    """A position the algorithm starts with."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    symbol_id: str | None = Field(default=None, alias="symbolId")
    symbol: str
    quantity: float
    average_price: float = Field(alias="averagePrice")

    def to_body(self) -> dict[str, str | float]:
        """The `live/create` shape; symbolId only when known."""
        return self.model_dump(by_alias=True, exclude_none=True)


class CashAmount(BaseModel):
    """A cash balance the algorithm starts with."""

    model_config = ConfigDict(frozen=True)

    amount: float
    currency: str

    def to_body(self) -> dict[str, str | float]:
        """The `live/create` shape."""
        return self.model_dump()


def _number(text: str) -> float | None:
    # Traders paste amounts with thousands separators ("10,000"); those are not decimal commas here.
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _lines(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def _parse_holding(line: str) -> BrokerageHolding:
    parts = line.split(maxsplit=3)
    if len(parts) < 3:
        raise ValueError(f'"{line}" needs SYMBOL QUANTITY AVERAGE_PRICE, e.g. SPY 100 450.25.')
    symbol, quantity_text, price_text = parts[:3]
    if not _SYMBOL.match(symbol):
        raise ValueError(f'symbol "{symbol}" is not a ticker.')
    quantity = _number(quantity_text)
    if quantity is None:
        raise ValueError(f'quantity "{quantity_text}" is not a number.')
    if quantity == 0:
        raise ValueError(f"quantity of {symbol} is zero; leave the line out instead.")
    price = _number(price_text)
    if price is None:
        raise ValueError(f'average price "{price_text}" is not a number.')
    if price < 0:
        raise ValueError(f'average price "{price_text}" cannot be negative.')
    symbol_id = parts[3].strip() if len(parts) == 4 else None
    return BrokerageHolding(
        symbol_id=symbol_id, symbol=symbol.upper(), quantity=quantity, average_price=price
    )


def _parse_cash(line: str) -> CashAmount:
    parts = line.split()
    if len(parts) != 2:
        raise ValueError(f'"{line}" needs AMOUNT CURRENCY, e.g. 10000 USD.')
    amount_text, currency = parts
    if _number(amount_text) is None and _number(currency) is not None:
        # "USD 10000" is a common way to write it; accept either order.
        amount_text, currency = currency, amount_text
    amount = _number(amount_text)
    if amount is None:
        raise ValueError(f'amount "{amount_text}" is not a number.')
    if not _CURRENCY.match(currency):
        raise ValueError(f'currency "{currency}" is not a currency code like USD or BTC.')
    return CashAmount(amount=amount, currency=currency.upper())


def parse_holdings(text: str) -> list[BrokerageHolding]:
    """Parse one holding per line (blank lines ignored); FieldErrors under `holdings` lists bad lines."""
    holdings: list[BrokerageHolding] = []
    problems: list[str] = []
    for number, line in _lines(text):
        try:
            holdings.append(_parse_holding(line))
        except ValueError as exc:
            problems.append(f"Line {number}: {exc}")
    if problems:
        raise FieldErrors.single(HOLDINGS_FIELD, "Holdings: " + " ".join(problems))
    return holdings


def parse_cash(text: str) -> list[CashAmount]:
    """Parse one cash amount per line (blank lines ignored); FieldErrors under `cash` lists bad lines."""
    amounts: list[CashAmount] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _lines(text):
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
