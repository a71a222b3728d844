"""Follows live/read for every active deployment and reports each real status change on the request's card.

Everything the watcher needs lives in the deployments table (status, next poll, owner), so a restarted
process simply carries on. Each deployment is watched by one replica at a time: its owner, whose claim lasts
as long as that replica's heartbeat lease. Deployments of a replica that died are taken over and looked at at
once. A status change and its thread reply are written in one transaction, so each change is reported exactly
once, whichever replica sees it. QuantConnect outages never fail a deployment: the watcher backs off, records
once that the status is unknown, and reports the real status when QuantConnect answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.alerts import alerts_for
from bot.blocks.common import escape
from bot.blocks.live_status import live_status_text
from bot.heartbeat import AlwaysHeld, LeaseHolder
from bot.notices import CardNotifier, card_notice, error_notices, thread_notice
from bot.periodic import PeriodicWorker
from bot.quantconnect.errors import QuantConnectError
from bot.slack_share import RefreshBudget
from bot.statuses import LIVE_FAILURE, LIVE_TERMINAL, RUNNING, RequestStatus
from bot.store.models import Deployment, DeployRequest, Notice

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.models import LiveAlgorithm
    from bot.store import Store

log = logging.getLogger("bot.watcher")

S = RequestStatus
ACTOR = "watcher"
# Recorded (once) while QuantConnect cannot be asked; not terminal, so polling goes on.
UNKNOWN_STATUS = "Unknown"
MAX_BACKOFF_SECONDS = 600.0
# The runtime statistic that moves with every fill (total traded value).
VOLUME = "Volume"


class Watcher(PeriodicWorker):
    """Polls live/read for due deployments on a background thread; `run_once(now)` does one pass (tests)."""

    name = "watcher"
    # Per-deployment mode: statistics arrive with every live/read, so showing them spends the refresh budget.
    budgets_statistics_on_read = True

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        notifier: CardNotifier,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        lease: LeaseHolder | None = None,
        batch_size: int = 50,
        tick_seconds: float | None = None,
    ) -> None:
        # Not `self.interval`: that is how often the thread wakes (PeriodicWorker), which is shorter.
        self.poll_interval = settings.watch_interval_seconds
        super().__init__(tick_seconds if tick_seconds is not None else min(self.poll_interval, 1.0))
        self.store = store
        self.qc = qc
        self.notifier = notifier
        self.clock = clock
        self.lease = lease or AlwaysHeld()
        self.batch_size = batch_size
        self.running_interval = settings.watch_running_interval_seconds
        self.policy = settings.policy
        self.max_backoff = max(self.running_interval, min(MAX_BACKOFF_SECONDS, 10 * self.running_interval))
        self._failures: dict[str, int] = {}
        self.statistics_every = settings.statistics_refresh_seconds
        # Card refreshes for new statistics spend a share of the channel's Slack pace, so that with many
        # running deployments status replies never queue behind them.
        self.refresh_budget = RefreshBudget(settings.slack_channel_interval_seconds, self.interval)
        # Per deployment: the runtime volume last noted in the store (fills are read when it moves).
        self._volumes: dict[str, str] = {}

    @property
    def owner(self) -> str:
        """The replica this watcher works for."""
        return self.store.replica_id

    def run_pass(self) -> int:
        """One pass at the current time."""
        return self.run_once(self.clock())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and give back every deployment this replica watches: another takes over at once."""
        super().stop(timeout)
        for deployment in self.store.active_deployments():
            if deployment.lease_owner == self.owner:
                try:
                    self.store.release_lease(deployment.request_id)
                except Exception:
                    log.exception("could not release a lease", extra={"request_id": deployment.request_id})

    # -- one pass ------------------------------------------------------------------------------------

    def run_once(self, now: datetime) -> int:
        """Poll every deployment that is due at `now` and is ours to watch; returns how many were polled."""
        if not self.lease.holds():
            return 0  # our lease may have run out: another replica may watch these now
        adopted = self.store.adopt_orphaned_deployments(now)
        if adopted:
            log.info("took over deployments of a replica that stopped", extra={"count": len(adopted)})
        polled = 0
        due = self.store.due_deployments(now, self.batch_size)
        # One transaction claims the whole batch: a claim per deployment cost a write per poll.
        ours = self.store.acquire_leases((d.request_id for d in due), now).ours
        for deployment in due:
            if self.stopping:
                break
            if deployment.request_id not in ours:
                continue
            try:
                self.poll(deployment, now)
            except Exception:
                log.exception("poll failed", extra={"request_id": deployment.request_id})
                self._schedule(deployment.request_id, now, self._backoff(deployment.request_id))
            polled += 1
        return polled

    def poll(self, deployment: Deployment, now: datetime) -> bool:
        """Read one deployment's status from QuantConnect and report it if it changed; False if not read."""
        request_id = deployment.request_id
        request = self.store.get_request(request_id)
        if request is not None and request.status is S.DEPLOYING:
            # The deployer has not marked the request live yet; report nothing before it has.
            self._schedule(request_id, now, self.poll_interval)
            return False
        try:
            live = self.qc.read_live(deployment.project_id, deployment.deploy_id)
        except QuantConnectError as exc:
            self._unreachable(deployment, request, exc, now)
            return True
        self._failures.pop(request_id, None)
        if live.status == RUNNING and live.runtime_statistics:
            self._note_volume(request_id, live.runtime_statistics, now)
            if self._may_refresh_card(now):
                # Equity and P&L ride on the same live/read: the card shows them, refreshed every few minutes.
                shown = self.store.record_statistics(
                    request_id, live.runtime_statistics, now=now, show_every=self.statistics_every
                )
                if shown and self.budgets_statistics_on_read:
                    self.refresh_budget.spend(1)
        if live.status not in LIVE_TERMINAL and self.store.schedule_if_status(
            request_id, live.status, now + timedelta(seconds=self._interval_for(live.status))
        ):
            return True  # unchanged (checked against the store, not our snapshot): next poll set
        terminal = live.status in LIVE_TERMINAL
        # A terminal status of a live request: the card is refreshed with the request's move (_finish), once.
        # Queued here too, a sender starting that first refresh between the two transactions would render
        # the same card twice (or the live status first and the end a moment later).
        ends_request = terminal and request is not None and request.status is S.LIVE
        changed = self.store.record_status(
            request_id,
            live.status,
            live.problem,
            now=now,
            launched=live.launched,
            stopped=live.stopped,
            notices=[
                *([] if ends_request else [card_notice()]),
                *self._report(deployment, request, live),
                # The alert commits with the change it reports: once per change, on any replica.
                *alerts_for(self.store, deployment, request, live.status, live.problem, self.policy),
            ],
        )
        if terminal:
            self._finish(deployment, request, live, changed, now)
            return True
        self._schedule(request_id, now, self._interval_for(live.status))
        return True

    def _note_volume(self, request_id: str, statistics: Mapping[str, str], now: datetime) -> None:
        """Tell the fill follower when a deployment's traded volume moved (bot/fills.py reads on evidence)."""
        volume = statistics.get(VOLUME)
        if volume is None or self._volumes.get(request_id) == volume:
            return
        if self.store.note_volume(request_id, volume, now):
            self._volumes[request_id] = volume

    def _may_refresh_card(self, now: datetime) -> bool:
        """Whether new statistics may refresh a card now (unspent refreshes are simply read again later)."""
        return not self.budgets_statistics_on_read or self.refresh_budget.available(now) >= 1

    def _interval_for(self, status: str) -> float:
        """Seconds until the next poll: Running rarely changes, every other status is watched closely."""
        return self.running_interval if status == RUNNING else self.poll_interval

    # -- outcomes ------------------------------------------------------------------------------------

    def _report(
        self, deployment: Deployment, request: DeployRequest | None, live: LiveAlgorithm
    ) -> list[Notice]:
        """The thread messages of a status change: an error list for a failure, else one short reply."""
        if live.status in LIVE_FAILURE:
            name = request.project_name if request is not None else f"project {deployment.project_id}"
            problem = live.problem or "QuantConnect gave no message."
            return error_notices(
                f"{name} stopped with {live.status} (deployment {live.deploy_id})", [problem]
            )
        return [thread_notice(self._reply(deployment, live))]

    def _finish(
        self,
        deployment: Deployment,
        request: DeployRequest | None,
        live: LiveAlgorithm,
        changed: bool,
        now: datetime,
    ) -> None:
        """A terminal status: the request ends or fails, once, and the lease goes back.

        The status change already queued its report; if this process stopped before the request moved (so
        the status is not new any more), the move happens now without a second report.
        """
        request_id = deployment.request_id
        failed = live.status in LIVE_FAILURE
        moved = self.store.transition(
            request_id,
            from_statuses={S.LIVE},
            to=S.FAILED if failed else S.ENDED,
            actor=ACTOR,
            action="live_failed" if failed else "ended",
            detail={"live_status": live.status},
            now=now,
            notices=[card_notice()],
            **(
                {"errors": [f"{live.status}: {live.problem or 'QuantConnect gave no message.'}"]}
                if failed
                else {}
            ),
        )
        if moved is None and changed and request is not None and request.status is S.LIVE:
            # The request moved on meanwhile (its own move queued a refresh, perhaps before this status was
            # stored): the card shows the deployment's end too.
            self.notifier.refresh_card(request_id)
        # Terminal deployments are never due again (due_deployments skips them): nothing to schedule.
        self._failures.pop(request_id, None)
        self._volumes.pop(request_id, None)
        self.store.release_lease(request_id)
        log.info(
            "deployment finished",
            extra={"request_id": request_id, "live_status": live.status, "reported": changed},
        )

    def _unreachable(
        self, deployment: Deployment, request: DeployRequest | None, exc: QuantConnectError, now: datetime
    ) -> None:
        """Keep the deployment, say once that its status is unknown, and try again later and later."""
        request_id = deployment.request_id
        delay = self._backoff(request_id)
        log.warning(
            "live/read failed; retrying later",
            extra={"request_id": request_id, "error": type(exc).__name__, "retry_in": delay},
        )
        reason = f"QuantConnect could not be asked for the status: {exc}"
        self.store.record_status(
            request_id,
            UNKNOWN_STATUS,
            reason,
            now=now,
            notices=[
                card_notice(),
                thread_notice(
                    f"❔ Status unknown: {escape(str(exc))} I keep the deployment and will keep asking, "
                    "less often."
                ),
            ],
        )
        self._schedule(request_id, now, delay)

    def _backoff(self, request_id: str) -> float:
        failures = self._failures.get(request_id, 0) + 1
        self._failures[request_id] = failures
        return min(self.poll_interval * 2**failures, self.max_backoff)

    def _reply(self, deployment: Deployment, live: LiveAlgorithm) -> str:
        text = live_status_text(live.status)
        if deployment.status == UNKNOWN_STATUS:
            text = f"QuantConnect answers again. {text}"
        if live.problem:
            text += f" — {escape(live.problem)}"
        return text

    def _schedule(self, request_id: str, now: datetime, delay: float) -> None:
        self.store.schedule_poll(request_id, now + timedelta(seconds=delay))
