"""End to end: the real bot over signed HTTP against the fake Slack and QuantConnect — the approval flow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.ids import Action, Block, Callback
from bot.store import DeployRequest, RequestStatus
from tests.fakes.slack_requests import block_actions_body, new_trigger_id, sign, state_from_view
from tests.support.bot import DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.waiting import eventually

S = RequestStatus
IB_SECRETS = {"ib-user-name": "trader-joe-77", "ib-password": "hunter2-Sup3rSecret", "ib-account": "U7654321"}
PROFILES = {"ib-main": ("InteractiveBrokersBrokerage", IB_SECRETS)}


def has_block(block_id: str) -> Callable[[Any], bool]:
    return lambda call: any(
        b.get("block_id") == block_id for b in (call.body.get("view") or {}).get("blocks", [])
    )


def request_via_modal(
    bot: BotHarness, *, user: str = REQUESTER, project: str = "Momentum", mode: str = "live"
) -> DeployRequest:
    """Type `/qc deploy`, pick Interactive Brokers, fill the modal and submit; returns the stored request."""
    project_id = bot.qc.add_project(project)
    before = {r.id for r in bot.services.store.list_requests(limit=1000)}
    trigger = new_trigger_id()
    answer = bot.sender.command("deploy", user_id=user, channel_id=DEPLOY_CHANNEL, trigger_id=trigger)
    assert answer.status_code == 200
    # Follow this command's own modal: earlier modals of the same bot are recorded too.
    opened = bot.slack.wait_for("views.open", lambda c: c.body.get("trigger_id") == trigger)
    view = bot.slack.view(opened.response["view"]["id"])
    brokerage = next(b for b in view["blocks"] if b.get("block_id") == Block.BROKERAGE)["element"]
    ib = next(o for o in brokerage["options"] if o["value"] == "InteractiveBrokersSettings")
    bot.sender.action(
        Action.BROKERAGE_SELECT,
        user_id=user,
        view=view,
        block_id=Block.BROKERAGE,
        action_type="static_select",
        selected_option=ib,
    )
    bot.slack.wait_for(
        "views.update",
        lambda c: c.body.get("view_id") == view["id"] and has_block("ib-trading-mode")(c),
    )
    view = bot.slack.view(view["id"])
    values = state_from_view(
        view,
        {
            Block.PROJECT: {
                Action.PROJECT_SELECT: {
                    "text": {"type": "plain_text", "text": f"{project} ({project_id})"},
                    "value": str(project_id),
                }
            },
            Block.PROFILE: "ib-main",
            "ib-trading-mode": mode,
            Block.REASON: f"Deploy {project} for the quarter",
        },
    )
    answer = bot.sender.submit(view, values, user_id=user)
    assert answer.status_code == 200 and "errors" not in answer.text, answer.text
    request: DeployRequest = eventually(
        lambda: next((r for r in bot.services.store.list_requests(limit=1000) if r.id not in before), None),
        what="the stored request",
    )
    # The card goes out after the modal closes; wait for it, so that tests moving the clock start from it.
    card_ts(bot, request.id)
    return request


@contextmanager
def bot_with_profiles(tmp_path: Path, **kw: Any) -> Iterator[BotHarness]:
    """A running bot with the IB profile; the test sender's keep-alive connections closed before it stops."""
    with running_bot(tmp_path, profiles=PROFILES, **kw) as bot:
        try:
            yield bot
        finally:
            close_sender(bot)


def close_sender(bot: BotHarness) -> None:
    """Close the sender's pooled connections so that the HTTP server stops at once."""
    if bot.sender is not None:
        bot.sender.close()


def card_ts(bot: BotHarness, request_id: str) -> str:
    return eventually(
        lambda: getattr(bot.services.store.get_request(request_id), "message_ts", None), what="card"
    )


def card(bot: BotHarness, request_id: str) -> dict[str, Any]:
    return bot.slack.message(DEPLOY_CHANNEL, card_ts(bot, request_id))


def click(bot: BotHarness, action: str, request_id: str, user: str) -> httpx.Response:
    """Click a card button as `user`, as Slack would send it."""
    return bot.sender.action(
        action, request_id, user_id=user, channel_id=DEPLOY_CHANNEL, message=card(bot, request_id)
    )


def status(bot: BotHarness, request_id: str) -> S:
    request = bot.services.store.get_request(request_id)
    assert request is not None
    return request.status


def told(bot: BotHarness, user: str, text: str) -> str:
    """Wait until `user` was shown an ephemeral containing `text`; returns it."""
    return eventually(
        lambda: next((m["text"] for m in bot.slack.ephemerals(user) if text in m["text"]), None),
        what=f"an ephemeral to {user} saying {text!r}",
    )


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]
    ]


def assert_no_secret_reached_slack(bot: BotHarness) -> None:
    text = bot.slack.all_text()
    for value in IB_SECRETS.values():
        assert value not in text


def approvals_events(bot: BotHarness, request_id: str) -> list[str]:
    return [e.actor for e in bot.services.store.events(request_id=request_id) if e.action == "approved"]


def test_request_is_stored_posted_and_confirmed_then_approved_in_place(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        assert request.status is S.PENDING and request.is_paper is False and request.approvals_needed == 1
        message = card(bot, request.id)
        assert "💰 REAL MONEY" in message["blocks"][0]["text"]["text"]
        assert buttons(message) == ["approve", "reject", "cancel", "preview"]
        confirmation = told(bot, REQUESTER, request.id)
        assert "https://" in confirmation

        assert click(bot, Action.APPROVE, request.id, "UAPPROVER1").status_code == 200
        eventually(lambda: status(bot, request.id) is not S.PENDING, what="approval")
        assert approvals_events(bot, request.id) == ["UAPPROVER1"]
        updated = eventually(
            lambda: (m := card(bot, request.id)) and "approve" not in buttons(m) and m, what="card update"
        )
        assert "UAPPROVER1" in json.dumps(updated["blocks"])
        assert len(bot.slack.messages(DEPLOY_CHANNEL)) == 1, "the card is updated in place"
        assert bot.slack.calls_to("chat.update")
        # Exactly one hand-off to the deployer: once the request is live, one live/create was sent.
        eventually(lambda: status(bot, request.id) is S.LIVE, what="the deployment to go live")
        assert len(bot.qc.calls_to("live/create")) == 1
        assert_no_secret_reached_slack(bot)


def test_self_approval_and_non_approvers_are_refused(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot, user="UAPPROVER1")
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        assert "your own request" in told(bot, "UAPPROVER1", "own request")
        click(bot, Action.APPROVE, request.id, "UNOBODY")
        assert "Only approvers can approve" in told(bot, "UNOBODY", "Only approvers")
        assert status(bot, request.id) is S.PENDING
        assert bot.services.store.approvals(request.id) == []
        assert "approve" in buttons(card(bot, request.id))


def test_double_click_and_concurrent_approvals_count_once(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        message = card(bot, request.id)
        bodies = [
            block_actions_body(
                Action.APPROVE, request.id, user_id=user, channel_id=DEPLOY_CHANNEL, message=message
            )
            for user in ("UAPPROVER1", "UAPPROVER1", "UAPPROVER2", "UAPPROVER2")
        ]
        # The first body is also sent twice, as a Slack retry would redeliver it.
        bodies.append(bodies[0])
        barrier = threading.Barrier(len(bodies))
        answers: list[int] = []

        def send(body: bytes) -> None:
            barrier.wait()
            answers.append(bot.sender.send(body).status_code)

        threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [200] * len(bodies)
        # Once live, every click has been handled: one approval counted, one compile, one live/create.
        eventually(lambda: status(bot, request.id) is S.LIVE, what="the deployment to go live")
        assert len(approvals_events(bot, request.id)) == 1
        assert len(bot.services.store.approvals(request.id)) == 1
        compiling = [
            e
            for e in bot.services.store.events(request_id=request.id)
            if e.detail.get("status") == "compiling"
        ]
        assert len(compiling) == 1
        assert len(bot.qc.calls_to("live/create")) == 1


def test_real_money_can_need_two_approvals(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path, env={"APPROVALS_LIVE": "2"}) as bot:
        request = request_via_modal(bot)
        assert request.approvals_needed == 2
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        told(bot, "UAPPROVER1", "1 of 2")
        assert status(bot, request.id) is S.PENDING
        eventually(lambda: "1 of 2" in json.dumps(card(bot, request.id)["blocks"]), what="1 of 2 on the card")
        click(bot, Action.APPROVE, request.id, "UAPPROVER2")
        eventually(lambda: status(bot, request.id) is not S.PENDING, what="second approval")
        assert approvals_events(bot, request.id) == ["UAPPROVER1", "UAPPROVER2"]


def test_reject_with_a_reason(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        click(bot, Action.REJECT, request.id, REQUESTER)
        assert "Cancel" in told(bot, REQUESTER, "Only approvers can reject")
        click(bot, Action.REJECT, request.id, "UAPPROVER2")
        bot.slack.wait_for(
            "views.open", lambda c: c.body["view"].get("callback_id") == Callback.REJECT_REASON
        )
        view = bot.slack.last_view(Callback.REJECT_REASON)
        values = state_from_view(view, {Block.REJECT_REASON: "Wrong trading mode for this account"})
        answer = bot.sender.submit(view, values, user_id="UAPPROVER2")
        assert answer.status_code == 200 and "errors" not in answer.text
        assert status(bot, request.id) is S.REJECTED
        shown = eventually(
            lambda: (
                "Wrong trading mode" in json.dumps(card(bot, request.id)["blocks"]) and card(bot, request.id)
            ),
            what="rejected card",
        )
        assert buttons(shown) == [] and "UAPPROVER2" in json.dumps(shown["blocks"])
        # A late approval is told the request was rejected.
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        told(bot, "UAPPROVER1", "already rejected")
        # Submitting the reason modal again changes nothing and says why, inside the modal.
        again = bot.sender.submit(view, values, user_id="UAPPROVER1")
        assert "already rejected" in again.json()["errors"][Block.REJECT_REASON]


def test_cancel_by_the_requester_only(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        click(bot, Action.CANCEL, request.id, "UAPPROVER1")
        told(bot, "UAPPROVER1", "Only the requester")
        assert status(bot, request.id) is S.PENDING
        click(bot, Action.CANCEL, request.id, REQUESTER)
        eventually(lambda: status(bot, request.id) is S.CANCELLED, what="cancel")
        eventually(lambda: "Cancelled" in json.dumps(card(bot, request.id)["blocks"]), what="cancelled card")


def test_expiry_on_click_and_by_the_sweeper(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        clicked = request_via_modal(bot, project="Alpha")
        swept = request_via_modal(bot, project="Beta")
        bot.clock.advance(minutes=61)
        click(bot, Action.APPROVE, clicked.id, "UAPPROVER1")
        assert "expired" in told(bot, "UAPPROVER1", "expired")
        assert status(bot, clicked.id) is S.EXPIRED
        assert [r.id for r in bot.services.sweeper.run_once()] == [swept.id]
        for request in (clicked, swept):
            eventually(
                lambda r=request: "Expired" in json.dumps(card(bot, r.id)["blocks"]), what="expired card"
            )
            assert buttons(card(bot, request.id)) == []
        assert bot.qc.calls_to("live/create") == []


def test_a_restart_between_request_and_approval_loses_nothing(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        message = card(bot, request.id)
        close_sender(bot)
        bot.restart()
        answer = bot.sender.action(
            Action.APPROVE, request.id, user_id="UAPPROVER1", channel_id=DEPLOY_CHANNEL, message=message
        )
        assert answer.status_code == 200
        eventually(lambda: status(bot, request.id) is not S.PENDING, what="approval after restart")
        assert approvals_events(bot, request.id) == ["UAPPROVER1"]


def test_preview_shows_the_masked_body(tmp_path: Any) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        click(bot, Action.PREVIEW, request.id, "UAPPROVER2")
        bot.slack.wait_for("views.open", lambda c: c.body["view"].get("callback_id") == Callback.PREVIEW)
        shown = json.dumps(bot.slack.last_view(Callback.PREVIEW)["blocks"])
        assert "********" in shown and "assigned at deploy" in shown and "first free node at deploy" in shown
        assert_no_secret_reached_slack(bot)


@pytest.mark.parametrize("kind", ["unsigned", "bad signature", "replayed"])
def test_unsigned_badly_signed_and_replayed_clicks_are_refused(tmp_path: Any, kind: str) -> None:
    with bot_with_profiles(tmp_path) as bot:
        request = request_via_modal(bot)
        body = block_actions_body(
            Action.APPROVE,
            request.id,
            user_id="UAPPROVER1",
            channel_id=DEPLOY_CHANNEL,
            message=card(bot, request.id),
        )
        if kind == "unsigned":
            answer = bot.sender.send(body, sign=False)
        elif kind == "bad signature":
            answer = bot.sender.send(body, signature="v0=" + "0" * 64)
        else:
            old = int(time.time()) - 301
            headers = sign(bot.sender.signing_secret, body, old)
            answer = httpx.post(bot.sender.url, content=body, headers=headers)
        # Refused before any listener ran: nothing is left to happen later.
        assert answer.status_code == 401
        assert status(bot, request.id) is S.PENDING
        assert bot.services.store.approvals(request.id) == []
