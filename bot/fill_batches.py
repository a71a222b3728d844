"""Which orders of a read are new to report, and where the cursor goes next. Pure functions only.

The cursor says that every order below `next_index` was read at least once, and which of those were not final
yet (`open_orders`, [index, order id]). An order is reported once, when it is first seen final: a fill that
arrives in one read is reported then; an order seen open is read again until it is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.quantconnect.orders import PAGE_SIZE, LiveOrder
from bot.store.fills import FillCursor

# Open orders followed per deployment; beyond this the oldest are let go (and the thread says so).
MAX_OPEN_ORDERS = 100
# How far below `next_index` an open order may sit and still be read again (a few pages a pass at most).
MAX_OPEN_SPAN = 2 * PAGE_SIZE

OpenOrder = tuple[int, int | None]


@dataclass(frozen=True)
class ReadPlan:
    """Where the next read starts, and the open orders let go because they sit too far back."""

    start: int
    dropped: tuple[OpenOrder, ...]


@dataclass(frozen=True)
class FillBatch:
    """The outcome of one read: orders to report (index order), the cursor's new place, orders let go."""

    orders: tuple[LiveOrder, ...]
    next_index: int
    open_orders: tuple[OpenOrder, ...]
    dropped: tuple[OpenOrder, ...]

    @property
    def changed(self) -> bool:
        """Whether anything is to be said (and the cursor moved with it)."""
        return bool(self.orders or self.dropped)


def plan_read(cursor: FillCursor) -> ReadPlan:
    """Read from the oldest open order still followed, else from the first order never read."""
    floor = cursor.next_index - MAX_OPEN_SPAN
    kept = [pair for pair in cursor.open_orders if pair[0] >= floor]
    dropped = tuple(pair for pair in cursor.open_orders if pair[0] < floor)
    start = min([index for index, _ in kept], default=cursor.next_index)
    return ReadPlan(start=min(start, cursor.next_index), dropped=dropped)


def next_batch(cursor: FillCursor, plan: ReadPlan, orders: Sequence[LiveOrder]) -> FillBatch:
    """The batch of a read of `orders`, contiguous from `plan.start`."""
    still_open = {index: order_id for index, order_id in cursor.open_orders}
    for index, _ in plan.dropped:
        still_open.pop(index, None)
    report: list[LiveOrder] = []
    open_now: list[OpenOrder] = []
    for offset, order in enumerate(orders):
        index = plan.start + offset
        if index < cursor.next_index and index not in still_open:
            continue  # read before and already final: reported then
        still_open.pop(index, None)
        if order.is_final:
            report.append(order)
        else:
            open_now.append((index, order.id))
    read_end = plan.start + len(orders)
    # Open orders the read did not reach (a shorter snapshot than before) stay followed.
    open_now = sorted([*still_open.items(), *open_now])
    dropped = list(plan.dropped)
    if len(open_now) > MAX_OPEN_ORDERS:
        dropped += open_now[: len(open_now) - MAX_OPEN_ORDERS]
        open_now = open_now[len(open_now) - MAX_OPEN_ORDERS :]
    return FillBatch(
        orders=tuple(report),
        next_index=max(cursor.next_index, read_end),
        open_orders=tuple(open_now),
        dropped=tuple(dropped),
    )
