"""Watches every deployment with one live/list call per interval, from one replica at a time.

QuantConnect's live/list answers with every deployment of the account (project, deployment id, status, error,
equity) in one call. The replica holding the poller role (a leader role in the store, held for as long as its
heartbeat lease lives and taken over when that lease expires) lists every `WATCH_LIST_INTERVAL_SECONDS` and
compares the list with the store:

- a deployment whose status (or error) differs from what the store holds is read with live/read, once per
  difference, and the change goes through the same path as before (`Watcher.poll`: compare-and-set in the
  store, card and thread reply queued in the same transaction), so it is reported exactly once whichever
  replica sees it, across take-overs and restarts;
- a deployment missing from the list is read with live/read before anything is said about it;
- a running deployment's runtime statistics (P&L, fees... for the card's equity section) are read with
  live/read at most once per `STATISTICS_REFRESH_SECONDS`, the most overdue first, at most twice the even
  share per pass and within the section's share of Slack writes; the read goes through `Watcher.poll`;
- equity from the list is stored and shown in the same card section, refreshed in place under the same
  policy (at most once per `STATISTICS_REFRESH_SECONDS` per card, only when it moved, bot/store/watching.py)
  and within a share of the channel's Slack pace (status reports go first), never as a thread reply.

Fills (bot/fills.py) are followed by the replica holding a deployment's watch lease: in bulk mode that is the
poller, which claims every deployment; the fill cursor moves fenced on that lease, so a fill is reported once
across replicas and take-overs.

Replicas that do not hold the role call QuantConnect for nothing and hand their deployments to the poller, so
N replicas make the calls of one. Ownership stays per deployment: the poller holds a lease on each deployment
it watches, deployments of a dead replica are taken over and looked at at once, and a graceful stop hands the
role and every deployment back.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.backoff import Backoff
from bot.notices import CardNotifier, card_notice
from bot.quantconnect.errors import QuantConnectError
from bot.read_budget import STATISTICS, ReadBudget, ReadShare, unlimited
from bot.slack_share import RefreshBudget
from bot.statuses import LIVE_TERMINAL, RUNNING
from bot.store.roles import POLLER
from bot.store.watching import WatchedDeployment
from bot.watcher import Watcher

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.heartbeat import LeaseHolder
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.live_list import LiveSummary
    from bot.store import Store

log = logging.getLogger("bot.watcher")

# What the list showed of a deployment: (status, error), or MISSING when it was not in the list.
Seen = tuple[str, str | None]
MISSING: Seen = ("(missing from live/list)", None)
# A running deployment whose statistics are due: (when, the deployment, what the list showed, its equity).
Due = tuple[datetime, WatchedDeployment, Seen, float | None]
# After live/list fails, ask again after the list interval, doubling up to this (or after Retry-After).
LIST_MAX_BACKOFF_SECONDS = 60.0
# Equity refreshes wait while more than this many Slack messages of this replica are undelivered: a status
# report never queues behind a backlog of equity refreshes.
EQUITY_MAX_BACKLOG = 2
# Equity shown to the cent: smaller moves are not worth a Slack write.
EQUITY_DIGITS = 2


class BulkWatcher(Watcher):
    """The watcher of WATCH_MODE=bulk: one live/list per pass by the replica holding the poller role."""

    # Statistics reads are chosen within the refresh budget before they are made (_refresh_section).
    budgets_statistics_on_read = False

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        notifier: CardNotifier,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        lease: LeaseHolder | None = None,
        rand: Callable[[], float] = random.random,
        read_budget: ReadShare | None = None,
    ) -> None:
        self.list_interval = settings.watch_list_interval_seconds
        super().__init__(store, qc, notifier, settings, clock, lease=lease, tick_seconds=self.list_interval)
        # One refresh policy for the card's equity section: equity moves and statistics alike.
        self.equity_period = timedelta(seconds=self.statistics_every)
        # Statistics reads: each running deployment at most once per period, at most this many per pass
        # (twice the even share, so a backlog after a take-over clears within about half a period).
        # (0, "whenever they change", reads them as often as per-deployment mode does: each running interval.)
        every = self.statistics_every if self.statistics_every > 0 else self.running_interval
        self.statistics_period = timedelta(seconds=max(every, self.list_interval))
        self.statistics_per_pass = 0
        self.refresh_budget = RefreshBudget(settings.slack_channel_interval_seconds, self.list_interval)
        # Statistics reads are QuantConnect calls that can wait: they share the replica's read budget.
        self.read_budget = read_budget or unlimited(STATISTICS)
        self._list_backoff = Backoff(
            initial=self.list_interval, maximum=max(self.list_interval, LIST_MAX_BACKOFF_SECONDS)
        )
        self._rand = rand
        self._leading = False
        self._list_failures = 0
        self._list_retry_at: datetime | None = None
        # Per deployment: what the list showed when live/read was last asked about a difference (asked again
        # only when the list shows something else, or the deployment's own schedule says so).
        self._read_for: dict[str, Seen] = {}
        # Per deployment: the error the list showed last (a new error with the same status is read too).
        self._list_errors: dict[str, str | None] = {}
        # Per running deployment: when its runtime statistics are next due for a live/read.
        self._statistics_due: dict[str, datetime] = {}

    @property
    def leading(self) -> bool:
        """True while this replica holds the poller role (as of its last pass)."""
        return self._leading

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, hand every deployment back and give up the poller role: another replica polls at its next
        pass, without waiting for this lease to expire."""
        # The thread only (PeriodicWorker.stop): Watcher.stop releases deployments one transaction each,
        # which takes seconds at thousands; one statement hands them all back here.
        super(Watcher, self).stop(timeout)
        for hand_back in (self.store.hand_back_deployments, lambda: self.store.release_role(POLLER)):
            try:
                hand_back()
            except Exception:
                log.exception("could not hand the watching back")
        self._lead(False)

    # -- one pass ------------------------------------------------------------------------------------

    def run_once(self, now: datetime) -> int:
        """One pass at `now`: list if this replica polls, else hand its deployments over; returns how many
        deployments were read with live/read."""
        if not self.lease.holds():
            self._lead(False)
            return 0  # our lease may have run out: another replica may poll now
        if not self.store.claim_role(POLLER, now):
            self._lead(False)
            handed = self.store.hand_back_deployments()
            if handed:
                log.info("handed deployments to the replica that polls", extra={"count": handed})
            return 0
        self._lead(True)
        if self._list_retry_at is not None and now < self._list_retry_at:
            return 0
        watching = self.store.watch_everything(now)
        if watching.taken_over:
            log.info("took over deployments of a replica that stopped", extra={"count": watching.taken_over})
        watched = watching.deployments
        self._forget_all_but({w.request_id for w in watched})
        if not watched:
            return 0
        # Running is a filter live/list takes: while everything watched runs, the answer leaves out every
        # stopped deployment of the account's history. Anything else watched needs the whole list.
        only = RUNNING if all(w.status == RUNNING for w in watched) else None
        try:
            listed = self.qc.live_summaries(only)
        except QuantConnectError as exc:
            self._list_failed(exc, now)
            return 0
        self._list_failures, self._list_retry_at = 0, None
        to_read, statistics, equity = self._compare(
            watched, {item.deploy_id: item for item in listed if item.deploy_id}, now
        )
        polled = self._read(to_read, now)
        return polled + self._refresh_section(statistics, equity, now)

    def _compare(
        self, watched: Sequence[WatchedDeployment], listed: dict[str, LiveSummary], now: datetime
    ) -> tuple[list[tuple[WatchedDeployment, Seen]], list[Due], list[tuple[WatchedDeployment, float]]]:
        """What changed (to read with live/read), whose statistics are due, which show an equity worth a
        card refresh."""
        to_read: list[tuple[WatchedDeployment, Seen]] = []
        equity: list[tuple[WatchedDeployment, float]] = []
        statistics: list[Due] = []
        for deployment in watched:
            request_id = deployment.request_id
            item = listed.get(deployment.deploy_id)
            seen: Seen = MISSING if item is None else (item.status, item.error)
            due = deployment.next_poll_at is None or deployment.next_poll_at <= now
            if deployment.status in LIVE_TERMINAL:
                # Recorded as ended while its request is still live (a watcher stopped in between): the
                # poll ends the request, on the deployment's own schedule.
                if due:
                    to_read.append((deployment, seen))
                continue
            if item is None or item.status != deployment.status:
                # A change, or gone from the list: live/read has the full message and the last word. Once
                # per difference; again only on the deployment's own schedule if the difference stays.
                if seen != self._read_for.get(request_id) or due:
                    to_read.append((deployment, seen))
                continue
            self._read_for.pop(request_id, None)
            last_error = self._list_errors.get(request_id, item.error)
            self._list_errors[request_id] = item.error
            if item.error != last_error:
                to_read.append((deployment, seen))
                continue
            statistics_due = self._statistics_due_at(deployment, now)
            if statistics_due is not None and statistics_due <= now:
                statistics.append((statistics_due, deployment, seen, item.equity))
            elif item.equity is not None and self._equity_due(deployment, item.equity, now):
                equity.append((deployment, item.equity))
        running = sum(1 for deployment in watched if deployment.status == RUNNING)
        self.statistics_per_pass = math.ceil(
            2 * running * self.list_interval / self.statistics_period.total_seconds()
        )
        return to_read, statistics, equity

    def _statistics_due_at(self, deployment: WatchedDeployment, now: datetime) -> datetime | None:
        """When a running deployment's statistics are due for a live/read (None: it is not running).

        First seen by this poller (it started running, or a take-over): due a period on, so a take-over of
        thousands never reads them all at once; the per-pass bound spreads them over the period after that.
        """
        if deployment.status != RUNNING:
            self._statistics_due.pop(deployment.request_id, None)
            return None
        return self._statistics_due.setdefault(deployment.request_id, now + self.statistics_period)

    def _read(self, to_read: Sequence[tuple[WatchedDeployment, Seen]], now: datetime) -> int:
        """live/read each of them and report what changed (Watcher.poll); returns how many were read."""
        if not to_read:
            return 0
        full = self.store.deployments_for(deployment.request_id for deployment, _ in to_read)
        polled = 0
        for watched, seen in to_read:
            if self.stopping or not self.lease.holds():
                break
            deployment = full.get(watched.request_id)
            if deployment is None:
                continue
            try:
                if self.poll(deployment, now):
                    self._read_for[watched.request_id] = seen
                    polled += 1
            except Exception:
                log.exception("poll failed", extra={"request_id": watched.request_id})
                self._schedule(watched.request_id, now, self._backoff(watched.request_id))
        return polled

    def _list_failed(self, exc: QuantConnectError, now: datetime) -> None:
        """Keep every deployment's last known status and ask again later, never sooner than Retry-After."""
        self._list_failures += 1
        delay = self._list_backoff.delay(self._list_failures, self._rand)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        self._list_retry_at = now + timedelta(seconds=delay)
        log.warning(
            "live/list failed; statuses stay as last known until it answers",
            extra={"error": type(exc).__name__, "failures": self._list_failures, "retry_in": round(delay, 1)},
        )

    # -- the card's equity section -------------------------------------------------------------------

    def _refresh_section(
        self, statistics: list[Due], equity: list[tuple[WatchedDeployment, float]], now: datetime
    ) -> int:
        """Statistics reads (the most overdue first), then equity moves, within the section's Slack share.

        A statistics read may refresh the card, so it spends a share like an equity refresh: with more
        cards than the share allows every period, each is refreshed less often, and status reports never
        queue behind these. Returns how many deployments were read with live/read.
        """
        budget = self.refresh_budget.available(now) if self.store.undelivered() <= EQUITY_MAX_BACKLOG else 0
        statistics.sort(key=lambda entry: entry[0])
        reads = statistics[: min(self.statistics_per_pass, budget, self.read_budget.available(now))]
        self.read_budget.spend(len(reads))
        for _, deployment, _, _ in reads:
            # Read now; the next read a period on. Its equity comes with the statistics (no list refresh).
            self._statistics_due[deployment.request_id] = now + self.statistics_period
        polled = self._read([(deployment, seen) for _, deployment, seen, _ in reads], now)
        self.refresh_budget.spend(len(reads))
        for _, deployment, _, value in statistics[len(reads) :]:
            if value is not None and self._equity_due(deployment, value, now):
                equity.append((deployment, value))
        self._refresh_equity(equity, now)
        return polled

    def _equity_due(self, deployment: WatchedDeployment, equity: float, now: datetime) -> bool:
        """A new value (to the cent) whose card was not refreshed for equity within the period."""
        if deployment.equity is not None and round(deployment.equity, EQUITY_DIGITS) == round(
            equity, EQUITY_DIGITS
        ):
            return False
        return deployment.equity_at is None or now - deployment.equity_at >= self.equity_period

    def _refresh_equity(self, candidates: list[tuple[WatchedDeployment, float]], now: datetime) -> None:
        """Store new equity and refresh those cards in place, the least recently refreshed first."""
        budget = self.refresh_budget.available(now)
        if not candidates or budget < 1:
            return
        if self.store.undelivered() > EQUITY_MAX_BACKLOG:
            return  # status reports are waiting for Slack: they go first
        never = now - timedelta(days=36500)
        candidates.sort(key=lambda pair: pair[0].equity_at or never)
        chosen = candidates[:budget]
        written = self.store.record_equity(
            [(deployment.request_id, round(value, EQUITY_DIGITS)) for deployment, value in chosen],
            now=now,
            notices=[card_notice()],
            show_every=self.statistics_every,
        )
        self.refresh_budget.spend(len(written))

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _lead(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            log.info("this replica polls QuantConnect's live/list", extra={"replica": self.owner})
        else:
            log.info("this replica does not poll QuantConnect now", extra={"replica": self.owner})
            self._read_for.clear()
            self._list_errors.clear()
            self._statistics_due.clear()
            self._volumes.clear()

    def _forget_all_but(self, request_ids: set[str]) -> None:
        for memory in (self._read_for, self._list_errors, self._statistics_due, self._volumes):
            for request_id in [key for key in memory if key not in request_ids]:
                del memory[request_id]


def make_watcher(
    store: Store,
    qc: QuantConnectClient,
    notifier: CardNotifier,
    settings: Settings,
    clock: Callable[[], datetime],
    *,
    lease: LeaseHolder | None = None,
    read_budget: ReadBudget | None = None,
) -> Watcher:
    """The watcher WATCH_MODE asks for: bulk (live/list, the default) or per-deployment (live/read each).

    Per-deployment watching reads statistics with every status read, so only bulk watching spends the budget.
    """
    if settings.watch_mode == "per-deployment":
        return Watcher(store, qc, notifier, settings, clock, lease=lease)
    share = read_budget.share(STATISTICS) if read_budget is not None else None
    return BulkWatcher(store, qc, notifier, settings, clock, lease=lease, read_budget=share)
