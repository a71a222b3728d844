"""Alerts that reach a person, end to end: RuntimeError, DeployError, a stop nobody asked the bot for and
PendingInput post one broadcast thread reply mentioning the requester and, for real money, the approvers
(users and groups); exactly once per change, also across a restart. Pending real-money requests remind their
approvers once, halfway through their time to live."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Action
from bot.statuses import RequestStatus
from bot.store import DeployRequest
from tests.support.bot import APPROVERS, REQUESTER, BotHarness, running_bot
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import (
    approve_if_needed,
    ask,
    card_ts,
    click,
    running,
    settled,
    wait_for,
    wait_live_status,
)
from tests.support.waiting import eventually

S = RequestStatus
IB = ("InteractiveBrokersBrokerage", EXAMPLE_PROFILES["InteractiveBrokersSettings"][1])
GROUP = "SDESKLEADS"
EVERYONE = f"<@{REQUESTER}> <@{APPROVERS[0]}> <@{APPROVERS[1]}> <!subteam^{GROUP}>"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    env = {"APPROVER_GROUP_IDS": GROUP}
    with running_bot(tmp_path_factory.mktemp("alerts"), env=env, profiles={"ib-main": IB}) as harness:
        harness.slack.set_usergroup(GROUP, [APPROVERS[1]])
        yield harness


def _real_money_running(bot: BotHarness, name: str) -> DeployRequest:
    request = ask(bot, name)
    request = eventually(lambda: card_ts(bot, request.id) and bot.services.store.get_request(request.id))
    approve_if_needed(bot, request)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    return bot.services.store.get_request(request.id)  # type: ignore[return-value]


def _alerts(bot: BotHarness, request: DeployRequest, marker: str) -> list[dict[str, Any]]:
    """Broadcast replies in the request's thread whose text holds `marker`."""
    ts = card_ts(bot, request.id) or ""
    return [
        c.body
        for c in bot.slack.calls_to("chat.postMessage")
        if c.body.get("thread_ts") == ts
        and marker in str(c.body.get("text"))
        and c.body.get("reply_broadcast")
    ]


def _exactly_one(bot: BotHarness, request: DeployRequest, marker: str) -> dict[str, Any]:
    eventually(lambda: _alerts(bot, request, marker), what=f"alert {marker}")
    settled(bot)
    found = _alerts(bot, request, marker)
    assert len(found) == 1, found
    return found[0]


def test_a_runtime_error_of_real_money_mentions_requester_and_approvers_once(bot: BotHarness) -> None:
    request = _real_money_running(bot, "Alert Runtime")
    bot.qc.set_status(request.project_id, "RuntimeError", "Brokerage disconnected")
    wait_for(bot, request.id, {S.FAILED})
    alert = _exactly_one(bot, request, "stopped with *RuntimeError*")
    assert alert["text"].startswith(f":rotating_light: {EVERYONE} ")
    assert "Brokerage disconnected" in alert["text"]
    bot.restart()  # the status is recorded: a new process finds nothing new to say
    eventually(lambda: bot.services.notifier.flush(5))
    assert len(_alerts(bot, request, "stopped with *RuntimeError*")) == 1


def test_a_stop_outside_the_bot_alerts_but_a_stop_through_the_bot_does_not(bot: BotHarness) -> None:
    outside = _real_money_running(bot, "Alert Outside")
    bot.qc.set_status(outside.project_id, "Stopped")
    wait_for(bot, outside.id, {S.ENDED})
    assert _exactly_one(bot, outside, "was stopped outside this bot")["text"].startswith(
        f":warning: {EVERYONE}"
    )

    inside = _real_money_running(bot, "Alert Inside")
    click(bot, Action.STOP, inside.id, APPROVERS[0])
    wait_for(bot, inside.id, {S.ENDED})
    settled(bot)
    assert _alerts(bot, inside, "outside this bot") == []


def test_pending_input_asks_for_a_person_once_per_change(bot: BotHarness) -> None:
    request = _real_money_running(bot, "Alert Two Factor")
    bot.qc.set_status(request.project_id, "PendingInput", "Waiting for IB two-factor approval")
    wait_live_status(bot, request.id, "PendingInput")
    _exactly_one(bot, request, "is waiting for input at the brokerage")
    bot.qc.set_status(request.project_id, "Running")
    wait_live_status(bot, request.id, "Running")
    settled(bot)
    assert len(_alerts(bot, request, "is waiting for input")) == 1


def test_paper_alerts_mention_only_the_requester(bot: BotHarness) -> None:
    request = running(bot, "Alert Paper")
    bot.qc.set_status(request.project_id, "DeployError", "Bad login")
    wait_for(bot, request.id, {S.FAILED})
    alert = _exactly_one(bot, request, "stopped with *DeployError*")
    assert (
        f"<@{REQUESTER}>" in alert["text"]
        and "<@UAPPROVER" not in alert["text"]
        and "subteam" not in alert["text"]
    )


def test_pending_real_money_requests_remind_their_approvers_once_at_half_their_ttl(bot: BotHarness) -> None:
    request = ask(bot, "Alert Reminder")
    eventually(lambda: card_ts(bot, request.id))
    sweeper = bot.services.sweeper
    sweeper.run_once()
    assert _alerts(bot, request, "still waits for approval") == []
    bot.clock.advance(minutes=31)  # REQUEST_TTL_MINUTES is 60
    sweeper.run_once()
    sweeper.run_once()
    bot.restart()
    bot.services.sweeper.run_once()
    eventually(lambda: _alerts(bot, request, "still waits for approval"), what="reminder")
    settled(bot)
    reminders = _alerts(bot, request, "still waits for approval")
    assert len(reminders) == 1
    assert f"<@{APPROVERS[0]}> <@{APPROVERS[1]}> <!subteam^{GROUP}>" in reminders[0]["text"]
    assert [e.action for e in bot.services.store.events(request_id=request.id)].count("reminded") == 1
