"""The approval card's "What changes" section end to end: against the project's previous request, exactly what
differs, the switch to real money in bold with an alarm; Preview still shows the whole masked body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.ids import Action
from bot.statuses import RequestStatus
from tests.support.bot import APPROVERS, BotHarness, running_bot
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.flows import card_message, card_ts, click, ib_form, wait_for, wait_live_status
from tests.support.waiting import eventually

S = RequestStatus
IB = ("InteractiveBrokersBrokerage", EXAMPLE_PROFILES["InteractiveBrokersSettings"][1])


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(tmp_path_factory.mktemp("changes"), profiles={"ib-main": IB}) as harness:
        yield harness


def _changes_text(message: dict[str, Any]) -> str | None:
    return next(
        (
            b["text"]["text"]
            for b in message.get("blocks", [])
            if b["type"] == "section" and b.get("text", {}).get("text", "").startswith("*What changes*")
        ),
        None,
    )


def test_the_card_lists_exactly_what_differs_from_the_previous_request(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Diff Alpha")
    requests = bot.services.requests
    first = requests.create(ib_form(project_id, "Diff Alpha", mode="paper"), requester_id="UREQUESTER")
    requests.announce(first)
    wait_for(bot, first.id, {S.LIVE})
    wait_live_status(bot, first.id, "Running")
    assert _changes_text(card_message(bot, first.id)) is None, "a first request has nothing to compare with"
    click(bot, Action.STOP, first.id, APPROVERS[0])
    first = wait_for(bot, first.id, {S.ENDED})

    second = requests.create(ib_form(project_id, "Diff Alpha", mode="live"), requester_id="UREQUESTER")
    requests.announce(second)
    text = eventually(lambda: card_ts(bot, second.id) and _changes_text(card_message(bot, second.id)))
    assert text.splitlines() == [
        f"*What changes* against request `{first.id}` (ended)",
        "• :rotating_light: *Money: paper → REAL MONEY*",
        "• ib-trading-mode: paper → live",
        f"• Compile: build {first.compile_id[:12]} → a new build of the project's current code at deploy",
    ]
    # Preview keeps showing the whole body, not a diff.
    card = card_message(bot, second.id)
    answer = bot.sender.action(
        Action.PREVIEW, second.id, user_id=APPROVERS[0], channel_id="CDEPLOY", message=card
    )
    assert answer.status_code == 200
    preview = bot.slack.wait_for("views.open", lambda c: second.id in str(c.body.get("view")))
    shown = str(preview.body["view"])
    # The whole body: every setting and the brokerage's (masked) credential fields, never a secret value.
    assert "ib-weekly-restart-utc-time" in shown and "ib-password" in shown and "What changes" not in shown
    assert EXAMPLE_PROFILES["InteractiveBrokersSettings"][1]["ib-password"] not in shown
