"""End to end: Stop and Liquidate buttons, `/qc status`, `/qc stop`, `/qc liquidate`, with policy refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.ids import Action
from bot.store import DeployRequest, RequestStatus
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.examples import example_profiles
from tests.support.flows import (
    assert_no_secrets,
    card_text,
    quick,
    running,
    story,
    thread_text,
    wait_for,
)
from tests.support.waiting import eventually

S = RequestStatus
APPROVER = APPROVERS[0]
OUTSIDER = "UOUTSIDER"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles=example_profiles()) as harness:
        yield quick(harness)


def click(
    bot: BotHarness, action: Action, value: str, user: str, message: dict[str, Any] | None = None
) -> None:
    answer = bot.sender.action(action, value, user_id=user, channel_id=DEPLOY_CHANNEL, message=message)
    assert answer.status_code == 200


def card(bot: BotHarness, request: DeployRequest) -> dict[str, Any]:
    return bot.slack.message(DEPLOY_CHANNEL, request.message_ts or "")


def told(bot: BotHarness, user: str, needle: str) -> dict[str, Any]:
    """The ephemeral message that told `user` something containing `needle`."""
    return eventually(
        lambda: next((e for e in bot.slack.ephemerals(user) if needle in str(e)), None),
        what=f"an ephemeral to {user} saying {needle!r}",
    )


def command(bot: BotHarness, text: str, user: str) -> str:
    """Type `/qc <text>`; returns the immediate (acknowledgement) answer."""
    answer = bot.sender.command(text, user_id=user, channel_id=DEPLOY_CHANNEL)
    assert answer.status_code == 200
    return answer.text


def test_stop_button_stops_and_the_card_ends(bot: BotHarness) -> None:
    request = running(bot)
    eventually(lambda: "live_actions" in str(card(bot, request)), what="the Stop button on the card")
    click(bot, Action.STOP, request.id, APPROVER, card(bot, request))
    ended = wait_for(bot, request.id, {S.ENDED})
    assert ended.status is S.ENDED
    told(bot, APPROVER, "Stopping Momentum")
    assert bot.services.notifier.flush(10)
    assert "Stopped" in card_text(bot, request) and f"<@{APPROVER}> stopped" in thread_text(bot, request)
    actions = story(bot, request.id)
    assert actions[-3:] == ["stop", "status:Stopped", "ended"]
    assert [e.actor for e in bot.services.store.events(request_id=request.id) if e.action == "stop"] == [
        APPROVER
    ]


def test_buttons_refuse_non_approvers(bot: BotHarness) -> None:
    request = running(bot)
    click(bot, Action.STOP, request.id, OUTSIDER, card(bot, request))
    told(bot, OUTSIDER, "Only approvers can stop")
    click(bot, Action.LIQUIDATE, request.id, OUTSIDER, card(bot, request))
    told(bot, OUTSIDER, "Only approvers can liquidate")
    assert bot.qc.calls_to("live/update/stop") == bot.qc.calls_to("live/update/liquidate") == []
    assert bot.services.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]


def test_liquidate_button_liquidates(bot: BotHarness) -> None:
    request = running(bot)
    click(bot, Action.LIQUIDATE, request.id, APPROVER, card(bot, request))
    wait_for(bot, request.id, {S.ENDED})
    assert bot.qc.deployments(request.project_id)[-1].status == "Liquidated"
    assert story(bot, request.id)[-3:] == ["liquidate", "status:Liquidated", "ended"]


def test_status_command_lists_what_runs(bot: BotHarness) -> None:
    request = running(bot)
    command(bot, "status", REQUESTER)
    shown = told(bot, REQUESTER, "What runs on QuantConnect")
    text = str(shown)
    assert "Running" in text and f"<@{REQUESTER}>" in text and f"/project/{request.project_id}/live" in text
    command(bot, f"status {request.project_id}", REQUESTER)
    told(bot, REQUESTER, "Live status of Momentum")
    command(bot, "status Nowhere", REQUESTER)
    told(bot, REQUESTER, "can't find a project called 'Nowhere'")


def test_stop_command_by_name_and_refusal(bot: BotHarness) -> None:
    request = running(bot)
    command(bot, "stop Momentum", OUTSIDER)
    told(bot, OUTSIDER, "Only approvers can stop")
    command(bot, "stop Nowhere", APPROVER)
    told(bot, APPROVER, "can't find a project called 'Nowhere'")
    command(bot, "stop momentum", APPROVER)
    wait_for(bot, request.id, {S.ENDED})
    told(bot, APPROVER, "Stopping Momentum")
    assert story(bot, request.id)[-3:] == ["stop", "status:Stopped", "ended"]


def test_liquidate_command_asks_for_confirmation_first(bot: BotHarness) -> None:
    request = running(bot)
    assert "/qc liquidate &lt;project name or id&gt;" in command(bot, "liquidate", APPROVER)
    command(bot, "liquidate Momentum", OUTSIDER)
    told(bot, OUTSIDER, "Only approvers can liquidate")
    command(bot, "liquidate Momentum", APPROVER)
    prompt = told(bot, APPROVER, "Liquidate Momentum")
    # Nothing happens until the button is clicked (and Slack's confirm dialog accepted).
    assert bot.qc.calls_to("live/update/liquidate") == []
    (button,) = prompt["blocks"][-1]["elements"]
    assert button["action_id"] == Action.LIQUIDATE.value and "confirm" in button
    click(
        bot,
        Action.LIQUIDATE,
        button["value"],
        APPROVER,
        {"blocks": prompt["blocks"], "ts": prompt["message_ts"]},
    )
    wait_for(bot, request.id, {S.ENDED})
    assert bot.qc.deployments(request.project_id)[-1].status == "Liquidated"
    assert_no_secrets(bot)
