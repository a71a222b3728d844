"""Authorization through QuantConnect (`auth=quantconnect` profiles) end to end, through the running bot:
token missing -> the requester gets the link by DM -> the token appears -> deployed; never authorized ->
expired with the reason and the project free again; the token is masked and never stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.forms import DeployForm
from bot.ids import Action
from bot.requests import RequestRejected
from bot.statuses import RequestStatus
from bot.store import DeployRequest
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION
from tests.fakes.qc_schema import validate_live_create
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import (
    approve_if_needed,
    card_text,
    quick,
    settled,
    story,
    thread_text,
    wait_for,
    wait_live_status,
)
from tests.support.waiting import eventually

S = RequestStatus
ALPACA = EXAMPLE_PROFILES["AlpacaBrokerageSettings"][1]
TOKEN = "qc-held-alpaca-token-7f3a9c2b"
PROFILES = {
    # Only the data feed's key and secret are stored: the trading token comes from QuantConnect.
    "alpaca-qc": (
        "AlpacaBrokerage",
        {"auth": "quantconnect", **{k: v for k, v in ALPACA.items() if k != "alpaca-access-token"}},
    ),
    "tasty-qc": ("TastytradeBrokerage", {"auth": "quantconnect", "tastytrade-account-number": "50000001"}),
    "tasty-odd": ("TastytradeBrokerage", {"auth": "oauth", **EXAMPLE_PROFILES["TastytradeSettings"][1]}),
}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles=PROFILES) as harness:
        yield quick(harness)


def _ask(bot: BotHarness, project: str, *, profile: str = "alpaca-qc") -> DeployRequest:
    project_id = bot.qc.add_project(project)
    model_key = "AlpacaBrokerageSettings" if profile == "alpaca-qc" else "TastytradeSettings"
    settings = {"alpaca-environment": "live"} if profile == "alpaca-qc" else {}
    form = DeployForm(
        model_key=model_key,
        profile=profile,
        project_id=project_id,
        project_name=project,
        version_id=str(FAKE_LEAN_VERSION),
        settings=settings,
        data_providers=["AlpacaBrokerage", "QuantConnectBrokerage"] if profile == "alpaca-qc" else [],
        reason="Alpaca through QuantConnect",
    )
    request = bot.services.requests.create(form, requester_id=REQUESTER)
    bot.services.requests.announce(request)
    request = eventually(lambda: (r := bot.services.store.get_request(request.id)) and r.message_ts and r)
    approve_if_needed(bot, request)
    return request


def _dms_with_link(bot: BotHarness) -> list[str]:
    return [
        m.get("text", "")
        for m in bot.slack.messages(REQUESTER)
        if "authorize QuantConnect" in m.get("text", "")
    ]


def test_missing_token_dms_the_link_then_deploys_once_it_appears(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = _ask(bot, "Alpaca Authorize")
    waiting = wait_for(bot, request.id, {S.AUTHORIZING})
    assert waiting.next_check_at is not None and waiting.settle_deadline is not None
    [dm] = eventually(lambda: _dms_with_link(bot), what="the authorization DM")
    assert bot.qc.auth0.links[-1].replace("&", "&amp;") in dm
    eventually(lambda: "Waiting for Alpaca authorization by <@UREQUESTER>" in card_text(bot, request))
    home = json.dumps(bot.services.home.view(APPROVERS[0]))
    assert "waiting for Alpaca authorization by <@UREQUESTER>" in home
    assert bot.qc.calls_to("compile/create") == [] and bot.qc.calls_to("live/create") == []

    # Still nothing held at the next checks: the request keeps waiting, no second DM.
    bot.clock.advance(seconds=30)
    eventually(lambda: len(bot.qc.calls_to("live/auth0/read")) >= 2, what="a second look")
    assert bot.services.store.get_request(request.id).status is S.AUTHORIZING

    bot.qc.auth0.grant("alpaca", {"alpaca-access-token": TOKEN})
    bot.clock.advance(seconds=120)
    wait_for(bot, request.id, {S.LIVE}, timeout=30)
    wait_live_status(bot, request.id, "Running", timeout=30)
    settled(bot)

    [sent] = [c.body for c in bot.qc.calls_to("live/create")]
    assert validate_live_create(sent) == []
    assert sent["brokerage"]["alpaca-access-token"] == TOKEN
    assert list(sent["dataProviders"]) == ["AlpacaBrokerage", "QuantConnectBrokerage"]
    assert len(_dms_with_link(bot)) == 1
    assert {"authorization_requested", "authorized", "deploying", "deployed"} <= set(story(bot, request.id))
    assert "authorized on QuantConnect" in thread_text(bot, request)
    # A token read from QuantConnect is a secret: masked everywhere, never stored.
    assert TOKEN not in bot.slack.all_text() and TOKEN not in caplog.text
    for stored in bot.tmp_path.glob("bot.sqlite3*"):  # the database and its journal
        assert TOKEN.encode() not in stored.read_bytes(), stored.name


def test_authorization_never_given_expires_the_request_and_frees_the_project(bot: BotHarness) -> None:
    request = _ask(bot, "Alpaca Never")
    wait_for(bot, request.id, {S.AUTHORIZING})
    bot.clock.advance(minutes=61)
    expired = wait_for(bot, request.id, {S.EXPIRED}, timeout=30)
    settled(bot)
    assert expired.owner is None and "was not authorized on QuantConnect" in expired.errors[0]
    assert "Expired" in card_text(bot, request) and "not authorized" in card_text(bot, request)
    assert bot.qc.calls_to("compile/create") == [] and bot.qc.calls_to("live/create") == []
    assert bot.services.store.open_request_for_project(request.project_id) is None
    assert story(bot, request.id)[-1] == "authorization_expired"


def test_the_requester_may_cancel_while_waiting_and_an_approver_may_not(bot: BotHarness) -> None:
    request = _ask(bot, "Alpaca Withdrawn")
    wait_for(bot, request.id, {S.AUTHORIZING})
    card = eventually(
        lambda: (
            (m := bot.slack.message(DEPLOY_CHANNEL, request.message_ts or ""))
            and "Waiting for Alpaca" in json.dumps(m)
            and m
        )
    )
    buttons = [
        e["action_id"] for b in card.get("blocks", []) if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [Action.CANCEL]
    refused = bot.sender.action(
        Action.CANCEL, request.id, user_id=APPROVERS[0], channel_id=DEPLOY_CHANNEL, message=card
    )
    assert refused.status_code == 200
    assert bot.services.store.get_request(request.id).status is S.AUTHORIZING  # type: ignore[union-attr]
    bot.sender.action(Action.CANCEL, request.id, user_id=REQUESTER, channel_id=DEPLOY_CHANNEL, message=card)
    cancelled = wait_for(bot, request.id, {S.CANCELLED})
    assert cancelled.owner is None and cancelled.decided_by == REQUESTER
    assert bot.services.store.open_request_for_project(request.project_id) is None
    # The authorization arriving later changes nothing: the owner's move from authorizing finds it gone.
    bot.qc.auth0.grant("alpaca", {"alpaca-access-token": TOKEN})
    bot.clock.advance(seconds=120)
    settled(bot)
    assert bot.services.store.get_request(request.id).status is S.CANCELLED  # type: ignore[union-attr]
    assert bot.qc.calls_to("compile/create") == [] and bot.qc.calls_to("live/create") == []


def test_token_already_held_compiles_at_once_without_a_dm(bot: BotHarness) -> None:
    bot.qc.auth0.grant("tastytrade", {"tastytrade-refresh-token": TOKEN})
    request = _ask(bot, "Tasty Held", profile="tasty-qc")
    wait_for(bot, request.id, {S.LIVE}, timeout=30)
    settled(bot)
    [sent] = [c.body for c in bot.qc.calls_to("live/create")]
    assert validate_live_create(sent) == []
    assert sent["brokerage"] == {
        "id": "TastytradeBrokerage",
        "tastytrade-account-number": 50000001,
        "tastytrade-refresh-token": TOKEN,
    }
    assert _dms_with_link(bot) == [] and "authorizing" not in story(bot, request.id)
    assert TOKEN not in bot.slack.all_text()


def test_an_authorization_gone_before_live_create_sends_nothing(bot: BotHarness) -> None:
    # Held at the first look only: by the time the body is built, QuantConnect holds nothing any more.
    bot.qc.auth0.grant("tastytrade", {"tastytrade-refresh-token": TOKEN}, lasts_reads=1)
    request = _ask(bot, "Tasty Gone", profile="tasty-qc")
    failed = wait_for(bot, request.id, {S.FAILED}, timeout=30)
    settled(bot)
    assert "no longer holds the Tastytrade authorization" in failed.errors[0]
    assert bot.qc.calls_to("live/create") == []
    assert bot.services.store.open_request_for_project(request.project_id) is None


def test_an_auth_value_other_than_quantconnect_is_refused_naming_the_field(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Tasty odd auth")
    form = DeployForm(
        model_key="TastytradeSettings",
        profile="tasty-odd",
        project_id=project_id,
        project_name="Tasty odd auth",
        version_id=str(FAKE_LEAN_VERSION),
        reason="no",
    )
    with pytest.raises(RequestRejected) as caught:
        bot.services.requests.create(form, requester_id=REQUESTER)
    assert caught.value.field == "profile" and "auth must be quantconnect" in str(caught.value)
