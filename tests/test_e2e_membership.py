"""Approver-group membership is read fresh for what moves real money, through the running bot.

Someone removed from an approver group between two clicks, well within GROUP_CACHE_SECONDS, can no longer
complete a real-money approval, stop or liquidate (buttons and commands).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.ids import Action, Callback
from bot.store import DeployRequest, RequestStatus
from tests.fakes.slack_requests import app_home_opened_event
from tests.support.bot import DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import IB_PROFILES, example_profiles
from tests.support.flows import ask, quick, running, wait_for
from tests.support.waiting import eventually

S = RequestStatus
GROUP = "SDESK"
DESK = "UDESK"
ENV = {
    "APPROVER_USER_IDS": "UAPPROVER1",
    "APPROVER_GROUP_IDS": GROUP,
    "GROUP_CACHE_SECONDS": "3600",
}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles={**example_profiles(), **IB_PROFILES}, env=ENV) as harness:
        harness.slack.set_usergroup(GROUP, [DESK, "UDESK2"])
        yield quick(harness)


def told(bot: BotHarness, user: str, needle: str) -> str:
    return str(
        eventually(
            lambda: next((e["text"] for e in bot.slack.ephemerals(user) if needle in e["text"]), None),
            what=f"an ephemeral to {user} saying {needle!r}",
        )
    )


def card(bot: BotHarness, request: DeployRequest) -> dict[str, Any]:
    ts = eventually(lambda: getattr(bot.services.store.get_request(request.id), "message_ts", None))
    return bot.slack.message(DEPLOY_CHANNEL, ts)


def click(bot: BotHarness, action: Action, request: DeployRequest, user: str) -> None:
    response = bot.sender.action(
        action, request.id, user_id=user, channel_id=DEPLOY_CHANNEL, message=card(bot, request)
    )
    assert response.status_code == 200


def group_reads(bot: BotHarness) -> int:
    return len(bot.slack.calls_to("usergroups.users.list"))


def test_removed_member_cannot_complete_a_real_money_approval(bot: BotHarness) -> None:
    request = ask(bot, "Fresh Approval")
    assert not request.is_paper and request.approvals_needed == 1
    # First click: Preview, allowed to approvers; the membership is now cached for an hour.
    click(bot, Action.PREVIEW, request, DESK)
    bot.slack.wait_for("views.open", lambda c: c.body["view"].get("callback_id") == Callback.PREVIEW)
    bot.slack.set_usergroup(GROUP, ["UDESK2"])
    reads = group_reads(bot)
    # Second click, within the cache window: Approve would complete a real-money request.
    click(bot, Action.APPROVE, request, DESK)
    assert "Only approvers can approve" in told(bot, DESK, "Only approvers can approve")
    assert group_reads(bot) > reads, "the membership was read from Slack, not from the cache"
    assert bot.services.store.approvals(request.id) == []
    assert bot.services.store.get_request(request.id).status is S.PENDING  # type: ignore[union-attr]
    # A member who is still in the group completes it.
    click(bot, Action.APPROVE, request, "UDESK2")
    eventually(lambda: bot.services.store.approvals(request.id) == ["UDESK2"], what="the approval")


def test_removed_member_cannot_stop_or_liquidate_by_button_or_command(bot: BotHarness) -> None:
    request = running(bot, "Fresh Stop")
    # First click: the App Home, which reads the member as an approver (and caches that).
    assert bot.sender.event(app_home_opened_event(DESK)).status_code == 200
    bot.slack.wait_for("views.publish", lambda c: c.body.get("user_id") == DESK)
    assert "you are not an approver" not in str(bot.slack.home(DESK))
    bot.slack.set_usergroup(GROUP, ["UDESK2"])

    click(bot, Action.STOP, request, DESK)
    told(bot, DESK, "Only approvers can stop")
    click(bot, Action.LIQUIDATE, request, DESK)
    told(bot, DESK, "Only approvers can liquidate")
    for text in ("stop Fresh Stop", "liquidate Fresh Stop"):
        before = len(bot.slack.ephemerals(DESK))
        assert bot.sender.command(text, user_id=DESK, channel_id=DEPLOY_CHANNEL).status_code == 200
        eventually(lambda: len(bot.slack.ephemerals(DESK)) > before, what=f"the answer to /qc {text}")  # noqa: B023
        assert "Only approvers can" in bot.slack.ephemerals(DESK)[-1]["text"]
    assert bot.qc.calls_to("live/update/stop") == bot.qc.calls_to("live/update/liquidate") == []
    assert bot.services.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]

    click(bot, Action.STOP, request, "UDESK2")
    wait_for(bot, request.id, {S.ENDED})
