"""Follows `live/orders/read` for every running deployment and posts its new fills in the card's thread.

The replica watching a deployment (its watcher lease, bot/store/leases.py) follows its orders, so a
deployment is followed by one replica at a time and taken over with it. Each pass reads the orders from
where the stored cursor stands (paging by index, at most MAX_PAGES pages), and moves the cursor in the same
transaction as the one thread message that reports them: a restart or a take-over neither repeats nor skips
an order. A deployment is read at most once per FILLS_INTERVAL_SECONDS, so it gets at most one message per
interval however many orders fill; one whose reads find nothing new is read less and less often, up to
FILLS_IDLE_MAX_SECONDS. When QuantConnect fails, the cursor stays and the next reads back off, so the gap is
filled once it answers.

Reads on evidence first. A fill moves the runtime statistics' "Volume" (total traded value), which the
watcher sees in every live/read of a running deployment (store.note_volume). Once a deployment's volume is
known and has not moved since before the orders snapshot now read was taken (QuantConnect refreshes it about
every SNAPSHOT_SECONDS), a read that finds nothing new and no open order leaves the deployment *quiet*: it is
read at once when the volume moves (and once more when the snapshot surely shows the move), and otherwise
only every FILLS_IDLE_MAX_SECONDS after the reads that have evidence, which go first. Every call spends the
fills' share of the replica's QuantConnect read budget (QC_READS_PER_MINUTE, bot/read_budget.py): a large
budget reads every quiet deployment every FILLS_IDLE_MAX_SECONDS as before, a small one spends itself where
the volume moved and reads the quiet ones in turn with what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.blocks.fills import fills_message
from bot.fill_batches import next_batch, plan_read
from bot.heartbeat import AlwaysHeld, LeaseHolder
from bot.notices import thread_notice
from bot.periodic import PeriodicWorker
from bot.quantconnect.errors import QuantConnectError
from bot.quantconnect.orders import PAGE_SIZE, LiveOrder
from bot.read_budget import FILLS, ReadShare, unlimited

if TYPE_CHECKING:
    from bot.quantconnect.client import QuantConnectClient
    from bot.store import Store
    from bot.store.fills import FillCursor

log = logging.getLogger("bot.fills")

# Pages of 1,000 orders one deployment may read in one pass: bounds memory and QuantConnect calls per pass;
# a longer burst is reported over the following intervals.
MAX_PAGES = 5
MAX_BACKOFF_SECONDS = 900.0
# QuantConnect refreshes a deployment's orders snapshot about every 10 minutes (its OpenAPI file); with a
# margin: a read this long after the volume last moved sees every fill that moved it.
SNAPSHOT_SECONDS = 660.0


class FillFollower(PeriodicWorker):
    """Reads due deployments' orders on a background thread; `run_once(now)` does one pass (tests, bench)."""

    name = "fills"

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        clock: Callable[[], datetime],
        *,
        every_seconds: float,
        idle_max_seconds: float | None = None,
        lease: LeaseHolder | None = None,
        batch_size: int = 50,
        max_pages: int = MAX_PAGES,
        budget: ReadShare | None = None,
    ) -> None:
        super().__init__(min(every_seconds, 1.0) if every_seconds > 0 else 1.0)
        self.store = store
        self.qc = qc
        self.clock = clock
        self.every = every_seconds
        # A deployment whose reads keep finding nothing is read less often, up to this (QuantConnect refreshes
        # its orders snapshot about every 10 minutes anyway); the first new order brings it back to `every`.
        self.idle_max = max(every_seconds, idle_max_seconds or every_seconds)
        self.lease = lease or AlwaysHeld()
        self.batch_size = batch_size
        self.max_pages = max_pages
        self.max_backoff = max(every_seconds, MAX_BACKOFF_SECONDS)
        self.budget = budget or unlimited(FILLS)

    @property
    def enabled(self) -> bool:
        """FILLS_INTERVAL_SECONDS=0 turns the following off."""
        return self.every > 0

    def start(self) -> None:
        """Start the thread unless the following is turned off."""
        if self.enabled:
            super().start()

    def run_pass(self) -> int:
        """One pass at the current time."""
        return self.run_once(self.clock())

    def run_once(self, now: datetime) -> int:
        """Read every due deployment this replica watches; returns how many were read."""
        if not self.enabled or not self.lease.holds():
            return 0
        allowed = min(self.batch_size, self.budget.available(now))
        if allowed < 1:
            return 0
        done = 0
        for cursor in self.store.due_fill_cursors(now, allowed, quiet_every=self.idle_max):
            if self.stopping or (done and self.budget.available(now) < 1):
                break
            try:
                self.follow(cursor, now)
            except Exception:
                # A bug or a database hiccup: the cursor did not move, so the next pass reads the same orders.
                log.exception("following orders failed", extra={"request_id": cursor.request_id})
            done += 1
        return done

    def follow(self, cursor: FillCursor, now: datetime) -> bool:
        """Read one deployment's new orders and report them; True when the cursor moved."""
        plan = plan_read(cursor)
        try:
            orders = self._read(cursor.project_id, plan.start)
        except QuantConnectError as exc:
            failures = cursor.failures + 1
            delay = min(self.every * 2**failures, self.max_backoff)
            log.warning(
                "live/orders/read failed; the orders are read again later",
                extra={"request_id": cursor.request_id, "error": type(exc).__name__, "retry_in": delay},
            )
            return self._reschedule(cursor, now + timedelta(seconds=delay), failures, now)
        if orders is None:
            # QuantConnect is still preparing the snapshot: nothing read, nothing moved.
            return self._reschedule(cursor, now + timedelta(seconds=self.every), 0, now)
        batch = next_batch(cursor, plan, orders)
        idle = 0 if batch.changed or batch.open_orders != cursor.open_orders else cursor.idle + 1
        next_read_at = self._next_read(cursor, idle, bool(batch.open_orders), now)
        notices = []
        if batch.changed:
            request = self.store.get_request(cursor.request_id)
            name = request.project_name if request is not None else f"project {cursor.project_id}"
            text, blocks = fills_message(name, batch.orders, batch.dropped)
            notices.append(thread_notice(text, blocks))
        moved = self.store.advance_fills(
            cursor,
            next_index=batch.next_index,
            open_orders=batch.open_orders,
            next_read_at=next_read_at,
            failures=0,
            reported=len(batch.orders),
            now=now,
            notices=notices,
            idle=idle,
        )
        if batch.orders and moved:
            log.info("orders reported", extra={"request_id": cursor.request_id, "count": len(batch.orders)})
        return moved

    def _next_read(self, cursor: FillCursor, idle: int, open_orders: bool, now: datetime) -> datetime | None:
        """When to read again: soon after news, later and later without, None (quiet) while volume is still.

        A read that found nothing new, with no open order and a known volume, is followed by one more read
        once the snapshot surely includes the volume's last move; after that the deployment is quiet (None).
        """
        timed = now + timedelta(seconds=min(self.every * 2**idle, self.idle_max))
        if not idle or open_orders or cursor.volume is None:
            return timed
        changed = cursor.volume_changed_at
        if changed is None or (now - changed).total_seconds() >= SNAPSHOT_SECONDS:
            return None  # quiet: read when the volume moves, else after the reads with evidence
        return max(now + timedelta(seconds=self.every), changed + timedelta(seconds=SNAPSHOT_SECONDS))

    def _reschedule(self, cursor: FillCursor, at: datetime, failures: int, now: datetime) -> bool:
        """Leave the cursor where it is and read again at `at`."""
        return self.store.advance_fills(
            cursor,
            next_index=cursor.next_index,
            open_orders=cursor.open_orders,
            next_read_at=at,
            failures=failures,
            reported=0,
            now=now,
            idle=cursor.idle,
        )

    def _read(self, project_id: int, start: int) -> list[LiveOrder] | None:
        """Orders from `start` on, up to max_pages pages; None while QuantConnect prepares the snapshot."""
        orders: list[LiveOrder] = []
        for _ in range(self.max_pages):
            self.budget.spend(1)
            page = self.qc.read_live_orders(project_id, start + len(orders), start + len(orders) + PAGE_SIZE)
            if page.loading:
                return orders or None
            orders.extend(page.orders)
            if len(page.orders) < PAGE_SIZE:
                break
        return orders
