"""Builds the services from settings and runs the background workers (deployer, watcher, expiry sweeper)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App

from bot.app import build_slack_client, create_app
from bot.config import Settings
from bot.debounce import Debouncer
from bot.services import Services, utc_now

log = logging.getLogger("bot.runtime")


def replica_id() -> str:
    """A name for this process, unique across replicas: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
) -> Services:
    """Wire every service from settings; nothing starts running here."""
    from bot.deployer import Deployer
    from bot.live_ops import LiveOps
    from bot.notifier import Notifier
    from bot.policy import Policy
    from bot.projects import ProjectCatalog
    from bot.quantconnect.client import QuantConnectClient
    from bot.requests import RequestService
    from bot.secrets import (
        DEFAULT_REGISTRY,
        CredentialProfiles,
        SecretSettings,
        build_secret_store,
        install_redaction,
    )
    from bot.store import Store
    from bot.sweeper import ExpirySweeper
    from bot.watcher import Watcher

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
    store.migrate()
    slack = build_slack_client(settings)
    policy = Policy(settings.policy, slack, clock)
    notifier = Notifier(
        slack,
        store,
        settings.deploy_channel_id,
        clock=clock,
        min_interval=settings.slack_channel_interval_seconds,
    )
    deployer = Deployer(store, qc, profiles, notifier, settings, clock, max_workers=settings.deploy_workers)
    requests = RequestService(store, policy, profiles, notifier, deployer.submit, settings, clock)
    return Services(
        settings=settings,
        store=store,
        qc=qc,
        profiles=profiles,
        slack=slack,
        policy=policy,
        projects=ProjectCatalog(qc, settings.project_cache_seconds, clock),
        notifier=notifier,
        requests=requests,
        deployer=deployer,
        watcher=Watcher(
            store,
            qc,
            notifier,
            settings,
            clock,
            owner=replica_id(),
            lease_seconds=settings.watch_lease_seconds,
        ),
        live_ops=LiveOps(store, qc, policy, notifier, clock),
        sweeper=ExpirySweeper(store, notifier, clock, interval=30.0),
        clock=clock,
    )


@dataclass
class BotRuntime:
    """The Bolt app plus its services and background workers, started and stopped together."""

    settings: Settings
    services: Services
    app: App
    home_refresh: Debouncer
    _started: bool = False

    @classmethod
    def create(cls, settings: Settings, **kwargs: object) -> BotRuntime:
        """Build services and the Bolt app; card changes refresh approvers' App Home tabs (debounced)."""
        from handlers.home import refresh_approver_homes

        services = build_services(settings, **kwargs)  # type: ignore[arg-type]
        home_refresh = Debouncer(
            lambda: refresh_approver_homes(services), settings.home_refresh_seconds, name="home-refresh"
        )
        services.notifier.on_card_changed = home_refresh.trigger
        app = create_app(settings, services)
        return cls(settings=settings, services=services, app=app, home_refresh=home_refresh)

    def start_workers(self) -> None:
        """Resume from the store (cards not yet posted, in-flight deploys), then start watcher and sweeper."""
        if self._started:
            return
        self._started = True
        self.services.requests.post_missing_cards()
        self.services.deployer.recover()
        self.services.watcher.start()
        self.services.sweeper.start()
        log.info("workers started")

    def health(self) -> dict[str, object]:
        """What /healthz reports: the database answers and its schema is current."""
        current = self.services.store.schema_current()
        return {"ok": bool(current), "database": "ok" if current else "schema out of date"}

    def stop(self, timeout: float = 10.0) -> None:
        """Stop background workers, let queued Slack messages go out, release connections."""
        services = self.services
        stoppers: list[Callable[[], object]] = [
            # Listeners still answering (a views.update after the ack) finish before their clients close.
            lambda: drain_executor(self.app.listener_runner.listener_executor, timeout, "listeners"),
            # Then: an announcement may still hand an auto-approved request to the deployer.
            lambda: services.requests.close(timeout),
            lambda: services.after_ack.shutdown(wait=True, cancel_futures=True),
            services.sweeper.stop,
            services.watcher.stop,
            lambda: services.deployer.shutdown(wait=True),
            lambda: services.notifier.flush(timeout),
        ]
        for stop in stoppers:
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
        for close in (
            services.notifier.close,
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


def drain_executor(executor: Executor, timeout: float, what: str) -> None:
    """Refuse new work and wait up to `timeout` seconds for the running work to finish."""
    waiter = threading.Thread(
        target=executor.shutdown,
        kwargs={"wait": True, "cancel_futures": True},
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


def serve_socket_mode(runtime: BotRuntime) -> None:
    """Run Socket Mode in the foreground until interrupted (needs SLACK_APP_TOKEN, no public URL)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = runtime.settings.slack_app_token
    assert token is not None, "config guarantees SLACK_APP_TOKEN in socket mode"
    handler = SocketModeHandler(runtime.app, token.get_secret_value())
    runtime.start_workers()
    log.info("Socket Mode: connecting to Slack")
    stop = threading.Event()
    try:
        handler.connect()
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
        runtime.stop()
