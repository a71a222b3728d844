"""Real bot processes (`python -m bot --http`) stopped by SIGTERM and killed by SIGKILL, then started again.

A live deployment's status changes before, during and after each stop; the card's thread must report every
change exactly once. The fakes and the database outlive the processes, as Slack, QuantConnect and PostgreSQL
outlive a bot's restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.blocks.live_status import LIVE_STATUS_TEXT
from bot.ids import Action
from bot.store import RequestStatus, Store
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import DEPLOY_CHANNEL, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, click
from tests.support.outbox import outbox_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

S = RequestStatus
# A restarted process takes over a killed one's work after LEASE_SECONDS; tests keep it short.
FAST = {
    "LEASE_SECONDS": "3",
    "HEARTBEAT_SECONDS": "0.5",
    "RECOVERY_INTERVAL_SECONDS": "0.5",
    "WATCH_INTERVAL_SECONDS": "0.2",
    "WATCH_RUNNING_INTERVAL_SECONDS": "0.5",
    "STOP_TIMEOUT_SECONDS": "10",
    "LOG_LEVEL": "INFO",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def bot_process(env: dict[str, str], workdir: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot --http` on a free port, healthy before the block runs; killed if still running after."""
    port = free_port()
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--http", "--port", str(port)],
        cwd=workdir,  # no .env there: the environment below is the whole configuration
        env={**os.environ, **env, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: _healthy(port), timeout=30, what=f"{name} to answer /healthz")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def reported(slack: FakeSlack, card_ts: str) -> list[str]:
    """The QuantConnect statuses the card's thread announced, in order."""
    statuses = []
    for reply in slack.thread(DEPLOY_CHANNEL, card_ts):
        text = str(reply.get("text") or "")
        statuses += [
            status for status, announcement in LIVE_STATUS_TEXT.items() if text.startswith(announcement)
        ]
    return statuses


@contextmanager
def live_deployment(tmp_path: Path) -> Iterator[tuple[FakeSlack, FakeQuantConnect, dict[str, str], str, int]]:
    """A request approved and Running (set up by an in-process bot that then stops cleanly), and the fakes."""
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        with running_bot(tmp_path, profiles=IB_PROFILES, slack=slack, qc=qc) as bot:
            request = ask(bot, "Kill Switch")
            click(bot, Action.APPROVE, request.id, "UAPPROVER1")
            eventually(
                lambda: (
                    (d := bot.services.store.get_deployment(request.id)) is not None and d.status == "Running"
                ),
                what="the deployment to run",
            )
            card_ts = bot.services.store.get_request(request.id).message_ts  # type: ignore[union-attr]
            eventually(lambda: reported(slack, card_ts)[-1:] == ["Running"], what="Running in the thread")
            env = {**bot.env, **FAST}
        assert card_ts is not None
        yield slack, qc, env, card_ts, request.project_id


def wait_reported(slack: FakeSlack, card_ts: str, expected: list[str]) -> None:
    eventually(
        lambda: reported(slack, card_ts) == expected, timeout=30, what=f"the thread to read {expected}"
    )


def test_sigterm_hands_over_with_no_status_lost_or_repeated(tmp_path: Path) -> None:
    with live_deployment(tmp_path) as (slack, qc, env, card_ts, project_id):
        seen = reported(slack, card_ts)
        with bot_process(env, tmp_path, "first") as first:
            qc.set_status(project_id, "PendingInput")
            wait_reported(slack, card_ts, [*seen, "PendingInput"])
            first.send_signal(signal.SIGTERM)
            assert first.wait(30) == 0
        # It handed everything back: nothing is left for the next process to wait for.
        store = Store(env["DATABASE_URL"], migrate=False)
        try:
            assert [r for r in store.replicas(datetime.now(UTC)) if r.requests or r.deployments] == []
        finally:
            store.dispose()
        qc.set_status(project_id, "Running")  # while no bot runs
        with bot_process(env, tmp_path, "second") as second:
            wait_reported(slack, card_ts, [*seen, "PendingInput", "Running"])
            qc.set_status(project_id, "Stopped")
            wait_reported(slack, card_ts, [*seen, "PendingInput", "Running", "Stopped"])
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        assert reported(slack, card_ts) == [*seen, "PendingInput", "Running", "Stopped"]


def test_kill_9_loses_no_queued_report_and_the_successor_reports_the_rest_once(tmp_path: Path) -> None:
    with live_deployment(tmp_path) as (slack, qc, env, card_ts, project_id):
        seen = reported(slack, card_ts)
        with bot_process(env, tmp_path, "killed") as killed:
            # Slack refuses the bot's messages for now: the report of the next change waits in the outbox.
            slack.rate_limit("chat.postMessage", times=100, retry_after=30)
            qc.set_status(project_id, "PendingInput")
            eventually(lambda: _queued(env, "PendingInput"), timeout=30, what="the report to be queued")
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
        slack.clear_faults()
        qc.set_status(project_id, "Running")  # while no bot runs
        with bot_process(env, tmp_path, "successor") as successor:
            wait_reported(slack, card_ts, [*seen, "PendingInput", "Running"])
            successor.send_signal(signal.SIGTERM)
            assert successor.wait(30) == 0
        assert reported(slack, card_ts) == [*seen, "PendingInput", "Running"]


def _queued(env: dict[str, str], status: str) -> bool:
    store = Store(env["DATABASE_URL"], migrate=False)
    try:
        return any(
            m.sent_at is None and str(m.payload.get("text") or "").startswith(LIVE_STATUS_TEXT[status])
            for m in outbox_messages(store)
        )
    finally:
        store.dispose()
