"""The fake QuantConnect's `live/orders/read`: each project's order list, growing as a test fills orders.

Faithful to the OpenAPI file: the request is checked against `ReadLiveOrdersRequest` (start, end, projectId;
end - start at most 1,000), the answer is a `LiveOrdersResponse` (`orders`, `length`) of `Order` objects, or a
`LoadingResponse` while a test says the snapshot is being prepared. `end` is taken as exclusive
(QuantConnect's page does not say; the bot does not depend on it: it counts what it got).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from tests.fakes.qc_schema import validate_against

FILLED = 3
SUBMITTED = 1
CANCELED = 5
MAX_SPAN = 1000


class OrderRefused(Exception):
    """The request is malformed: the fake answers `success: false` with these errors."""

    def __init__(self, *errors: str) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class FakeLiveOrders:
    """Order lists per project; thread-safe, driven by tests while the bot reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._loading: dict[int, int] = defaultdict(int)

    def add(
        self,
        project_id: int,
        count: int = 1,
        *,
        symbol: str = "SPY",
        quantity: float = 10,
        price: float = 412.5,
        status: int = FILLED,
        order_type: int = 0,
    ) -> list[int]:
        """Append `count` orders (filled market buys by default); returns their indexes."""
        with self._lock:
            orders = self._orders[project_id]
            indexes = []
            for _ in range(count):
                order_id = len(orders) + 1
                orders.append(
                    {
                        "id": order_id,
                        "contingentId": 0,
                        "brokerId": [f"B{order_id}"],
                        "symbol": {"value": symbol, "id": f"{symbol} R735QTJ8XC9X", "permtick": symbol},
                        "price": price,
                        "priceCurrency": "USD",
                        "time": "2026-11-30T14:30:00Z",
                        "quantity": quantity,
                        "type": order_type,
                        "status": status,
                        "tag": "",
                        "securityType": 1,
                        "direction": 0 if quantity >= 0 else 1,
                        "value": price * abs(quantity) if status == FILLED else 0,
                    }
                )
                indexes.append(len(orders) - 1)
            return indexes

    def set_status(self, project_id: int, index: int, status: int) -> None:
        """Move one order on (e.g. Submitted to Filled)."""
        with self._lock:
            order = self._orders[project_id][index]
            order["status"] = status
            if status == FILLED:
                order["value"] = order["price"] * abs(order["quantity"])

    def traded_value(self, project_id: int) -> float:
        """The value of every filled order: what Lean's runtime statistic "Volume" adds up."""
        with self._lock:
            return sum(o["value"] for o in self._orders[project_id] if o["status"] == FILLED)

    def count(self, project_id: int) -> int:
        """How many orders the project has."""
        with self._lock:
            return len(self._orders[project_id])

    def loading(self, project_id: int, times: int = 1) -> None:
        """Answer the next `times` reads with a LoadingResponse."""
        with self._lock:
            self._loading[project_id] += times

    def read(self, body: dict[str, Any]) -> dict[str, Any]:
        """The answer to live/orders/read (without success/errors); OrderRefused for a malformed request."""
        problems = validate_against("ReadLiveOrdersRequest", body)
        if problems:
            raise OrderRefused(*problems)
        start, end, project_id = body["start"], body["end"], body["projectId"]
        if start < 0 or end < start:
            raise OrderRefused("start and end must be indexes with start <= end")
        if end - start > MAX_SPAN:
            raise OrderRefused("end - start must be <= 1,000")
        with self._lock:
            if self._loading[project_id] > 0:
                self._loading[project_id] -= 1
                return {"progress": 0.5, "status": "loading"}
            page = [dict(order) for order in self._orders[project_id][start:end]]
        return {"orders": page, "length": len(page)}
