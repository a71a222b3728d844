"""The daily digest: due at DIGEST_TIME_UTC, one message per channel, once across replicas and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.digest import DailyDigest
from bot.errors import BotError
from bot.ids import Action
from bot.store import RequestStatus
from bot.watcher import Watcher
from tests.support.bot import DEPLOY_CHANNEL, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, click
from tests.support.outbox import outbox_messages
from tests.support.waiting import eventually
from tests.support.world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _running(world: World, project: str) -> str:
    request = world.request(project=project)
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is RequestStatus.LIVE
    watcher = Watcher(world.store, world.client, world.notifier, world.settings, world.clock)
    for _ in range(3):
        watcher.run_once(world.clock.advance(1))
    return request.id


def _digests(world: World) -> list[tuple[str | None, str]]:
    return [
        (m.channel_id, str(m.payload.get("text")))
        for m in outbox_messages(world.store)
        if m.request_id is None and str(m.payload.get("text") or "").startswith("Daily digest")
    ]


def test_one_digest_per_day_across_replicas_and_restarts(world: World) -> None:
    _running(world, "Alpha")
    _running(world, "Beta")
    day = world.clock().replace(hour=21, minute=0, second=0, microsecond=0)
    first = DailyDigest(world.store, world.clock, at="21:30", default_channel="CDEPLOY")
    other = DailyDigest(world.replica("replica-b"), world.clock, at="21:30", default_channel="CDEPLOY")
    assert first.run_once(day) == 0  # not yet
    due = day.replace(minute=31)
    assert first.run_once(due) + other.run_once(due) == 1
    restarted = DailyDigest(world.store, world.clock, at="21:30", default_channel="CDEPLOY")
    assert restarted.run_once(due.replace(minute=45)) == 0
    [(channel, text)] = _digests(world)
    assert channel == "CDEPLOY" and "2 deployments running" in text
    # The next day: one more.
    assert restarted.run_once(due + timedelta(days=1)) == 1
    assert len(_digests(world)) == 2


def test_digest_time_must_be_hh_mm() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "DEPLOY_CHANNEL_ID": "C0123ABCD",
        "APPROVER_USER_IDS": "U0123ABCD",
        "QC_USER_ID": "1",
        "QC_API_TOKEN": "t",
    }
    settings = Settings.from_env({**env, "DIGEST_TIME_UTC": "07:05"}, mode="http", dotenv_path=None)
    assert settings.digest_time_utc == "07:05"
    with pytest.raises(BotError) as refused:
        Settings.from_env({**env, "DIGEST_TIME_UTC": "25:00"}, mode="http", dotenv_path=None)
    assert "DIGEST_TIME_UTC" in str(refused.value) and "HH:MM" in str(refused.value)


def test_the_digest_is_posted_in_the_channel(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=IB_PROFILES, env={"DIGEST_TIME_UTC": "00:00"}) as bot:
        bot.services.notifier.min_interval = 0.02
        request = ask(bot, "Digest Strategy")
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        eventually(
            lambda: (
                (d := bot.services.store.get_deployment(request.id)) is not None and d.status == "Running"
            ),
            what="the deployment to run",
        )
        digest = bot.services.digest
        assert digest is not None
        digest.run_once(datetime.now(UTC))
        call = bot.slack.wait_for(
            "chat.postMessage", lambda c: str(c.body.get("text") or "").startswith("Daily digest"), timeout=10
        )
        assert call.body["channel"] == DEPLOY_CHANNEL and "thread_ts" not in call.body
        assert "Digest Strategy" in str(call.body["blocks"])
