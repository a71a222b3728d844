"""End to end: approval -> compile -> node -> live/create -> watched to a final state, through the real bot.

The bot runs in HTTP mode against the fake Slack and QuantConnect servers; clicks are signed HTTP requests.
Requests are created through the request service (the modal itself is covered by the modal's own tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.brokerages import registry
from bot.brokerages.examples import EXAMPLE_PROFILES, example_cash, example_secret_values
from bot.forms import DeployForm
from bot.ids import Action
from bot.store import DeployRequest, RequestStatus
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION
from tests.fakes.qc_schema import validate_live_create
from tests.harness import (
    APPROVERS,
    DEPLOY_CHANNEL,
    REQUESTER,
    BotHarness,
    eventually,
    leaked_secrets,
    running_bot,
)

S = RequestStatus
MODELS = [model.key for model in registry.all_models()]
FINAL = {S.LIVE, S.ENDED, S.FAILED}


def profile_name(model_key: str) -> str:
    return model_key.removesuffix("Settings").lower()


PROFILES = {
    profile_name(key): (registry.get(key).brokerage_id, credentials)
    for key, (_, credentials) in EXAMPLE_PROFILES.items()
    if key in MODELS
}


def quick(bot: BotHarness) -> BotHarness:
    """Let the notifier write faster than Slack's real 1 message/s per channel, to keep tests short."""
    bot.services.notifier.min_interval = 0.02
    return bot


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles=PROFILES) as harness:
        yield quick(harness)


def ask(
    bot: BotHarness,
    model_key: str = "InteractiveBrokersSettings",
    *,
    project: str = "Momentum",
    settings: dict[str, Any] | None = None,
) -> DeployRequest:
    """Create and announce a request with the model's example settings (or `settings` over them)."""
    project_id = bot.qc.add_project(project)
    example, _ = EXAMPLE_PROFILES[model_key]
    form = DeployForm(
        model_key=model_key,
        profile=profile_name(model_key),
        project_id=project_id,
        project_name=project,
        version_id=str(FAKE_LEAN_VERSION),
        settings=registry.get(model_key).validate_settings({**example, **(settings or {})}),
        cash=[c.model_dump(by_alias=True, mode="json") for c in example_cash(model_key)],
        reason=f"e2e {model_key}",
    )
    request = bot.services.requests.create(form, requester_id=REQUESTER)
    bot.services.requests.announce(request)
    return eventually(
        lambda: card_ts(bot, request.id) and bot.services.store.get_request(request.id), what="card"
    )


def card_ts(bot: BotHarness, request_id: str) -> str | None:
    request = bot.services.store.get_request(request_id)
    return request.message_ts if request else None


def approve_if_needed(bot: BotHarness, request: DeployRequest) -> None:
    """Click Approve on the card as an approver when the request waits for approval."""
    if request.status is not S.PENDING:
        return
    card = bot.slack.message(DEPLOY_CHANNEL, request.message_ts or "")
    answer = bot.sender.action(
        Action.APPROVE, request.id, user_id=APPROVERS[0], channel_id=DEPLOY_CHANNEL, message=card
    )
    assert answer.status_code == 200


def wait_for(bot: BotHarness, request_id: str, statuses: set[S], timeout: float = 20.0) -> DeployRequest:
    return eventually(
        lambda: (r := bot.services.store.get_request(request_id)) is not None and r.status in statuses and r,
        timeout=timeout,
        what=f"{request_id} to reach {sorted(statuses)}",
    )


def wait_live_status(bot: BotHarness, request_id: str, status: str, timeout: float = 20.0) -> None:
    eventually(
        lambda: (d := bot.services.store.get_deployment(request_id)) is not None and d.status == status,
        timeout=timeout,
        what=f"{request_id} live status {status}",
    )


def settled(bot: BotHarness) -> None:
    """Let queued Slack writes go out."""
    assert bot.services.notifier.flush(20)


def thread_text(bot: BotHarness, request: DeployRequest) -> str:
    ts = card_ts(bot, request.id) or ""
    replies = bot.slack.thread(DEPLOY_CHANNEL, ts)
    return "\n".join(str(reply.get("text", "")) + " " + str(reply.get("blocks", "")) for reply in replies)


def card_text(bot: BotHarness, request: DeployRequest) -> str:
    message = bot.slack.message(DEPLOY_CHANNEL, card_ts(bot, request.id) or "")
    return str(message.get("text", "")) + str(message.get("blocks", ""))


def story(bot: BotHarness, request_id: str) -> list[str]:
    return [event.action for event in bot.services.store.events(request_id=request_id)]


def assert_no_secrets(bot: BotHarness, caplog: pytest.LogCaptureFixture | None = None) -> None:
    text = bot.slack.all_text() + (caplog.text if caplog is not None else "")
    assert leaked_secrets(example_secret_values(), text) == [], "a credential reached Slack or the logs"
    assert bot.qc.api_token not in text


def test_every_brokerage_model_deploys_and_runs(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    requests = [ask(bot, key, project=f"Project {index}") for index, key in enumerate(MODELS)]
    for request in requests:
        approve_if_needed(bot, request)
    for request in requests:
        wait_for(bot, request.id, {S.LIVE}, timeout=60)
    for request in requests:
        wait_live_status(bot, request.id, "Running", timeout=30)
    settled(bot)
    creates = bot.qc.calls_to("live/create")
    assert len(creates) == len(MODELS) == 19
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


def ask_existing(
    bot: BotHarness, project_id: int, name: str, model_key: str = "QuantConnectSettings"
) -> DeployRequest:
    """A paper request (no approval needed) for a project that already exists in the fake."""
    form = DeployForm(
        model_key=model_key,
        profile=profile_name(model_key),
        project_id=project_id,
        project_name=name,
        version_id=str(FAKE_LEAN_VERSION),
        settings=registry.get(model_key).validate_settings(EXAMPLE_PROFILES[model_key][0]),
        reason="e2e",
    )
    request = bot.services.requests.create(form, requester_id=REQUESTER)
    bot.services.requests.announce(request)
    return request


def arranged(bot: BotHarness, name: str, arrange: Callable[[int], None]) -> DeployRequest:
    """A paper request for a fresh project, with QuantConnect's behaviour arranged before it deploys."""
    project_id = bot.qc.add_project(name)
    arrange(project_id)
    return ask_existing(bot, project_id, name)


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
    with running_bot(tmp_path, profiles=PROFILES, env={"QC_API_TOKEN": "f" * 64}) as bot:
        quick(bot)
        request = arranged(bot, "NoAuth", lambda _pid: None)
        failed = wait_for(bot, request.id, FINAL)
        settled(bot)
        assert failed.status is S.FAILED
        assert "QC_API_TOKEN" in thread_text(bot, request)
        assert "f" * 64 not in bot.slack.all_text()


def test_timed_out_create_that_deployed_is_one_deployment(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=PROFILES, env={"QC_TIMEOUT_SECONDS": "1"}) as bot:
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
