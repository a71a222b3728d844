"""The live portfolio snapshot of `live/portfolio/read`: holdings keyed by symbol id, cash keyed by currency.

QuantConnect's OpenAPI file (`LivePortfolioResponse`, `Portfolio`, `Holding`, `Cash`) names the keys in lower
case (`portfolio.holdings`, `portfolio.cash`); Lean's older `Api.Portfolio` serialized them as `Holdings` and
`Cash`. Both are read. A holding carries `a` (average price) and `q` (quantity); a cash entry `amount` and
`symbol`. The snapshot is refreshed by QuantConnect about every 10 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PortfolioHolding(BaseModel):
    """One position of a live algorithm: symbol id, quantity and average price."""

    model_config = ConfigDict(frozen=True)

    symbol_id: str
    quantity: float
    average_price: float


class PortfolioCash(BaseModel):
    """One cash balance of a live algorithm."""

    model_config = ConfigDict(frozen=True)

    currency: str
    amount: float


class LivePortfolio(BaseModel):
    """What `live/portfolio/read` answered, with the time the bot read it."""

    model_config = ConfigDict(frozen=True)

    holdings: tuple[PortfolioHolding, ...] = ()
    cash: tuple[PortfolioCash, ...] = ()
    read_at: datetime
    unreadable: int = Field(default=0, description="entries left out because a number was missing")

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], read_at: datetime) -> LivePortfolio:
        """Parse the response; entries without readable numbers are counted in `unreadable`, not guessed."""
        portfolio = _key(payload, "portfolio")
        portfolio = portfolio if isinstance(portfolio, Mapping) else {}
        holdings: list[PortfolioHolding] = []
        cash: list[PortfolioCash] = []
        unreadable = 0
        for symbol_id, item in _entries(_key(portfolio, "holdings")):
            quantity, price = _number(_key(item, "q")), _number(_key(item, "a"))
            if quantity is None or price is None:
                unreadable += 1
                continue
            holdings.append(PortfolioHolding(symbol_id=symbol_id, quantity=quantity, average_price=price))
        for currency, item in _entries(_key(portfolio, "cash")):
            amount = _number(_key(item, "amount"))
            if amount is None:
                unreadable += 1
                continue
            symbol = _key(item, "symbol")
            cash.append(PortfolioCash(currency=str(symbol or currency), amount=amount))
        return cls(holdings=tuple(holdings), cash=tuple(cash), read_at=read_at, unreadable=unreadable)


def _key(mapping: Any, name: str) -> Any:
    """A key in QuantConnect's lower-case spelling or Lean's capitalized one."""
    if not isinstance(mapping, Mapping):
        return None
    return mapping.get(name, mapping.get(name[:1].upper() + name[1:]))


def _entries(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, Mapping):
        return []
    return [(str(key), item) for key, item in value.items() if isinstance(item, Mapping)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None
