"""A wired world for the deployer, watcher and live-ops tests: fake QuantConnect, real client and store,
example profiles, a recording notifier, a hand-moved clock."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.brokerages import registry
from bot.config import PolicySettings, Settings
from bot.deployer import Deployer
from bot.notices import card_notice, error_notices, thread_notice
from bot.quantconnect.client import QuantConnectClient
from bot.secrets import CredentialProfiles, EnvSecretStore
from bot.store import DeployRequest, NewRequest, Store
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.clocks import ManualClock
from tests.support.examples import EXAMPLE_PROFILES, example_cash, example_profiles, profile_env, profile_name
from tests.support.outbox import outbox_messages

IB = "InteractiveBrokersSettings"


@dataclass
class RecordingNotifier:
    """Queues card refreshes and thread replies in the store's outbox as the real notifier does (never
    raising), and reads back everything queued there, by this notifier or by the services' own
    transactions, for assertions."""

    store: Store
    ephemerals: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh_card(self, request_id: str) -> None:
        self.store.enqueue(request_id, [card_notice()], now=datetime.now(UTC))

    def thread(self, request_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.store.enqueue(request_id, [thread_notice(text, blocks)], now=datetime.now(UTC))

    def post_error_list(self, request_id: str, title: str, errors: Sequence[str]) -> None:
        self.store.enqueue(request_id, error_notices(title, errors), now=datetime.now(UTC))

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> bool:
        with self.lock:
            self.ephemerals.append((channel, user, text))
        return True

    @property
    def cards(self) -> list[str]:
        """The request id of every queued card refresh, in order."""
        return [m.request_id or "" for m in outbox_messages(self.store) if m.kind == "card"]

    @property
    def threads(self) -> list[tuple[str, str]]:
        """(request id, text) of every thread reply that is not part of an error list."""
        return [
            (m.request_id or "", str(m.payload["text"]))
            for m in outbox_messages(self.store)
            if m.kind == "thread" and not _error_list_errors(m.payload)
        ]

    @property
    def error_lists(self) -> list[tuple[str, str, list[str]]]:
        """(request id, title, errors) of every error list (a list split in parts counts once)."""
        lists: list[tuple[str, str, list[str]]] = []
        for m in outbox_messages(self.store):
            errors = _error_list_errors(m.payload) if m.kind == "thread" else None
            if errors is None:
                continue
            title, part = _title_and_part(str(m.payload["text"]))
            if part > 1 and lists and lists[-1][0] == m.request_id:
                lists[-1][2].extend(errors)
            else:
                lists.append((m.request_id or "", title, errors))
        return lists

    def texts(self, request_id: str | None = None) -> list[str]:
        """Every thread reply, and every error list's title and lines, optionally of one request."""
        out: list[str] = []
        for m in outbox_messages(self.store, request_id):
            if m.kind != "thread":
                continue
            errors = _error_list_errors(m.payload)
            out.append(_title_and_part(str(m.payload["text"]))[0] if errors else str(m.payload["text"]))
            out.extend(errors or [])
        return out

    def all_text(self) -> str:
        return "\n".join(self.texts() + [text for _, _, text in self.ephemerals])


def _title_and_part(text: str) -> tuple[str, int]:
    match = re.search(r" \(part (\d+) of \d+\)$", text)
    return (text[: match.start()], int(match.group(1))) if match else (text, 1)


def _error_list_errors(payload: dict[str, Any]) -> list[str] | None:
    """The lines of an error-list message (bullets in its sections), or None for a plain reply."""
    blocks = payload.get("blocks") or []
    lines = [
        line
        for block in blocks
        if block.get("type") == "section"
        for line in str(block["text"]["text"]).split("\n")
        if line.startswith("• ")
    ]
    if not lines:
        return None
    return [html.unescape(line.removeprefix("• ")) for line in lines]


def make_settings(**overrides: Any) -> Settings:
    """Settings with fast intervals for tests."""
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr("xoxb-test"),
        "slack_signing_secret": SecretStr("signing"),
        "slack_app_token": None,
        "deploy_channel_id": "CDEPLOY",
        "policy": PolicySettings(approver_user_ids=frozenset({"UAPPROVER"})),
        "qc_timeout_seconds": 2.0,
        "compile_timeout_seconds": 5.0,
        "watch_interval_seconds": 1.0,
        "watch_running_interval_seconds": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class World:
    """A fake QuantConnect, a real client and SQLite store, profiles and a recording notifier."""

    qc: FakeQuantConnect
    client: QuantConnectClient
    store: Store
    profiles: CredentialProfiles
    notifier: RecordingNotifier
    settings: Settings
    clock: ManualClock
    deployers: list[Deployer] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    def replica(self, replica_id: str, *, lease_seconds: float = 24 * 3600) -> Store:
        """Another replica on the same database, with a lease from now."""
        other = Store(self.store.engine.url.render_as_string(hide_password=False), replica_id=replica_id)
        other.heartbeat(self.clock(), lease_seconds)
        self.stores.append(other)
        return other

    def deployer(self, **kwargs: Any) -> Deployer:
        kwargs.setdefault("max_workers", 2)
        kwargs.setdefault("compile_first_delay", 0.01)
        kwargs.setdefault("compile_max_delay", 0.05)
        deployer = Deployer(
            kwargs.pop("store", self.store),
            kwargs.pop("qc", self.client),
            self.profiles,
            self.notifier,
            self.settings,
            self.clock,
            **kwargs,
        )
        self.deployers.append(deployer)
        return deployer

    def request(
        self,
        model_key: str = IB,
        *,
        project: str = "Momentum",
        profile: str | None = None,
        settings: dict[str, Any] | None = None,
        node_id: str | None = None,
        requester: str = "UREQ",
        data_providers: tuple[str, ...] = ("QuantConnectBrokerage",),
        is_paper: bool | None = None,
    ) -> DeployRequest:
        """An approved request (approvals_needed=0) for a new fake project."""
        model = registry.get(model_key)
        project_id = self.qc.add_project(project)
        chosen = dict(EXAMPLE_PROFILES[model_key][0]) if settings is None else settings
        cash = [c.model_dump(by_alias=True, mode="json") for c in example_cash(model_key)]
        return self.store.create_request(
            NewRequest(
                project_id=project_id,
                project_name=project,
                model_key=model_key,
                brokerage_id=model.brokerage_id,
                profile=profile or profile_name(model_key),
                version_id="17202",
                node_id=node_id,
                settings=model.validate_settings(chosen),
                cash=cash,
                data_providers=data_providers,
                requester_id=requester,
                is_paper=model.is_paper(chosen) if is_paper is None else is_paper,
                approvals_needed=0,
            ),
            now=self.clock(),
        )


def make_client(qc: FakeQuantConnect, **overrides: Any) -> QuantConnectClient:
    """A real client against the fake, with short delays."""
    values: dict[str, Any] = {
        "base_url": qc.base_url,
        "timeout": 2.0,
        "max_retries": 1,
        "backoff_base": 0.01,
        "sleep": time.sleep,
    }
    values.update(overrides)
    token = values.pop("api_token", qc.api_token)
    return QuantConnectClient(qc.user_id, token, **values)


def make_world(
    tmp_path: Path | None = None,
    *,
    store_url: str | None = None,
    replica_id: str = "replica-test",
    settings: Settings | None = None,
    **client_overrides: Any,
) -> Iterator[World]:
    """Everything a deployer, watcher or live-ops test needs (wrap it in a fixture).

    The store is a SQLite file in `tmp_path` unless `store_url` names another database.
    """
    if store_url is None:
        if tmp_path is None:
            raise ValueError("make_world needs tmp_path or store_url")
        store_url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    with FakeQuantConnect() as qc:
        client = make_client(qc, **client_overrides)
        store = Store(store_url, replica_id=replica_id)
        clock = ManualClock()
        # A lease that outlives the test, as the heartbeat would keep it.
        store.heartbeat(clock(), 24 * 3600)
        profiles = CredentialProfiles(EnvSecretStore(environ=profile_env(example_profiles())))
        built = World(
            qc, client, store, profiles, RecordingNotifier(store), settings or make_settings(), clock
        )
        try:
            yield built
        finally:
            for deployer in built.deployers:
                deployer.shutdown(wait=True)
            client.close()
            for opened in (store, *built.stores):
                opened.dispose()
