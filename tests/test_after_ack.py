"""handlers.after_ack: work moved off Bolt's listener still answers the person, errors included."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.errors import BotError
from handlers.after_ack import reported, run_after_ack


class Told:
    """A stand-in for Bolt's respond(): records what the person would read."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, text: str) -> None:
        self.messages.append(text)


def test_the_answer_of_the_work_reaches_the_person_and_silence_stays_silent() -> None:
    told = Told()
    reported(told, lambda: "Your approval of `r-1` is counted (1 of 2).")
    reported(told, lambda: "")
    reported(told, lambda: None)
    assert told.messages == ["Your approval of `r-1` is counted (1 of 2)."]


def test_an_error_is_told_as_the_error_handler_would() -> None:
    told = Told()

    def refused() -> str:
        raise BotError("Only approvers may approve <r-1>.")

    def broken() -> str:
        raise RuntimeError("a bug")

    reported(told, refused)
    reported(told, broken)
    assert told.messages[0] == "Only approvers may approve &lt;r-1&gt;."
    assert "Something went wrong on the bot's side" in told.messages[1]
    assert "a bug" not in told.messages[1]


def test_run_after_ack_queues_the_work_on_the_pool() -> None:
    told = Told()
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_after_ack(pool, told, lambda: "done")
    assert told.messages == ["done"]


def test_work_from_inside_a_modal_has_nowhere_to_answer_and_its_error_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> str:
        raise RuntimeError("a bug")

    reported(None, broken)
    reported(None, lambda: "rebuilt")
    assert [r.getMessage() for r in caplog.records if r.name == "bot.handlers.after_ack"] == [
        "after-ack work failed"
    ]
