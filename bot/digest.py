"""The optional daily digest (DIGEST_TIME_UTC): one message per channel about every running deployment.

Exactly once per day and channel across replicas and restarts: the message is queued in the outbox in the
same transaction as a claim keyed by the day and channel, so whichever replica comes first posts it and the
others (or a restart) find the claim. A bot that was down at the time posts it when it comes back that day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from typing import TYPE_CHECKING

from bot.blocks.digest import DigestRow, digest_message
from bot.heartbeat import AlwaysHeld, LeaseHolder
from bot.notices import thread_notice
from bot.periodic import PeriodicWorker
from bot.statuses import RequestStatus

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("bot.digest")


class DailyDigest(PeriodicWorker):
    """Checks every `interval` seconds whether today's digests are due and not yet claimed."""

    name = "digest"

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        at: str | None,
        default_channel: str,
        lease: LeaseHolder | None = None,
        interval: float = 30.0,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.clock = clock
        self.at = time.fromisoformat(at) if at else None
        self.default_channel = default_channel
        self.lease = lease or AlwaysHeld()
        self._done: str | None = None

    def start(self) -> None:
        """Start the thread only when a digest time is set."""
        if self.at is not None:
            super().start()

    def run_pass(self) -> int:
        """One check at the current time."""
        return self.run_once(self.clock())

    def run_once(self, now: datetime) -> int:
        """Queue today's digest of each channel with running deployments, if due and unclaimed; how many."""
        if self.at is None or now.time() < self.at or not self.lease.holds():
            return 0
        day = now.date().isoformat()
        if self._done == day:
            return 0
        by_channel: dict[str, list[DigestRow]] = {}
        for deployment in self.store.active_deployments():
            request = self.store.get_request(deployment.request_id)
            if request is None or request.status is not RequestStatus.LIVE:
                continue
            cursor = self.store.get_fill_cursor(request.id)
            row = DigestRow(
                request, deployment, self.store.get_statistics(request.id), cursor.reported if cursor else 0
            )
            by_channel.setdefault(request.channel_id or self.default_channel, []).append(row)
        posted = 0
        for channel, rows in sorted(by_channel.items()):
            if self.store.digest_claimed(day, channel):
                continue
            text, blocks = digest_message(day, sorted(rows, key=lambda r: r.request.project_name.lower()))
            if self.store.claim_digest(day, channel, [thread_notice(text, blocks)], now=now):
                posted += 1
                log.info("daily digest queued", extra={"channel": channel, "deployments": len(rows)})
        if by_channel:
            # Nothing running yet: keep looking today, a deployment may start later.
            self._done = day
        return posted
