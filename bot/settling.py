"""QuantConnect's word ends a request once live/create may have been sent: settling and self-healing.

Settling: a `deploying` request goes `live` as soon as QuantConnect shows its deployment, and `failed` only
when QuantConnect still shows nothing after the settle window. Until then its owner asks live/read with
backoff, the card says it waits for QuantConnect, the project stays locked; whoever takes it over after a
crash carries on with the same deadline.

Self-healing: a request the bot recorded as failed whose deployment QuantConnect shows after all (running,
or queued on its way there) goes back to `live`, watched, with Stop and Liquidate on its card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.blocks.common import escape
from bot.deploy_stages import DeployStages, Failure, next_check_delay
from bot.quantconnect.errors import QuantConnectError
from bot.statuses import LIVE_TERMINAL, RequestStatus
from bot.store.models import DeployRequest

if TYPE_CHECKING:
    from bot.quantconnect.models import LiveAlgorithm

log = logging.getLogger("bot.deployer")

S = RequestStatus
# How far back self-healing looks for requests recorded as failed.
HEAL_HORIZON = timedelta(hours=24)
# Our clock and QuantConnect's may disagree: a deployment launched this much before the call still counts.
CLOCK_SKEW = timedelta(minutes=2)


class Settler:
    """Settles deploying requests and heals failed ones, recording outcomes through the deploy stages."""

    def __init__(self, stages: DeployStages) -> None:
        self.stages = stages
        self.store = stages.store
        self.qc = stages.qc
        self.clock = stages.clock

    def settle(self, request_id: str) -> DeployRequest | None:
        """Ask QuantConnect about a deploying request: live if it shows the deployment, else wait or fail."""
        request = self.store.get_request(request_id)
        if request is None or request.status is not S.DEPLOYING or request.owner != self.store.replica_id:
            return request
        now = self.clock()
        since = request.deploying_since or request.updated_at
        deadline = request.settle_deadline or since + self.stages.settle_window
        try:
            found = self.qc.find_deployment_since(request.project_id, since, request.previous_deploy_id)
        except QuantConnectError as exc:
            log.warning(
                "could not ask QuantConnect about a deployment",
                extra={"request_id": request_id, "error": type(exc).__name__},
            )
            return self.wait(request, now, f"QuantConnect could not be asked ({type(exc).__name__})")
        if found is not None and found.deploy_id is not None:
            return self.stages.record_live(
                request,
                found.deploy_id,
                found.status,
                action="deployed",
                text=f"📡 QuantConnect shows deployment `{escape(found.deploy_id)}` ({escape(found.status)}) "
                "from this request: it went through (sent once, not resent). "
                "I will post every status change here.",
            )
        if now < deadline:
            return self.wait(request, now, request.settle_note or "QuantConnect does not show it yet")
        minutes = round((now - since).total_seconds() / 60)
        return self.stages.fail(
            request_id,
            S.DEPLOYING,
            Failure(
                f"Deployment of {request.project_name} did not happen",
                [
                    f"QuantConnect still shows no deployment from this request {minutes} minutes after "
                    "live/create was sent, so nothing was deployed. It is safe to request it again. "
                    "If it ever shows up, I will mark this request live and watch it."
                ],
            ),
            "settle",
            owned=True,
        )

    def wait(self, request: DeployRequest, now: datetime, note: str) -> DeployRequest | None:
        """Ask QuantConnect again later: soon at first, then less often."""
        waited = now - (request.deploying_since or request.updated_at)
        at = now + timedelta(seconds=next_check_delay(waited))
        self.store.schedule_check(request.id, S.DEPLOYING, at, note, now=now)
        return self.store.get_request(request.id)

    def heal(self) -> list[str]:
        """Failed requests whose deployment QuantConnect shows after all go back to live; returns ids."""
        now = self.clock()
        candidates = self.store.healable_requests(now - HEAL_HORIZON)
        if not candidates:
            return []
        try:
            # Not just "Running": a deployment still queued or starting is on its way to real trading too.
            running = [live for live in self.qc.list_live() if live.status not in LIVE_TERMINAL]
        except QuantConnectError as exc:
            log.info("self-healing skipped: live/list failed", extra={"error": type(exc).__name__})
            return []
        claimed = self.store.deploy_ids_in_use([live.deploy_id for live in running if live.deploy_id])
        healed: list[str] = []
        for request in candidates:
            found = _deployment_of(request, running, claimed)
            if found is None or found.deploy_id is None:
                continue
            done = self.stages.record_live(
                request,
                found.deploy_id,
                found.status,
                action="healed",
                from_status=S.FAILED,
                text=f"🩹 QuantConnect shows deployment `{escape(found.deploy_id)}` ({escape(found.status)}) "
                "after all, "
                "although I had recorded this request as failed. It is live now: I watch it and the card "
                "has Stop and Liquidate again.",
            )
            if done is not None and done.status is S.LIVE:
                claimed.add(found.deploy_id)
                healed.append(request.id)
                log.warning("healed a failed request", extra={"request_id": request.id})
        return healed


def _deployment_of(
    request: DeployRequest, running: Sequence[LiveAlgorithm], claimed: set[str]
) -> LiveAlgorithm | None:
    """The running deployment that belongs to a failed request, if QuantConnect shows one."""
    for live in running:
        if live.project_id != request.project_id or live.deploy_id is None:
            continue
        if request.deploy_id is not None:
            if live.deploy_id == request.deploy_id:
                return live
            continue
        if live.deploy_id in claimed or live.deploy_id == request.previous_deploy_id:
            continue
        if request.deploying_since is not None and (
            live.launched is None or live.launched >= request.deploying_since - CLOCK_SKEW
        ):
            return live
    return None
