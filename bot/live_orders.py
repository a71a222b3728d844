"""`/qc orders <project> [n]`: the last orders of a running deployment, for whoever may read that request.

Who may read them (bot/policy.py's read policy, `may_read_request`): approvers, and the requester of the
running request. A deployment the bot did not start has no requester here: approvers only. Orders say what a
strategy trades, which `/qc status` (open to requesters) does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import BotError
from bot.numbers import is_ascii_digits
from bot.quantconnect.errors import QuantConnectError
from bot.quantconnect.orders import PAGE_SIZE, LiveOrder
from bot.statuses import RUNNING

if TYPE_CHECKING:
    from bot.live_ops import LiveOps
    from bot.live_report import LiveTarget
    from bot.policy import Policy
    from bot.quantconnect.client import QuantConnectClient
    from bot.store import Store

DEFAULT_COUNT = 20
MAX_COUNT = 100
# Pages of 1,000 orders one answer may read (the newest orders come last, so a long history is paged).
MAX_PAGES = 5
_TRAILING_COUNT = re.compile(r"^(?P<project>.*\S)\s+(?P<count>\S+)$")


class OrdersRefused(BotError):
    """The command cannot be answered as asked: bad arguments, not allowed, not running, QuantConnect down."""


@dataclass(frozen=True)
class OrdersAnswer:
    """The last orders of a project's running deployment, newest last, and how far the read got."""

    target: LiveTarget
    orders: tuple[LiveOrder, ...]
    partial: bool = False


def parse_arguments(text: str) -> tuple[str, int]:
    """(project, n) from `<project> [n]`; a project whose name ends in a number is quoted: "Alpha 2"."""
    stripped = text.strip()
    if stripped[:1] in ("'", '"', "`") and stripped[-1:] == stripped[:1] and len(stripped) > 1:
        return stripped, DEFAULT_COUNT
    match = _TRAILING_COUNT.match(stripped)
    if match is None or not is_ascii_digits(match["count"]):
        return stripped, DEFAULT_COUNT
    count = int(match["count"]) if len(match["count"]) <= 6 else 0
    if not 1 <= count <= MAX_COUNT:
        raise OrdersRefused(f"Ask for 1 to {MAX_COUNT} orders, e.g. `/qc orders Momentum 20`.")
    return match["project"], count


class LiveOrdersQuery:
    """Answers `/qc orders` from live/orders/read, after the read policy."""

    def __init__(self, store: Store, qc: QuantConnectClient, policy: Policy, live_ops: LiveOps) -> None:
        self.store = store
        self.qc = qc
        self.policy = policy
        self.live_ops = live_ops

    def last_orders(self, text: str, user_id: str) -> OrdersAnswer:
        """The last n orders of the project's running deployment; OrdersRefused (or UnknownProject) if not."""
        project, count = parse_arguments(text)
        if not project:
            raise OrdersRefused("Name the project: `/qc orders <project name or id> [n]`.")
        target = self.live_ops.resolve(project)
        request = target.request
        if request is not None:
            decision = self.policy.may_read_request(request, user_id, what="the orders")
        else:
            decision = self.policy.is_approver(
                user_id, action="see the orders of a deployment the bot did not start"
            )
        if not decision:
            raise OrdersRefused(decision.reason)
        try:
            live = self.qc.read_live(target.project_id)
        except QuantConnectError as exc:
            raise OrdersRefused(
                f"QuantConnect could not be asked about {target.label}: {exc.user_message}"
            ) from None
        if live.status != RUNNING:
            raise OrdersRefused(
                f"{target.label} is not running on QuantConnect (its status is {live.status})."
            )
        cursor = self.store.get_fill_cursor(request.id) if request is not None else None
        # The fill cursor knows roughly how many orders there are: start just before the newest ones.
        start = max(0, cursor.next_index - count) if cursor is not None else 0
        orders, partial = self._read_from(target.project_id, start)
        return OrdersAnswer(target, tuple(orders[-count:]), partial)

    def _read_from(self, project_id: int, start: int) -> tuple[list[LiveOrder], bool]:
        orders: list[LiveOrder] = []
        for _ in range(MAX_PAGES):
            try:
                page = self.qc.read_live_orders(project_id, start, start + PAGE_SIZE)
            except QuantConnectError as exc:
                raise OrdersRefused(f"QuantConnect could not list the orders: {exc.user_message}") from None
            if page.loading:
                raise OrdersRefused("QuantConnect is preparing the orders; ask again in a minute.")
            orders.extend(page.orders)
            start += len(page.orders)
            if len(page.orders) < PAGE_SIZE:
                return orders, False
        return orders, True
