"""Logs with LOG_FORMAT=json: one JSON object per line with request, project and user ids, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ids import Action
from bot.logging_setup import configure_logging
from bot.secrets import DEFAULT_REGISTRY
from tests.support.bot import running_bot
from tests.support.examples import IB_CREDENTIALS, IB_PROFILES
from tests.support.flows import ask, card_message, click, status_of
from tests.support.waiting import eventually


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The bot's JSON logging into a buffer, as `python -m bot` sets it up; root logger restored after."""
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("DEBUG", "json")
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
        root.setLevel(saved_level)


def test_json_logs_carry_ids_and_mask_secrets(tmp_path: Path, json_log: io.StringIO) -> None:
    # A brokerage password in the registry, as the deployer leaves it after resolving a profile.
    password = IB_CREDENTIALS["ib-password"]
    DEFAULT_REGISTRY.register(password)
    with running_bot(tmp_path, profiles=IB_PROFILES) as bot:
        token = bot.env["SLACK_BOT_TOKEN"]
        request = ask(bot, "Alpha Momentum")
        assert card_message(bot, request.id)
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        eventually(lambda: str(status_of(bot, request.id)) == "live", what="live")
        assert bot.sender is not None
        bot.sender.command("help", user_id="UTRADER")
        # A secret that reaches a log call through a real code path is masked by the handler's filter.
        logging.getLogger("bot.test").warning(
            "profile check echoed %s", password, extra={"request_id": request.id, "user_id": "UAPPROVER1"}
        )
        bot.services.notifier.flush()
    text = json_log.getvalue()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON document
    assert all({"at", "level", "logger", "message"} <= set(entry) for entry in entries)

    approved = [e for e in entries if e["message"] == "request approved"]
    assert approved and approved[0]["request_id"] == request.id and approved[0]["user_id"] == "UAPPROVER1"
    command = [e for e in entries if e["message"] == "command"]
    assert command and command[0]["user_id"] == "UTRADER" and command[0]["subcommand"] == "help"
    assert any(
        e.get("project_id") == request.project_id or e.get("request_id") == request.id for e in entries
    )

    echoed = next(e for e in entries if e["logger"] == "bot.test")
    assert echoed["message"] == "profile check echoed ***ib-password***"
    # Third-party DEBUG lines (slack_sdk logs every request it sends) are JSON too and hold no token.
    assert any(e["logger"].startswith("slack_sdk") for e in entries)
    assert token not in text and password not in text
