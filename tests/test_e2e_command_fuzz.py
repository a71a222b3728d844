"""Every `/qc` subcommand with arbitrary Unicode arguments, sent as signed slash commands into the running
bot: each gets an answer a person can read, and none ends in the error handler's "Something went wrong"."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.blocks.modal import ProjectOption
from bot.ids import Callback
from tests.fakes.slack_requests import new_trigger_id
from tests.support.bot import APPROVERS, BotHarness, running_bot
from tests.support.text import ODD_DIGITS, TEXT
from tests.support.waiting import eventually

GENERIC = "Something went wrong"
APPROVER, REQUESTER, OUTSIDER = APPROVERS[0], "UREQUESTER", "UOUTSIDER"
USERS = st.sampled_from([APPROVER, REQUESTER, OUTSIDER])
ARGS = st.one_of(
    TEXT,
    st.sampled_from(ODD_DIGITS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["r-deadbeef", "Momentum", "momentum", "`Momentum`", "x" * 500, "<!channel> *bold*"]),
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_channels = itertools.count(1)
# Answers come in milliseconds; a short wait keeps a failing example (and its shrinking) quick.
WAIT = 8.0


class Unexpected(logging.Handler):
    """Collects the error handler's 'unexpected error' records (a listener raised something unplanned)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "unexpected error" in record.getMessage():
            self.records.append(record)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    env = {"REQUESTER_USER_IDS": REQUESTER}
    with running_bot(tmp_path_factory.mktemp("command-fuzz"), env=env) as harness:
        harness.qc.add_project("Momentum")
        harness.services.notifier.min_interval = 0.0
        yield harness


@pytest.fixture(scope="module")
def unexpected() -> Iterator[Unexpected]:
    handler = Unexpected()
    logger = logging.getLogger("bot.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _answer(bot: BotHarness, channel: str, user: str) -> str:
    """The private answer sent after the ack in `channel` (each example has a channel of its own)."""
    return str(
        eventually(
            lambda: next(
                (e["text"] for e in bot.slack.ephemerals(user) if e.get("channel") == channel), None
            ),
            timeout=WAIT,
            what=f"an answer in {channel}",
        )
    )


def _send(bot: BotHarness, subcommand: str, args: str, user: str) -> tuple[str, str]:
    """Send `/qc <subcommand> <args>`; returns (channel, what the person read)."""
    channel = f"CFUZZ{next(_channels)}"
    trigger = new_trigger_id()
    text = f"{subcommand} {args}" if subcommand else args
    response = bot.sender.command(text, user_id=user, channel_id=channel, trigger_id=trigger)
    assert response.status_code == 200
    acked: dict[str, Any] = response.json() if response.text.strip() else {}
    name, _, rest = text.strip().partition(" ")
    if acked.get("text"):
        return channel, str(acked["text"])
    if name.lower() == "deploy":
        opened = bot.slack.wait_for("views.open", lambda c: c.body.get("trigger_id") == trigger)
        assert opened.body["view"]["callback_id"] == Callback.DEPLOY
        if ProjectOption.for_query(rest.strip()).query and opened.ok:
            # A project named after `deploy` is looked up once the modal is open, and the modal updated.
            view_id = opened.response["view"]["id"]
            update = bot.slack.wait_for(
                "views.update", lambda c: c.body.get("view_id") == view_id, timeout=WAIT
            )
            return channel, str(update.body["view"]["blocks"])
        return channel, "modal opened"
    return channel, _answer(bot, channel, user)


@pytest.mark.parametrize("subcommand", ["deploy", "status", "stop", "liquidate", "audit", "help"])
def test_every_subcommand_answers_any_argument_in_words(
    bot: BotHarness, unexpected: Unexpected, subcommand: str
) -> None:
    @FUZZ
    @given(args=ARGS, user=USERS)
    @example(args="\u00b2", user=APPROVER)
    @example(args="9999999999999999999999999", user=APPROVER)
    def check(args: str, user: str) -> None:
        _, read = _send(bot, subcommand, args, user)
        assert read and GENERIC not in read, read
        assert not unexpected.records, unexpected.records[0].getMessage()

    check()
    assert GENERIC not in bot.slack.all_text()


@FUZZ
@given(text=TEXT, user=USERS)
@example(text="\u00b2 \u00b2", user=OUTSIDER)
def test_any_first_word_is_a_known_subcommand_or_explained(
    bot: BotHarness, unexpected: Unexpected, text: str, user: str
) -> None:
    _, read = _send(bot, "", text, user)
    assert read and GENERIC not in read, read
    assert not unexpected.records
