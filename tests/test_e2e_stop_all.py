"""The emergency stop-all end to end through the signed HTTP app: approvers only, a typed confirmation, every
running deployment QuantConnect reports stopped once (in parallel), one report line each in the channel,
failures listed with QuantConnect's words, and one stop-all at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Block, Callback
from bot.statuses import RequestStatus
from bot.store import DeployRequest
from tests.fakes.slack_requests import new_trigger_id, state_from_view
from tests.support.bot import APPROVERS, REQUESTER, BotHarness, running_bot
from tests.support.deploy_flow import block_of, view_update
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import approve_if_needed, ask, card_ts, running, wait_for, wait_live_status
from tests.support.waiting import eventually

S = RequestStatus
IB = ("InteractiveBrokersBrokerage", EXAMPLE_PROFILES["InteractiveBrokersSettings"][1])


@pytest.fixture
def bot(tmp_path: Any) -> Iterator[BotHarness]:
    with running_bot(tmp_path, env={"STOP_ALL_CONCURRENCY": "3"}, profiles={"ib-main": IB}) as harness:
        yield harness


def _real_money(bot: BotHarness, name: str) -> DeployRequest:
    request = ask(bot, name)
    request = eventually(lambda: card_ts(bot, request.id) and bot.services.store.get_request(request.id))
    approve_if_needed(bot, request)
    wait_for(bot, request.id, {S.LIVE})
    wait_live_status(bot, request.id, "Running")
    return bot.services.store.get_request(request.id)  # type: ignore[return-value]


def _three_running(bot: BotHarness) -> list[DeployRequest]:
    paper = running(bot, "Zeta Paper")
    alpha, beta = _real_money(bot, "Alpha Real"), _real_money(bot, "Beta Real")
    bot.qc.set_equity(alpha.project_id, 125000.5)
    return [paper, alpha, beta]


def _open(bot: BotHarness, user_id: str = APPROVERS[0]) -> dict[str, Any]:
    trigger = new_trigger_id()
    assert bot.sender.command("stop-all", user_id=user_id, trigger_id=trigger).status_code == 200
    opened = bot.slack.wait_for("views.open", lambda c: c.body.get("trigger_id") == trigger).response["view"]
    assert opened["callback_id"] == Callback.STOP_ALL
    return view_update(bot, opened["id"], lambda v: "running deployment" in json.dumps(v["blocks"]))


def _submit(
    bot: BotHarness, view: dict[str, Any], word: str, mode: str = "stop", user: str = APPROVERS[0]
) -> Any:
    values = {Block.STOP_ALL_MODE: mode, Block.STOP_ALL_CONFIRM: word}
    response = bot.sender.submit(view, state_from_view(view, values), user_id=user)
    assert response.status_code == 200
    return json.loads(response.text) if response.text.strip() else None


def _report(bot: BotHarness) -> str:
    call = bot.slack.wait_for(
        "chat.postMessage",
        lambda c: "-all by" in str(c.body.get("text")) and not c.body.get("thread_ts"),
        timeout=20,
    )
    return json.dumps(call.body.get("blocks"), ensure_ascii=False)


def _stops(bot: BotHarness, project_id: int) -> int:
    return sum(1 for c in bot.qc.calls_to("live/update/stop") if c.body.get("projectId") == project_id)


def test_stop_all_lists_real_money_first_and_stops_every_deployment_once(bot: BotHarness) -> None:
    paper, alpha, beta = _three_running(bot)
    view = _open(bot)
    listing = block_of(view, Block.STOP_ALL_LIST)["text"]["text"]
    lines = listing.splitlines()[1:]
    assert [("Alpha" in line, "Beta" in line, "Zeta" in line) for line in lines] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert "REAL MONEY" in lines[0] and "InteractiveBrokers" in lines[0] and "equity 125,000.50" in lines[0]
    assert "paper" in lines[2]

    assert _submit(bot, view, "STOP") is None
    report = _report(bot)
    assert "3 stopped, 0 already stopped, 0 failed" in report
    for request in (paper, alpha, beta):
        assert request.project_name in report
        wait_for(bot, request.id, {S.ENDED})
        assert _stops(bot, request.project_id) == 1
        actions = [e.action for e in bot.services.store.events(request_id=request.id)]
        assert "stop_requested" in actions and "stop" in actions
    bot.services.notifier.flush(10)
    assert not [
        c for c in bot.slack.calls_to("chat.postMessage") if "outside this bot" in str(c.body.get("text"))
    ]
    everything = [e.action for e in bot.services.store.events(limit=1000)]
    assert everything.count("stop_all_started") == 1 and everything.count("stop_all_finished") == 1


def test_without_the_typed_word_or_for_a_non_approver_nothing_is_stopped(bot: BotHarness) -> None:
    request = running(bot, "Guarded")
    view = _open(bot)
    for word, mode in (("", "stop"), ("stop", "stop"), ("STOP", "liquidate")):
        answer = _submit(bot, view, word, mode)
        assert answer["response_action"] == "errors" and Block.STOP_ALL_CONFIRM in answer["errors"]
    trigger = new_trigger_id()
    assert bot.sender.command("stop-all", user_id=REQUESTER, trigger_id=trigger).status_code == 200
    bot.slack.wait_for("response_url", lambda c: "approver" in json.dumps(c.body).lower())
    assert not bot.slack.calls_to("views.open") or all(
        c.body.get("trigger_id") != trigger for c in bot.slack.calls_to("views.open")
    )
    refused = _submit(bot, view, "STOP", user=REQUESTER)
    assert refused["response_action"] == "errors"
    assert bot.qc.calls_to("live/update/stop") == [] and bot.qc.calls_to("live/update/liquidate") == []
    assert bot.services.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]


def test_failures_are_listed_with_quantconnects_words_and_not_reported_stopped(bot: BotHarness) -> None:
    paper, alpha, beta = _three_running(bot)
    bot.qc.refuse_halt(alpha.project_id, "Brokerage connection lost, try again")
    view = _open(bot)
    _submit(bot, view, "STOP")
    report = _report(bot)
    assert "2 stopped, 0 already stopped, 1 failed" in report
    assert "Alpha Real" in report and "failed — Brokerage connection lost, try again" in report
    wait_for(bot, paper.id, {S.ENDED})
    wait_for(bot, beta.id, {S.ENDED})
    assert bot.services.store.get_request(alpha.id).status is S.LIVE  # type: ignore[union-attr]
    assert "stop_failed" in [e.action for e in bot.services.store.events(request_id=alpha.id)]


def test_quantconnect_down_lists_each_failure(bot: BotHarness) -> None:
    _three_running(bot)
    view = _open(bot)
    bot.qc.fail("live/update/stop", status=503, times=10)
    bot.qc.fail("live/read", status=503, times=100)
    _submit(bot, view, "STOP")
    report = _report(bot)
    assert "0 stopped, 0 already stopped, 3 failed" in report


def test_a_second_stop_all_is_refused_naming_who_started_the_first(bot: BotHarness) -> None:
    request = running(bot, "Held")
    view = _open(bot)
    bot.qc.hold("live/update/stop")
    try:
        assert _submit(bot, view, "STOP") is None
        eventually(lambda: bot.qc.calls_to("live/update/stop") or None, what="the first stop under way")
        second = _submit(bot, _open(bot, APPROVERS[1]), "STOP", user=APPROVERS[1])
        assert second["response_action"] == "errors"
        assert f"started by Slack user {APPROVERS[0]}" in second["errors"][Block.STOP_ALL_CONFIRM]
    finally:
        bot.qc.release_held()
    assert "1 stopped" in _report(bot)
    wait_for(bot, request.id, {S.ENDED})
    assert _stops(bot, request.project_id) == 1
