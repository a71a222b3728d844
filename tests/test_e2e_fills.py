"""Fills in the card's thread end to end: in Socket Mode, and across a kill -9 of a real bot process, where
250 fills arriving in bursts are each reported exactly once."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from bot.ids import Action
from bot.store import Store
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.fills import counted, fill_messages, listed_ids
from tests.support.flows import ask, click
from tests.support.outbox import outbox_messages
from tests.support.processes import bot_process
from tests.support.waiting import eventually

FAST = {
    "LEASE_SECONDS": "3",
    "HEARTBEAT_SECONDS": "0.5",
    "RECOVERY_INTERVAL_SECONDS": "0.5",
    "WATCH_INTERVAL_SECONDS": "0.2",
    "WATCH_RUNNING_INTERVAL_SECONDS": "0.5",
    "FILLS_INTERVAL_SECONDS": "0.3",
    "STOP_TIMEOUT_SECONDS": "10",
    "LOG_LEVEL": "INFO",
}


def _running(bot: BotHarness, name: str) -> tuple[int, str]:
    """A request approved and Running; (project id, card ts)."""
    request = ask(bot, name)
    click(bot, Action.APPROVE, request.id, "UAPPROVER1")
    eventually(
        lambda: (d := bot.services.store.get_deployment(request.id)) is not None and d.status == "Running",
        what="the deployment to run",
    )
    card_ts = eventually(lambda: bot.services.store.get_request(request.id).message_ts, what="the card")  # type: ignore[union-attr]
    return request.project_id, str(card_ts)


def _thread_fills(slack: FakeSlack, card_ts: str) -> list[str]:
    return fill_messages(slack.thread(DEPLOY_CHANNEL, card_ts))


def test_fills_reach_the_thread_in_socket_mode(tmp_path: Path) -> None:
    env = {"FILLS_INTERVAL_SECONDS": "0.2"}
    with running_bot(tmp_path, profiles=IB_PROFILES, env=env, mode="socket") as bot:
        bot.services.notifier.min_interval = 0.02
        project_id, card_ts = _running(bot, "Socket Fills")
        bot.qc.orders.add(project_id, 3, symbol="AAPL")
        eventually(lambda: counted(_thread_fills(bot.slack, card_ts)) == 3, what="3 fills in the thread")
        bot.qc.orders.add(project_id, 2, symbol="MSFT")
        eventually(lambda: counted(_thread_fills(bot.slack, card_ts)) == 5, what="5 fills in the thread")
        assert listed_ids(_thread_fills(bot.slack, card_ts)) == [1, 2, 3, 4, 5]


def _queued_fills(env: dict[str, str]) -> int:
    store = Store(env["DATABASE_URL"], migrate=False)
    try:
        return sum(
            1
            for m in outbox_messages(store)
            if m.sent_at is None and str(m.payload.get("text") or "").startswith("📈")
        )
    finally:
        store.dispose()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_250_fills_in_bursts_are_each_reported_once_across_kill_9(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        with running_bot(tmp_path, profiles=IB_PROFILES, slack=slack, qc=qc) as bot:
            project_id, card_ts = _running(bot, "Burst Fills")
            env = {**bot.env, **FAST}
        with bot_process(env, tmp_path, "killed") as killed:
            for burst in (30, 30):
                qc.orders.add(project_id, burst)
                total = qc.orders.count(project_id)
                eventually(
                    lambda total=total: counted(_thread_fills(slack, card_ts)) == total,
                    timeout=30,
                    what=f"{total} fills in the thread",
                )
            # Slack refuses the bot's messages now: the next batch waits in the outbox, its cursor moved.
            slack.rate_limit("chat.postMessage", times=1000, retry_after=30)
            qc.orders.add(project_id, 70)
            eventually(lambda: _queued_fills(env) >= 1, timeout=30, what="a batch to be queued")
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
        slack.clear_faults()
        for burst in (40, 40, 40):  # while no bot runs
            qc.orders.add(project_id, burst)
        with bot_process(env, tmp_path, "successor") as successor:
            eventually(
                lambda: counted(_thread_fills(slack, card_ts)) >= 250, timeout=60, what="all 250 fills"
            )
            successor.send_signal(signal.SIGTERM)
            assert successor.wait(30) == 0
        messages = _thread_fills(slack, card_ts)
        assert counted(messages) == 250
        ids = listed_ids(messages)
        assert len(ids) == len(set(ids)) and ids == sorted(ids)
        assert min(ids) >= 1 and max(ids) <= 250
