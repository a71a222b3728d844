"""The bot's services, built once at start and handed to every handler (no globals to import)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from bot.clock import utc_now

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.audit_trail import AuditTrail
    from bot.book_reader import BookReader
    from bot.config import Settings
    from bot.deployer import Deployer
    from bot.digest import DailyDigest
    from bot.fills import FillFollower
    from bot.heartbeat import Heartbeat
    from bot.home import AppHome
    from bot.live_ops import LiveOps
    from bot.live_orders import LiveOrdersQuery
    from bot.lookups import Lookups
    from bot.notifier import Notifier
    from bot.policy import Policy
    from bot.projects import ProjectCatalog
    from bot.quantconnect.client import QuantConnectClient
    from bot.recovery import Recovery
    from bot.requests import RequestService
    from bot.secrets.profiles import CredentialProfiles
    from bot.stop_all import StopAll
    from bot.store import Store
    from bot.sweeper import ExpirySweeper
    from bot.watcher import Watcher


# Post-ack work of handlers (filling in a just-opened modal) is CPU-bound; a couple of threads keep it from
# competing for the GIL with the request threads that still have to ack (measured in bench/ack_latency.py).
AFTER_ACK_THREADS = 2


def post_ack_pool(name: str) -> ThreadPoolExecutor:
    """A small pool handlers hand post-ack work to (its threads named `name`)."""
    return ThreadPoolExecutor(max_workers=AFTER_ACK_THREADS, thread_name_prefix=name)


@dataclass
class Services:
    """Everything a handler may use. Handlers never call QuantConnect or build Slack payloads themselves."""

    settings: Settings
    store: Store
    qc: QuantConnectClient
    profiles: CredentialProfiles
    slack: WebClient
    policy: Policy
    projects: ProjectCatalog
    notifier: Notifier
    requests: RequestService
    deployer: Deployer
    watcher: Watcher
    live_ops: LiveOps
    sweeper: ExpirySweeper
    heartbeat: Heartbeat
    recovery: Recovery
    home: AppHome
    audit: AuditTrail
    books: BookReader
    stop_all: StopAll
    clock: Callable[[], datetime] = field(default=utc_now)
    # Modal work after the ack (filling in, rebuilding: it may wait for QuantConnect).
    after_ack: ThreadPoolExecutor = field(default_factory=partial(post_ack_pool, "after-ack"))
    # Approvals and cancellations, counted off Bolt's listener threads (a burst of clicks filled them all)
    # and never queued behind modal work that waits for QuantConnect.
    decisions: ThreadPoolExecutor = field(default_factory=partial(post_ack_pool, "decisions"))
    fills: FillFollower | None = None
    digest: DailyDigest | None = None
    orders: LiveOrdersQuery | None = None

    @property
    def lookups(self) -> Lookups:
        """The one bounded look-up pool (QuantConnect, secret store, Slack groups); the catalog's own."""
        return self.projects.lookups
