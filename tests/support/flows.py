"""What a person does with the running bot, as steps tests share: ask for a deployment, click a card's
buttons, wait for a request or a deployment to get somewhere, read the card and its thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.brokerages import registry
from bot.forms import DeployForm
from bot.ids import Action
from bot.statuses import RequestStatus
from bot.store import DeployRequest
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness
from tests.support.examples import EXAMPLE_PROFILES, example_cash, example_secret_values, profile_name
from tests.support.outbound import leaked_secrets
from tests.support.waiting import eventually

S = RequestStatus


def ib_form(project_id: int, name: str, *, mode: str = "live") -> DeployForm:
    """A deploy form for Interactive Brokers (live mode needs one approval by default)."""
    settings = dict(EXAMPLE_PROFILES["InteractiveBrokersSettings"][0], **{"ib-trading-mode": mode})
    return DeployForm(
        model_key="InteractiveBrokersSettings",
        profile="ib-main",
        project_id=project_id,
        project_name=name,
        version_id="17202",
        settings=settings,
        reason="Quarterly rebalance",
    )


def ask(bot: BotHarness, name: str, requester: str = "UREQUESTER") -> DeployRequest:
    """Create and announce a request for a new project in the fake QuantConnect, as the modal would."""
    project_id = bot.qc.add_project(name)
    request = bot.services.requests.create(ib_form(project_id, name), requester_id=requester)
    bot.services.requests.announce(request)
    return request


def quick(bot: BotHarness) -> BotHarness:
    """Let the notifier write faster than Slack's real 1 message/s per channel, to keep tests short."""
    bot.services.notifier.min_interval = 0.02
    return bot


def ask_for_model(
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


def running(bot: BotHarness, name: str = "Momentum") -> DeployRequest:
    request = arranged(bot, name, lambda _pid: None)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    return bot.services.store.get_request(request.id)  # type: ignore[return-value]


def card_message(bot: BotHarness, request_id: str) -> dict[str, Any]:
    """The request's card as it stands in the fake Slack."""
    request = bot.services.store.get_request(request_id)
    assert request is not None and request.message_ts
    message = bot.slack.message(DEPLOY_CHANNEL, request.message_ts)
    assert message is not None
    return message


def click(bot: BotHarness, action: Action, request_id: str, user_id: str) -> None:
    """Click a button of the request's card in the deploy channel, as `user_id`."""
    assert bot.sender is not None
    response = bot.sender.action(
        action.value,
        request_id,
        user_id=user_id,
        channel_id=DEPLOY_CHANNEL,
        message=card_message(bot, request_id),
    )
    assert response.status_code == 200


def status_of(bot: BotHarness, request_id: str) -> RequestStatus | None:
    """The request's status in the store."""
    request = bot.services.store.get_request(request_id)
    return None if request is None else request.status
