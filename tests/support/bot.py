"""End-to-end harness: the real bot against fake Slack and QuantConnect, in HTTP mode or in Socket Mode.

Usage::

    with running_bot(tmp_path, profiles={"ib-main": ("InteractiveBrokersBrokerage", {...})}) as bot:
        bot.sender.command("deploy", user_id="U1")          # a signed slash command over real HTTP
        view = bot.slack.wait_for("views.open").body["view"]
        bot.clock.advance(minutes=61)                        # time moves for the bot, not for the fakes
        bot.restart()                                        # a new process-side app on the same database

``running_bot(..., mode="socket")`` runs the bot as ``python -m bot`` does by default: it connects to the
fake's Socket Mode endpoint (``bot.slack.socket_mode``) with its app-level token and no signing secret, and
``bot.sender`` delivers the same traffic as envelopes over that socket (answers are the acknowledgements).
``bot.url`` then serves GET /healthz only. Socket Mode reconnects fast in tests (``TEST_BACKOFF``).

Each `running_bot` starts its own fakes unless given some, so tests stay independent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.backoff import Backoff
from bot.config import Settings
from bot.runtime import BotRuntime, SocketModeService
from bot.server import BotWsgiApp, make_server, shutdown_server
from bot.services import Services
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_socket_mode import SocketModeSender
from tests.fakes.slack_requests import SlackSender, SlackTraffic
from tests.support.clocks import OffsetClock
from tests.support.examples import ProfileSpec, profile_env

SIGNING_SECRET = "test-signing-secret-8f2b1c"
DEPLOY_CHANNEL = "CDEPLOY"
APPROVERS = ("UAPPROVER1", "UAPPROVER2")
REQUESTER = "UREQUESTER"

Mode = Literal["http", "socket"]

# Reconnect at once and often: tests drop the socket on purpose and wait for the bot to come back.
TEST_BACKOFF = Backoff(initial=0.05, maximum=0.5, jitter=0.0)


def base_env(tmp_path: Path, slack: FakeSlack, qc: FakeQuantConnect) -> dict[str, str]:
    """The environment of a bot wired to the fakes, with fast intervals for tests."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.base_url,
        "DEPLOY_CHANNEL_ID": DEPLOY_CHANNEL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "QC_API_URL": qc.base_url,
        "QC_USER_ID": str(qc.user_id),
        "QC_API_TOKEN": qc.api_token,
        "QC_TIMEOUT_SECONDS": "5",
        "COMPILE_TIMEOUT_SECONDS": "20",
        "APPROVER_USER_IDS": ",".join(APPROVERS),
        "WATCH_INTERVAL_SECONDS": "0.05",
        "WATCH_RUNNING_INTERVAL_SECONDS": "0.2",
        "PROJECT_CACHE_SECONDS": "60",
        "SECRET_BACKENDS": "env",
        "HTTP_THREADS": "8",
        # Slack allows about one message per second per channel; tests pace faster against the fake.
        "SLACK_CHANNEL_INTERVAL_SECONDS": "0.02",
        "HOME_REFRESH_SECONDS": "0.05",
        # Fast intervals need more QuantConnect reads than production's budget: tests that count them set it.
        "QC_READS_PER_MINUTE": "0",
        # Beat and look for orphaned work often, so take-overs in tests happen soon after a lease expires.
        "HEARTBEAT_SECONDS": "0.2",
        "RECOVERY_INTERVAL_SECONDS": "0.2",
        "LOG_LEVEL": "DEBUG",
    }


@dataclass
class BotHarness:
    """A running bot plus the fakes it talks to."""

    tmp_path: Path
    env: dict[str, str]
    slack: FakeSlack
    qc: FakeQuantConnect
    clock: OffsetClock = field(default_factory=OffsetClock)
    mode: Mode = "http"
    runtime: BotRuntime | None = None
    url: str = ""
    sender: SlackTraffic | None = None
    socket: SocketModeService | None = None
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def services(self) -> Services:
        """The running bot's services."""
        assert self.runtime is not None, "bot not running"
        return self.runtime.services

    @property
    def settings(self) -> Settings:
        """The running bot's settings."""
        assert self.runtime is not None, "bot not running"
        return self.runtime.settings

    def start(self) -> None:
        """Build the bot from `env` and serve it: on a free loopback port, or over the fake's socket."""
        settings = Settings.from_env(self.env, mode=self.mode, dotenv_path=None)
        self.runtime = BotRuntime.create(settings, clock=self.clock, environ=self.env)
        if self.mode == "socket":
            self._start_socket_mode(self.runtime)
            return
        self._server = make_server(
            BotWsgiApp(self.runtime.app, self.runtime.health), host="127.0.0.1", port=0, threads=8
        )
        self.url = f"http://127.0.0.1:{self._server.effective_port}/"
        self._thread = threading.Thread(target=self._server.run, name="waitress", daemon=True)
        self._thread.start()
        self.runtime.start_workers()
        self.sender = SlackSender(self.url, SIGNING_SECRET, response_url_base=self.slack.response_url_base)

    def _start_socket_mode(self, runtime: BotRuntime) -> None:
        """Connect as `python -m bot` does, with /healthz on a free port; wait until Slack said hello."""
        service = SocketModeService(runtime, health_port=0, host="127.0.0.1", backoff=TEST_BACKOFF)
        self.socket = service
        try:
            service.start()
        except BaseException:
            self.socket = None
            self.runtime = None
            service.stop()
            raise
        self.url = f"http://127.0.0.1:{service.health_port}/"
        assert service.connection.wait_connected(20), "the bot did not connect over Socket Mode"
        self.sender = SocketModeSender(self.slack.socket_mode, response_url_base=self.slack.response_url_base)

    def stop(self) -> None:
        """Stop serving and stop the bot's workers (the database file stays)."""
        if self.sender is not None:
            self.sender.close()
        if self.socket is not None:
            # Closes the socket, then hands work back (runtime.stop), as `python -m bot` does on SIGTERM.
            self.socket.stop()
            self.socket = None
            self.runtime = None
        if self._server is not None:
            shutdown_server(self._server)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None

    def restart(self) -> None:
        """Simulate a process restart: a new app, services and workers on the same database."""
        self.stop()
        self.start()


class GuardWatch(logging.Handler):
    """Collects the outbound guard's warnings: each one is a builder that forgot to escape user or QC text."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(
            f"{getattr(record, 'where', '?')}: {getattr(record, 'sequences', record.getMessage())}"
        )

    def __enter__(self) -> GuardWatch:
        logging.getLogger("bot.outbound").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("bot.outbound").removeHandler(self)


@contextmanager
def running_bot(
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    profiles: Mapping[str, ProfileSpec] | None = None,
    slack: FakeSlack | None = None,
    qc: FakeQuantConnect | None = None,
    mode: Mode = "http",
) -> Iterator[BotHarness]:
    """Start fakes (unless given) and the bot in `mode`; stop everything afterwards.

    Every test through the real bot also checks that nothing it sent needed the outbound guard: text from
    users and QuantConnect was escaped by the builders themselves.
    """
    guard = GuardWatch()
    with ExitStack() as stack:
        stack.enter_context(guard)
        if slack is None:
            slack = stack.enter_context(FakeSlack())
        if qc is None:
            qc = stack.enter_context(FakeQuantConnect())
        full_env = {**base_env(tmp_path, slack, qc), **profile_env(profiles or {}), **(env or {})}
        if mode == "socket":
            # Socket Mode needs no signing secret: nothing reaches the bot over HTTP.
            full_env.pop("SLACK_SIGNING_SECRET", None)
        harness = BotHarness(tmp_path=tmp_path, env=full_env, slack=slack, qc=qc, mode=mode)
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
    assert guard.seen == [], f"unescaped mrkdwn reached the outbound guard: {guard.seen}"
