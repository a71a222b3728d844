"""`/qc orders <project> [n]` end to end: the last orders privately, for approvers and the requester only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.live_orders import OrdersRefused, parse_arguments
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.examples import example_profiles
from tests.support.fills import listed_ids
from tests.support.flows import quick, running
from tests.support.waiting import eventually

APPROVER = APPROVERS[0]
OUTSIDER = "UOUTSIDER"


@pytest.fixture(scope="module", params=["http", "socket"])
def bot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(
        tmp_path_factory.mktemp("orders"), profiles=example_profiles(), mode=request.param
    ) as harness:
        yield quick(harness)


def told(bot: BotHarness, user: str, needle: str) -> dict[str, Any]:
    return eventually(
        lambda: next((e for e in bot.slack.ephemerals(user) if needle in str(e)), None),
        what=f"an ephemeral to {user} saying {needle!r}",
    )


def command(bot: BotHarness, text: str, user: str) -> None:
    assert bot.sender is not None
    assert bot.sender.command(text, user_id=user, channel_id=DEPLOY_CHANNEL).status_code == 200


def test_the_last_n_orders_for_an_approver_and_the_requester(bot: BotHarness) -> None:
    request = running(bot, "Orders Alpha")
    bot.qc.orders.add(request.project_id, 25, symbol="AAPL")
    command(bot, "orders Orders Alpha 3", APPROVER)
    answer = told(bot, APPROVER, "Last 3 orders of Orders Alpha")
    assert listed_ids([str(answer)]) == [23, 24, 25] and "AAPL" in str(answer)
    command(bot, f"orders {request.project_id}", REQUESTER)
    mine = told(bot, REQUESTER, "Last 20 orders")
    assert listed_ids([str(mine)]) == list(range(6, 26))


def test_others_are_refused_and_bad_counts_explained(bot: BotHarness) -> None:
    request = running(bot, "Orders Beta")
    bot.qc.orders.add(request.project_id, 2)
    command(bot, "orders Orders Beta", OUTSIDER)
    told(bot, OUTSIDER, "your own requests")
    command(bot, "orders Orders Beta 500", APPROVER)
    told(bot, APPROVER, "Ask for 1 to 100 orders")
    command(bot, "orders Nowhere At All", APPROVER)
    told(bot, APPROVER, "can't find a project")


def test_a_stopped_deployment_has_no_orders_to_show(bot: BotHarness) -> None:
    request = running(bot, "Orders Gamma")
    bot.qc.set_status(request.project_id, "Stopped")
    command(bot, "orders Orders Gamma", APPROVER)
    told(bot, APPROVER, "is not running")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Momentum", ("Momentum", 20)),
        ("Momentum 5", ("Momentum", 5)),
        ("Momentum Strategy 100", ("Momentum Strategy", 100)),
        ('"Alpha 2"', ('"Alpha 2"', 20)),
        ("12345", ("12345", 20)),
        ("12345 7", ("12345", 7)),
    ],
)
def test_arguments(text: str, expected: tuple[str, int]) -> None:
    assert parse_arguments(text) == expected


@pytest.mark.parametrize("text", ["Momentum 0", "Momentum 101", "Momentum 99999999999"])
def test_counts_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(OrdersRefused):
        parse_arguments(text)
