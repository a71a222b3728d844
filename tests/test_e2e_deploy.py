"""End to end: approval -> compile -> node -> live/create -> watched to a final state, through the real bot.

The bot runs in HTTP mode against the fake Slack and QuantConnect servers; clicks are signed HTTP requests.
Requests are created through the request service (the modal itself is covered by the modal's own tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.brokerages import registry
from bot.store import RequestStatus
from tests.fakes.qc_schema import validate_live_create
from tests.support.bot import DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import example_profiles
from tests.support.flows import (
    approve_if_needed,
    arranged,
    ask_for_model,
    assert_no_secrets,
    card_text,
    card_ts,
    quick,
    settled,
    story,
    thread_text,
    wait_for,
    wait_live_status,
)
from tests.support.waiting import eventually

S = RequestStatus
MODELS = [model.key for model in registry.all_models()]
FINAL = {S.LIVE, S.ENDED, S.FAILED}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles=example_profiles()) as harness:
        yield quick(harness)


def test_every_brokerage_model_deploys_and_runs(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    requests = [ask_for_model(bot, key, project=f"Project {index}") for index, key in enumerate(MODELS)]
    for request in requests:
        approve_if_needed(bot, request)
    for request in requests:
        wait_for(bot, request.id, {S.LIVE}, timeout=60)
    for request in requests:
        wait_live_status(bot, request.id, "Running", timeout=30)
    settled(bot)
    creates = bot.qc.calls_to("live/create")
    assert len(creates) == len(MODELS)
    for call in creates:
        assert validate_live_create(call.body) == [], call.body["brokerage"]["id"]
    for request in requests:
        assert "Running" in card_text(bot, request)
        assert "Running" in thread_text(bot, request)
        assert story(bot, request.id)[-1] == "status:Running"
        assert {"deploying", "deployed"} <= set(story(bot, request.id))
    assert_no_secrets(bot, caplog)


def test_build_error_is_shown_in_the_thread(bot: BotHarness) -> None:
    log_line = "Build Error: main.py(3): error CS0103: name 'x' is missing"
    request = arranged(bot, "Broken", lambda pid: bot.qc.build_error(pid, [log_line]))
    failed = wait_for(bot, request.id, FINAL)
    settled(bot)
    assert failed.status is S.FAILED
    assert "CS0103" in thread_text(bot, request)
    assert "Failed" in card_text(bot, request)
    assert bot.qc.calls_to("live/create") == []
    assert story(bot, request.id)[-1] == "deploy_failed"


def test_all_nodes_busy_says_who_uses_them(bot: BotHarness) -> None:
    request = arranged(bot, "Crowded", lambda pid: bot.qc.all_nodes_busy(pid, used_by="Jane Trader"))
    failed = wait_for(bot, request.id, FINAL)
    settled(bot)
    assert failed.status is S.FAILED
    assert "Jane Trader" in thread_text(bot, request)
    assert bot.qc.calls_to("live/create") == []


def test_quantconnect_refusal_lists_its_errors(bot: BotHarness) -> None:
    request = arranged(
        bot, "Refused", lambda _pid: bot.qc.refuse("live/create", ["Brokerage login failed", "Try later"])
    )
    failed = wait_for(bot, request.id, FINAL)
    settled(bot)
    assert failed.status is S.FAILED and list(failed.errors) == ["Brokerage login failed", "Try later"]
    text = thread_text(bot, request)
    assert "Brokerage login failed" in text and "Try later" in text


def test_deploy_error_after_create_fails_the_request(bot: BotHarness) -> None:
    request = arranged(
        bot, "BadLogin", lambda pid: bot.qc.deploy_error_after(pid, 2, "Invalid login for account")
    )
    failed = wait_for(bot, request.id, {S.FAILED})
    settled(bot)
    assert "Invalid login for account" in thread_text(bot, request)
    assert "Failed" in card_text(bot, request)
    assert story(bot, request.id)[-2:] == ["status:DeployError", "live_failed"]
    assert len(bot.qc.calls_to("live/create")) == 1
    assert failed.deploy_id is not None


def test_quantconnect_auth_failure(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=example_profiles(), env={"QC_API_TOKEN": "f" * 64}) as bot:
        quick(bot)
        request = arranged(bot, "NoAuth", lambda _pid: None)
        failed = wait_for(bot, request.id, FINAL)
        settled(bot)
        assert failed.status is S.FAILED
        assert "QC_API_TOKEN" in thread_text(bot, request)
        assert "f" * 64 not in bot.slack.all_text()


def test_timed_out_create_that_deployed_is_one_deployment(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=example_profiles(), env={"QC_TIMEOUT_SECONDS": "1"}) as bot:
        quick(bot)
        request = arranged(bot, "Slow", lambda _pid: bot.qc.delay("live/create", 1.6))
        wait_for(bot, request.id, {S.LIVE}, timeout=30)
        wait_live_status(bot, request.id, "Running")
        bot.qc.wait_idle()
        assert len(bot.qc.calls_to("live/create")) == 1
        assert len(bot.qc.deployments(request.project_id)) == 1


def test_restart_while_watching_keeps_statuses_flowing_without_duplicates(bot: BotHarness) -> None:
    request = arranged(bot, "Restart", lambda _pid: None)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    bot.qc.set_status(request.project_id, "Initializing")  # pinned: it stays there until changed again
    wait_live_status(bot, request.id, "Initializing")
    settled(bot)
    bot.restart()
    quick(bot)
    bot.qc.set_status(request.project_id, "Running")
    wait_live_status(bot, request.id, "Running")
    bot.qc.set_status(request.project_id, "Stopped")
    wait_for(bot, request.id, {S.ENDED})
    settled(bot)
    replies = [
        str(r.get("text", "")) for r in bot.slack.thread(DEPLOY_CHANNEL, card_ts(bot, request.id) or "")
    ]
    assert sum(1 for r in replies if r.startswith("🟢 Running")) == 2  # before the pin, and after the restart
    assert sum(1 for r in replies if r.startswith("⚙️ Initializing")) == 2  # on the walk, and when pinned
    assert sum(1 for r in replies if r.startswith("⏹️ Stopped")) == 1
    assert "Ended" in card_text(bot, request)


def test_slack_rate_limit_loses_no_update(bot: BotHarness) -> None:
    bot.slack.rate_limit("chat.update", times=2, retry_after=1)
    bot.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    request = arranged(bot, "Limited", lambda _pid: None)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    settled(bot)
    eventually(lambda: "Running" in card_text(bot, request), what="the card to show Running")
    assert "Running" in thread_text(bot, request)
