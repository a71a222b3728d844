"""Emergency stop-all: stop (or liquidate) every deployment QuantConnect reports running, in parallel.

One stop-all at a time across replicas (a store claim owned like any work in flight, bot/store/emergency.py).
Each deployment is audited before QuantConnect is asked (so the watcher raises no alert for it), reported as
done only when QuantConnect confirmed the stop, as already stopped when QuantConnect refused because it no
longer runs, and as failed with QuantConnect's words otherwise. The channel gets one line per deployment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.common import mention
from bot.blocks.stop_all import stop_all_failed_report, stop_all_report
from bot.emergency import StopMode, StopOutcome, StopResult, StopTarget
from bot.quantconnect.errors import QuantConnectError, RequestRefused
from bot.statuses import RUNNING, RequestStatus
from bot.store.emergency import StopAllClaim

if TYPE_CHECKING:
    from bot.notifier import Notifier
    from bot.policy import Decision, Policy
    from bot.quantconnect.client import QuantConnectClient
    from bot.quantconnect.live_list import LiveSummary
    from bot.store import Store

log = logging.getLogger("bot.stop_all")


class StopAll:
    """Lists what runs, checks who may stop it, and stops it all with bounded concurrency."""

    def __init__(
        self,
        store: Store,
        qc: QuantConnectClient,
        policy: Policy,
        notifier: Notifier,
        clock: Callable[[], datetime],
        *,
        channel_id: str,
        concurrency: int = 4,
    ) -> None:
        self.store = store
        self.qc = qc
        self.policy = policy
        self.notifier = notifier
        self.clock = clock
        self.channel_id = channel_id
        self.concurrency = concurrency

    def may(self, mode: StopMode, user_id: str) -> Decision:
        """Approvers only (membership read fresh from Slack)."""
        return self.policy.may_stop(user_id) if mode is StopMode.STOP else self.policy.may_liquidate(user_id)

    def targets(self) -> list[StopTarget]:
        """Every deployment QuantConnect reports running; QuantConnectError when it cannot say."""
        return [self._target(item) for item in self.qc.live_summaries(RUNNING)]

    def _target(self, item: LiveSummary) -> StopTarget:
        # Paper only when the bot's own request for that very deployment says so; anything else: real money.
        known = self.store.list_requests(project_id=item.project_id, limit=5)
        ours = next((r for r in known if r.deploy_id == item.deploy_id), None)
        name = item.description or (known[0].project_name if known else f"project {item.project_id}")
        return StopTarget(
            project_id=item.project_id,
            deploy_id=item.deploy_id,
            name=name,
            brokerage=item.brokerage,
            equity=item.equity,
            is_paper=ours.is_paper if ours is not None else False,
            request_id=ours.id if ours is not None and ours.status is RequestStatus.LIVE else None,
        )

    def start(self, mode: StopMode, user_id: str) -> StopAllClaim:
        """Claim the stop-all and run it on a thread of its own; a refused claim names who holds it."""
        claim = self.store.claim_stop_all(user_id, mode.value, self.clock())
        if claim.claimed:
            threading.Thread(target=self.run, args=(mode, user_id), name="stop-all", daemon=True).start()
        return claim

    def run(self, mode: StopMode, user_id: str) -> list[StopOutcome]:
        """Stop everything running now, report it in the channel, audit it, and release the claim."""
        outcomes: list[StopOutcome] = []
        try:
            try:
                targets = self.targets()
            except QuantConnectError as exc:
                text, blocks = stop_all_failed_report(user_id, mode, exc.user_message)
                self.notifier.say(self.channel_id, text, blocks)
                return outcomes
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stop-all") as pool:
                outcomes = list(pool.map(lambda target: self._halt(target, mode, user_id), targets))
            text, blocks = stop_all_report(user_id, mode, outcomes)
            self.notifier.say(self.channel_id, text, blocks)
            return outcomes
        finally:
            counts = {result.value: sum(1 for o in outcomes if o.result is result) for result in StopResult}
            self.store.finish_stop_all(user_id, {"mode": mode.value, **counts}, self.clock())
            log.info("stop-all finished", extra={"user_id": user_id, **counts})

    def _halt(self, target: StopTarget, mode: StopMode, user_id: str) -> StopOutcome:
        """Stop one deployment; what QuantConnect answered decides the outcome."""
        audit = {"request_id": target.request_id, "project_id": target.project_id}
        detail = {"project_name": target.name, "stop_all": True}
        # Before QuantConnect is asked: the watcher must know this stop was asked for here.
        self.store.add_event(user_id, f"{mode.value}_requested", detail=detail, now=self.clock(), **audit)
        try:
            if mode is StopMode.STOP:
                self.qc.stop_live(target.project_id)
            else:
                self.qc.liquidate_live(target.project_id)
        except QuantConnectError as exc:
            if isinstance(exc, RequestRefused) and self._no_longer_runs(target):
                self.store.add_event(
                    user_id, "stop_all_already_stopped", detail=detail, now=self.clock(), **audit
                )
                return StopOutcome(target, StopResult.ALREADY_STOPPED)
            error = (
                "; ".join(exc.errors) if isinstance(exc, RequestRefused) and exc.errors else exc.user_message
            )
            self.store.add_event(
                user_id,
                f"{mode.value}_failed",
                detail={**detail, "error": error[:500]},
                now=self.clock(),
                **audit,
            )
            return StopOutcome(target, StopResult.FAILED, error)
        now = self.clock()
        self.store.add_event(user_id, mode.value, detail=detail, now=now, **audit)
        if target.request_id is not None:
            did = "stopped" if mode is StopMode.STOP else "liquidated and stopped"
            self.notifier.thread(
                target.request_id, f"⏹️ {mention(user_id)} {did} it with the emergency stop-all."
            )
            deployment = self.store.get_deployment(target.request_id)
            if deployment is not None and deployment.is_active:
                self.store.schedule_poll(target.request_id, now)  # the card shows the outcome soon
        log.info("stop-all acted", extra={"project_id": target.project_id, "mode": mode.value})
        return StopOutcome(target, StopResult.DONE)

    def _no_longer_runs(self, target: StopTarget) -> bool:
        """After a refusal: whether QuantConnect shows the deployment ended (then it was already stopped)."""
        try:
            live = self.qc.read_live(target.project_id, target.deploy_id)
        except QuantConnectError:
            return False
        return live.is_terminal
