"""The orders of a live algorithm as `live/orders/read` returns them (QuantConnect's `Order` schema).

`live/orders/read` takes `{projectId, start, end}` (indexes into the algorithm's order list, end - start at
most 1,000) and answers `{orders, length}`, or a LoadingResponse (`status: loading`) while QuantConnect
prepares the snapshot, which it refreshes about every 10 minutes. Every field is optional here: one odd
order must not stop the following of all the others.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from bot.quantconnect.models import QCModel

# Most orders one live/orders/read may return (QuantConnect: end - start <= 1,000).
PAGE_SIZE = 1000

# The OpenAPI file's enums (Order.type, Order.status, Order.direction).
ORDER_TYPES = {
    0: "Market",
    1: "Limit",
    2: "Stop market",
    3: "Stop limit",
    4: "Market on open",
    5: "Market on close",
    6: "Option exercise",
    7: "Limit if touched",
    8: "Combo market",
    9: "Combo limit",
    10: "Combo leg limit",
    11: "Trailing stop",
}
ORDER_STATUSES = {
    0: "New",
    1: "Submitted",
    2: "Partially filled",
    3: "Filled",
    5: "Canceled",
    6: "None",
    7: "Invalid",
    8: "Cancel pending",
    9: "Update submitted",
}
FILLED = 3
# An order in one of these will not change again: it is reported once, then forgotten.
FINAL_STATUSES = frozenset({3, 5, 7})
_SIDES = {0: "Buy", 1: "Sell", 2: "Hold"}


class OrderSymbol(QCModel):
    """The `Symbol` of an order: ticker (`value`), security id and ticker at IPO."""

    value: str | None = None
    id: str | None = None
    permtick: str | None = None


class LiveOrder(QCModel):
    """One order of a live algorithm (the fields the thread shows)."""

    id: int | None = None
    symbol: OrderSymbol | None = None
    quantity: float = 0.0
    price: float | None = None
    price_currency: str | None = None
    type: int | None = None
    status: int | None = None
    direction: int | None = None

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, value: Any) -> Any:
        # Some QuantConnect answers carry the symbol as a plain ticker string.
        return {"value": value} if isinstance(value, str) else value

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return 0.0 if value is None else value

    @property
    def is_final(self) -> bool:
        """Filled, canceled or invalid: it will not change again."""
        return self.status in FINAL_STATUSES

    @property
    def ticker(self) -> str:
        """The symbol as traders read it."""
        symbol = self.symbol
        if symbol is None:
            return "?"
        return symbol.value or symbol.permtick or symbol.id or "?"

    @property
    def side(self) -> str:
        """Buy or Sell (from the direction, else the sign of the quantity)."""
        if self.direction in _SIDES:
            return _SIDES[self.direction]  # type: ignore[index]
        return "Sell" if self.quantity < 0 else "Buy"

    @property
    def type_name(self) -> str:
        """The order type in words."""
        return ORDER_TYPES.get(self.type if self.type is not None else -1, f"type {self.type}")

    @property
    def status_name(self) -> str:
        """The order status in words."""
        return ORDER_STATUSES.get(self.status if self.status is not None else -1, f"status {self.status}")


class LiveOrdersPage(QCModel):
    """One answer of live/orders/read: orders from `start` on, or `loading` while the snapshot is prepared."""

    orders: tuple[LiveOrder, ...] = ()
    loading: bool = False
