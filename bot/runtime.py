"""Builds the services from settings and runs the background workers: heartbeat, recovery, deployer,
watcher, expiry sweeper and the Slack sender; stops them so that nothing is lost and nothing waits.

A graceful stop (SIGTERM, SIGINT) finishes or hands back every piece of work and releases this replica's
lease before the process exits, so the next process, or another replica, carries on at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from slack_bolt import App

from bot.app import build_slack_client, create_app
from bot.clock import utc_now
from bot.config import Settings
from bot.debounce import Debouncer
from bot.services import Services

if TYPE_CHECKING:
    from bot.backoff import Backoff
    from bot.socket_mode import SocketModeConnection

log = logging.getLogger("bot.runtime")


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
) -> Services:
    """Wire every service from settings; nothing starts running here."""
    from bot.audit_trail import AuditTrail
    from bot.book_reader import BookReader
    from bot.bulk_watcher import make_watcher
    from bot.deployer import Deployer
    from bot.digest import DailyDigest
    from bot.fills import FillFollower
    from bot.heartbeat import Heartbeat
    from bot.home import AppHome
    from bot.live_ops import LiveOps
    from bot.live_orders import LiveOrdersQuery
    from bot.notifier import Notifier
    from bot.policy import Policy
    from bot.projects import ProjectCatalog
    from bot.quantconnect.client import QuantConnectClient
    from bot.read_budget import FILLS, ReadBudget
    from bot.recovery import Recovery
    from bot.reminders import ApprovalReminders
    from bot.requests import RequestService
    from bot.secrets import (
        DEFAULT_REGISTRY,
        CredentialProfiles,
        SecretSettings,
        build_secret_store,
        install_redaction,
    )
    from bot.stop_all import StopAll
    from bot.store import Store
    from bot.sweeper import ExpirySweeper

    env = dict(settings.environ if environ is None else environ)
    # Log records are masked whoever configured logging (python -m bot does too; an embedding app may not).
    install_redaction()
    for name, value in settings.named_secrets().items():
        DEFAULT_REGISTRY.register(value, name)
    secret_store = build_secret_store(SecretSettings.from_env(env), env)
    profiles = CredentialProfiles(secret_store)
    qc_user, qc_token = profiles.quantconnect_credentials()
    qc = QuantConnectClient(
        qc_user, qc_token, base_url=settings.qc_api_url, timeout=settings.qc_timeout_seconds
    )
    store = Store(settings.database_url)
    heartbeat = Heartbeat(
        store, clock, lease_seconds=settings.lease_seconds, interval=settings.heartbeat_seconds
    )
    slack = build_slack_client(settings)
    policy = Policy(settings.policy, slack, clock)
    notifier = Notifier(
        slack,
        store,
        settings.deploy_channel_id,
        clock=clock,
        min_interval=settings.slack_channel_interval_seconds,
        lease=heartbeat,
    )
    deployer = Deployer(
        store, qc, profiles, notifier, settings, clock, max_workers=settings.deploy_workers, lease=heartbeat
    )
    requests = RequestService(store, policy, profiles, notifier, deployer.submit, settings, clock)
    live_ops = LiveOps(store, qc, policy, notifier, clock)
    projects = ProjectCatalog(qc, settings.project_cache_seconds, clock)
    # Statistics and orders reads wait for one budget of QuantConnect calls (status reads never do).
    reads = ReadBudget(settings.qc_reads_per_minute)
    return Services(
        settings=settings,
        store=store,
        qc=qc,
        profiles=profiles,
        slack=slack,
        policy=policy,
        projects=projects,
        notifier=notifier,
        requests=requests,
        deployer=deployer,
        watcher=make_watcher(store, qc, notifier, settings, clock, lease=heartbeat, read_budget=reads),
        live_ops=live_ops,
        orders=LiveOrdersQuery(store, qc, policy, live_ops),
        sweeper=ExpirySweeper(
            store, clock, interval=30.0, remind=ApprovalReminders(store, settings.policy).run
        ),
        heartbeat=heartbeat,
        recovery=Recovery(
            deployer,
            interval=settings.recovery_interval_seconds,
            heal_interval=settings.heal_interval_seconds,
        ),
        home=AppHome(store, policy, slack, settings, clock),
        audit=AuditTrail(store, policy),
        books=BookReader(qc, store, projects.lookups, clock),
        stop_all=StopAll(
            store,
            qc,
            policy,
            notifier,
            clock,
            channel_id=settings.deploy_channel_id,
            concurrency=settings.stop_all_concurrency,
        ),
        clock=clock,
        fills=FillFollower(
            store,
            qc,
            clock,
            every_seconds=settings.fills_interval_seconds,
            idle_max_seconds=settings.fills_idle_max_seconds,
            lease=heartbeat,
            budget=reads.share(FILLS),
        ),
        digest=DailyDigest(
            store,
            clock,
            at=settings.digest_time_utc,
            default_channel=settings.deploy_channel_id,
            lease=heartbeat,
        ),
    )


@dataclass
class BotRuntime:
    """The Bolt app plus its services and background workers, started and stopped together."""

    settings: Settings
    services: Services
    app: App
    home_refresh: Debouncer
    # Socket Mode's connection to Slack, whose state /healthz reports (None in HTTP mode: Slack calls in).
    connection: SocketModeConnection | None = None
    _started: bool = False

    @classmethod
    def create(cls, settings: Settings, **kwargs: object) -> BotRuntime:
        """Build services and the Bolt app; card changes refresh approvers' App Home tabs (debounced)."""
        services = build_services(settings, **kwargs)  # type: ignore[arg-type]
        home_refresh = Debouncer(
            services.home.refresh_approvers, settings.home_refresh_seconds, name="home-refresh"
        )
        services.notifier.on_card_changed = home_refresh.trigger
        app = create_app(settings, services)
        return cls(settings=settings, services=services, app=app, home_refresh=home_refresh)

    def start_workers(self) -> None:
        """Take this replica's lease, resume from the store (cards not yet posted, in-flight deploys,
        undelivered messages), then start watching, sweeping and recovering."""
        if self._started:
            return
        self._started = True
        services = self.services
        # The lease first: claiming work needs a live lease, and a failed beat here fails loudly.
        services.store.heartbeat(services.clock(), self.settings.lease_seconds)
        services.heartbeat.start()
        services.requests.post_missing_cards()
        services.notifier.start()
        services.recovery.start()
        services.watcher.start()
        if services.fills is not None:
            services.fills.start()
        if services.digest is not None:
            services.digest.start()
        services.sweeper.start()
        log.info("workers started", extra={"replica": services.store.replica_id})

    def health(self) -> dict[str, object]:
        """What /healthz reports: the database answers, its schema is current, this replica has its lease,
        and in Socket Mode whether Slack is connected."""
        current = self.services.store.schema_current()
        report: dict[str, object] = {
            "ok": bool(current),
            "database": "ok" if current else "schema out of date",
            "replica": self.services.store.replica_id,
        }
        if self._started:
            holds = self.services.heartbeat.holds()
            report["lease"] = "held" if holds else "lost"
            report["ok"] = bool(current) and holds
        if self.connection is not None:
            link = self.connection.state()
            report["slack"] = link.report()
            report["ok"] = bool(report["ok"]) and link.connected
        return report

    def stop(self, timeout: float | None = None) -> None:
        """Finish or hand back all work, deliver queued Slack messages, release the lease, close connections.

        Bounded by `timeout` (STOP_TIMEOUT_SECONDS): whatever is not done by then is handed back through the
        store, so another replica (or the next start) carries on without waiting for this lease to expire.
        """
        services = self.services
        budget = self.settings.stop_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + budget

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        stoppers: list[Callable[[], object]] = [
            # Listeners still answering (a views.update after the ack) finish before their clients close.
            lambda: drain_executor(
                self.app.listener_runner.listener_executor, min(left(), 10.0), "listeners"
            ),
            # Then: an announcement may still hand an auto-approved request to the deployer.
            lambda: services.requests.close(min(left(), 10.0)),
            # Queued after-ack work was acknowledged already (an approval, a modal to fill in): it runs.
            lambda: drain_executor(services.decisions, min(left(), 10.0), "decisions", cancel_queued=False),
            lambda: drain_executor(services.after_ack, min(left(), 10.0), "after-ack", cancel_queued=False),
            lambda: services.recovery.stop(left()),
            lambda: services.sweeper.stop(left()),
            # Running deployments finish their step or hand the request back; queued ones go back at once.
            lambda: services.deployer.shutdown(wait=True, timeout=left()),
            lambda: services.fills.stop(left()) if services.fills is not None else None,
            lambda: services.digest.stop(left()) if services.digest is not None else None,
            lambda: services.watcher.stop(left()),
            lambda: services.notifier.close(left()),
            services.heartbeat.stop,
            # Whatever is still ours (a stuck worker, undelivered messages) goes back; the lease goes.
            services.store.retire,
        ]
        for stop in stoppers:
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
        for close in (
            self.home_refresh.close,
            services.qc.close,
            services.slack.close,
            services.store.dispose,
        ):
            try:
                close()
            except Exception:
                log.exception("error while closing")
        self._started = False
        log.info("stopped", extra={"replica": services.store.replica_id})


def drain_executor(executor: Executor, timeout: float, what: str, *, cancel_queued: bool = True) -> None:
    """Refuse new work; wait up to `timeout` seconds for what runs (and, unless cancelled, what is queued)."""
    waiter = threading.Thread(
        target=executor.shutdown,
        kwargs={"wait": True, "cancel_futures": cancel_queued},
        name=f"drain-{what}",
        daemon=True,
    )
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        log.warning("%s still running after %.0f s; stopping without them", what, timeout)


def serve_http(runtime: BotRuntime, *, host: str = "0.0.0.0", port: int | None = None) -> None:
    """Run HTTP mode in the foreground until interrupted."""
    from bot.server import BotWsgiApp, make_server

    server = make_server(
        BotWsgiApp(runtime.app, runtime.health),
        host=host,
        port=runtime.settings.port if port is None else port,
        threads=runtime.settings.http_threads,
    )
    runtime.start_workers()
    log.info("HTTP mode: serving POST /slack/events and GET /healthz on port %s", runtime.settings.port)
    try:
        server.run()
    finally:
        server.close()
        runtime.stop()


class SocketModeService:
    """Socket Mode as a whole: the connection to Slack, the workers, and /healthz when a port is given."""

    def __init__(
        self,
        runtime: BotRuntime,
        *,
        health_port: int | None,
        host: str = "0.0.0.0",
        backoff: Backoff | None = None,
    ) -> None:
        from bot.server import HealthWsgiApp, make_server
        from bot.socket_mode import SocketModeConnection

        token = runtime.settings.slack_app_token
        assert token is not None, "config guarantees SLACK_APP_TOKEN in socket mode"
        self.runtime = runtime
        self.connection = SocketModeConnection(
            runtime.app, token.get_secret_value(), web_client=runtime.services.slack, backoff=backoff
        )
        runtime.connection = self.connection
        self._health_server = (
            make_server(HealthWsgiApp(runtime.health), host=host, port=health_port, threads=2)
            if health_port is not None
            else None
        )
        self._health_thread: threading.Thread | None = None

    @property
    def health_port(self) -> int | None:
        """The port /healthz is served on (None when not served)."""
        return None if self._health_server is None else int(self._health_server.effective_port)

    def start(self) -> None:
        """Check the app-level token, start the workers, connect and serve /healthz.

        Raises AppTokenRefused, before any work starts, when Slack refuses SLACK_APP_TOKEN: retrying cannot
        fix that, so the bot must not sit in a reconnect loop. Slack unreachable is retried with backoff.
        """
        self.connection.verify_token()
        self.runtime.start_workers()
        self.connection.start()
        if self._health_server is not None:
            self._health_thread = threading.Thread(
                target=self._health_server.run, name="healthz", daemon=True
            )
            self._health_thread.start()

    def stop(self) -> None:
        """Close the socket first, so no new work arrives, then hand all work back (BotRuntime.stop)."""
        from bot.server import shutdown_server

        try:
            self.connection.close()
        except Exception:
            log.exception("error while closing the Socket Mode connection")
        if self._health_server is not None:
            if self._health_thread is not None:
                shutdown_server(self._health_server)
                self._health_thread.join(timeout=5)
            else:
                self._health_server.close()
        self.runtime.stop()


def serve_socket_mode(runtime: BotRuntime) -> None:
    """Run Socket Mode in the foreground until interrupted (needs SLACK_APP_TOKEN, no public URL).

    Serves GET /healthz on PORT when PORT is set, for container health checks.
    """
    settings = runtime.settings
    service = SocketModeService(runtime, health_port=settings.port if settings.port_given else None)
    try:
        service.start()
        where = f"; GET /healthz on port {service.health_port}" if service.health_port else ""
        log.info("Socket Mode: running%s", where)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
