"""Who may read what, through the running bot: `/qc audit`, `/qc status`, Preview and the App Home's lists.

Approvers see everything, a requester sees their own requests, anyone else sees none of them (the rules
live in bot/policy.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Action, Callback
from bot.store import DeployRequest, RequestStatus
from tests.fakes.slack_requests import app_home_opened_event
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask
from tests.support.waiting import eventually

S = RequestStatus
APPROVER = APPROVERS[0]
MINE, THEIRS = "UREQUESTER", "UOTHERREQ"
OUTSIDER = "UOUTSIDER"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    env = {"REQUESTER_USER_IDS": f"{MINE},{THEIRS}"}
    with running_bot(tmp_path_factory.mktemp("read-policy"), profiles=IB_PROFILES, env=env) as harness:
        harness.services.notifier.min_interval = 0.02
        yield harness


@pytest.fixture(scope="module")
def requests(bot: BotHarness) -> tuple[DeployRequest, DeployRequest]:
    """One pending request of MINE, one rejected (finished) request of THEIRS."""
    mine = ask(bot, "Readable Alpha", requester=MINE)
    theirs = ask(bot, "Readable Beta", requester=THEIRS)
    outcome = bot.services.requests.reject(theirs.id, APPROVER, "Not this quarter")
    assert outcome.changed
    return mine, theirs


def answer(bot: BotHarness, text: str, user: str) -> dict[str, Any]:
    """Type `/qc <text>` as `user` and return the private answer after the acknowledgement."""
    before = len(bot.slack.ephemerals(user))
    response = bot.sender.command(text, user_id=user, channel_id=DEPLOY_CHANNEL)
    assert response.status_code == 200
    return eventually(
        lambda: (told := bot.slack.ephemerals(user)) and len(told) > before and told[-1],
        what=f"the answer to /qc {text} for {user}",
    )


def shown(message: dict[str, Any]) -> str:
    return message["text"] + json.dumps(message.get("blocks") or [])


def test_audit_answers_approvers_everything_and_requesters_their_own(
    bot: BotHarness, requests: tuple[DeployRequest, DeployRequest]
) -> None:
    mine, theirs = requests
    everything = shown(answer(bot, "audit", APPROVER))
    assert mine.id in everything and theirs.id in everything and "Not this quarter" in everything

    own = shown(answer(bot, "audit", MINE))
    assert mine.id in own and theirs.id not in own and "you see your own requests" in own
    refused = shown(answer(bot, f"audit {theirs.id}", MINE))
    assert "Only approvers can see the audit trail of other people's requests" in refused
    assert "Not this quarter" not in refused
    by_project = shown(answer(bot, f"audit {theirs.project_id}", MINE))
    assert theirs.id not in by_project and "no events" in by_project

    for query in ("", theirs.id, mine.id, str(mine.project_id), "Readable Beta"):
        outsider = shown(answer(bot, f"audit {query}".strip(), OUTSIDER))
        assert mine.id not in outsider.replace(f"audit {mine.id}", "")
        assert theirs.id not in outsider.replace(f"audit {theirs.id}", "")
        assert "Not this quarter" not in outsider and "Rebalance" not in outsider


def test_status_answers_requesters_and_approvers_only(
    bot: BotHarness, requests: tuple[DeployRequest, DeployRequest]
) -> None:
    assert "Only requesters can see what runs" in answer(bot, "status", OUTSIDER)["text"]
    assert "What runs on QuantConnect" in answer(bot, "status", MINE)["text"]
    assert "What runs on QuantConnect" in answer(bot, "status", APPROVER)["text"]


def _preview(bot: BotHarness, request: DeployRequest, user: str) -> None:
    ts = eventually(lambda: getattr(bot.services.store.get_request(request.id), "message_ts", None))
    card = bot.slack.message(DEPLOY_CHANNEL, ts)
    response = bot.sender.action(
        Action.PREVIEW, request.id, user_id=user, channel_id=DEPLOY_CHANNEL, message=card
    )
    assert response.status_code == 200


def _previews_opened(bot: BotHarness) -> int:
    return sum(1 for c in bot.slack.calls_to("views.open") if c.body["view"].get("callback_id") == "preview")


def test_preview_opens_for_approvers_and_the_requester_only(
    bot: BotHarness, requests: tuple[DeployRequest, DeployRequest]
) -> None:
    mine, theirs = requests
    for user in (MINE, APPROVER):
        before = _previews_opened(bot)
        _preview(bot, mine, user)
        eventually(lambda: _previews_opened(bot) > before, what=f"the preview for {user}")  # noqa: B023
        assert bot.slack.last_view(Callback.PREVIEW)
    for user, request in ((OUTSIDER, mine), (MINE, theirs)):
        before = _previews_opened(bot)
        _preview(bot, request, user)
        assert "own requests" in _told(bot, user, "the preview of other people's requests")
        assert _previews_opened(bot) == before


def _told(bot: BotHarness, user: str, needle: str) -> str:
    return str(
        eventually(
            lambda: next((e["text"] for e in bot.slack.ephemerals(user) if needle in e["text"]), None),
            what=f"an ephemeral to {user} saying {needle!r}",
        )
    )


def _home(bot: BotHarness, user: str) -> str:
    before = len(bot.slack.calls_to("views.publish"))
    assert bot.sender.event(app_home_opened_event(user)).status_code == 200
    bot.slack.wait_for(
        "views.publish",
        lambda c: c.body.get("user_id") == user and len(bot.slack.calls_to("views.publish")) > before,
    )
    home = bot.slack.home(user)
    assert home is not None
    return json.dumps(home["blocks"])


def test_app_home_lists_everything_for_approvers_and_own_requests_otherwise(
    bot: BotHarness, requests: tuple[DeployRequest, DeployRequest]
) -> None:
    mine, _ = requests
    approved = bot.services.requests.approve(mine.id, APPROVER)
    assert approved.changed
    eventually(
        lambda: (r := bot.services.store.get_request(mine.id)) is not None and r.status is not S.PENDING,
        what="the approved request to leave pending",
    )
    approver = _home(bot, APPROVER)
    assert "Readable Alpha" in approver and "Readable Beta" in approver
    own = _home(bot, MINE)
    assert "Readable Alpha" in own and "Readable Beta" not in own and "Your running deployments" in own
    other = _home(bot, THEIRS)
    assert "Readable Beta" in other and "Readable Alpha" not in other
    outsider = _home(bot, OUTSIDER)
    assert "Readable Alpha" not in outsider and "Readable Beta" not in outsider
    assert "Not this quarter" not in outsider
