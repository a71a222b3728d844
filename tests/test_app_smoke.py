"""The running app: health, help and unknown commands, signature checks, config fail-fast, python -m bot."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, Settings
from bot.ids import Action
from bot.slack_body import payload_json
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.slack_requests import block_actions_body, sign, slash_command_body
from tests.support.bot import REQUESTER, SIGNING_SECRET, base_env, running_bot

REPO = Path(__file__).resolve().parent.parent


def test_healthz_reports_database(tmp_path: Path) -> None:
    with running_bot(tmp_path) as bot:
        response = httpx.get(bot.url + "healthz")
        assert response.status_code == 200
        assert response.json() == {
            "ok": True,
            "database": "ok",
            "replica": bot.services.store.replica_id,
            "lease": "held",
        }


def test_help_lists_every_command_with_an_example(tmp_path: Path) -> None:
    with running_bot(tmp_path) as bot:
        response = bot.sender.command("help", user_id=REQUESTER)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral"
        for name in ("deploy", "status", "stop", "liquidate", "help"):
            assert f"`/qc {name}" in body["text"]
        assert "e.g." in body["text"]


def test_unknown_subcommand_gets_a_clear_ephemeral_reply(tmp_path: Path) -> None:
    with running_bot(tmp_path) as bot:
        response = bot.sender.command("frobnicate now", user_id=REQUESTER)
        body = response.json()
        assert body["response_type"] == "ephemeral"
        assert "I don't know `/qc frobnicate`" in body["text"]
        assert "/qc help" in body["text"]


@pytest.mark.parametrize("case", ["unsigned", "bad-signature", "replayed"])
def test_requests_not_signed_by_slack_are_refused(tmp_path: Path, case: str) -> None:
    with running_bot(tmp_path) as bot:
        body = slash_command_body(text="help", user_id=REQUESTER)
        if case == "unsigned":
            response = bot.sender.send(body, sign=False)
        elif case == "bad-signature":
            response = bot.sender.send(body, signature="v0=" + "0" * 64)
        else:
            response = bot.sender.send(body, timestamp=int(time.time()) - 301)
        assert response.status_code == 401
        assert not bot.slack.calls_to("views.open")


@pytest.mark.parametrize("signed", ["raw", "decoded-json", "tampered"])
def test_interactive_payloads_are_checked_against_the_bytes_slack_signed(tmp_path: Path, signed: str) -> None:
    """The bot decodes `payload=` bodies itself (bot/slack_body.py); the signature is over the raw body."""
    with running_bot(tmp_path) as bot:
        body = block_actions_body(Action.APPROVE.value, "r-missing", user_id=REQUESTER, channel_id="C1")
        payload = payload_json(body.decode()) or ""
        if signed == "raw":
            response = bot.sender.send(body)
        elif signed == "decoded-json":
            headers = sign(SIGNING_SECRET, payload.encode())
            response = bot.sender.send(
                body,
                timestamp=int(headers["X-Slack-Request-Timestamp"]),
                signature=headers["X-Slack-Signature"],
            )
        else:
            headers = sign(SIGNING_SECRET, body)
            tampered = body.replace(b"r-missing", b"r-tampered")
            response = bot.sender.send(
                tampered,
                timestamp=int(headers["X-Slack-Request-Timestamp"]),
                signature=headers["X-Slack-Signature"],
            )
        assert response.status_code == (200 if signed == "raw" else 401)


def test_unknown_path_is_404(tmp_path: Path) -> None:
    with running_bot(tmp_path) as bot:
        assert httpx.get(bot.url + "nope").status_code == 404


def test_config_lists_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {"SLACK_BOT_TOKEN": "not-a-bot-token", "APPROVALS_LIVE": "two", "DEPLOY_CHANNEL_ID": "general"},
            mode="http",
            dotenv_path=None,
        )
    message = caught.value.user_message
    for expected in (
        "SLACK_BOT_TOKEN: must start with 'xoxb-'",
        "SLACK_SIGNING_SECRET: required",
        "DEPLOY_CHANNEL_ID: 'general' does not look like a Slack id",
        "APPROVALS_LIVE: 'two' is not a whole number",
        "APPROVER_USER_IDS or APPROVER_GROUP_IDS",
    ):
        assert expected in message
    assert "not-a-bot-token" not in message


def test_socket_mode_needs_an_app_token() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DEPLOY_CHANNEL_ID": "C123", "APPROVER_USER_IDS": "U123"}
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN: required"):
        Settings.from_env(env, mode="socket", dotenv_path=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_m_bot_http_serves_health_and_signed_commands(tmp_path: Path) -> None:
    """The real entry point, as the Procfile starts it, in its own process."""
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        port = _free_port()
        env = {**os.environ, **base_env(tmp_path, slack, qc), "PORT": str(port), "LOG_FORMAT": "json"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--http"],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(200):
                try:
                    if httpx.get(url + "healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            else:
                pytest.fail("the bot did not come up")
            body = slash_command_body(text="help", user_id=REQUESTER)
            headers = sign(env["SLACK_SIGNING_SECRET"], body)
            answer = httpx.post(url + "slack/events", content=body, headers=headers)
            assert answer.status_code == 200
            assert "/qc deploy" in answer.json()["text"]
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        lines = [line for line in stderr.decode().splitlines() if line.strip()]
        assert lines, "the bot logged nothing"
        for line in lines:
            json.loads(line)  # LOG_FORMAT=json: every line is one JSON object
        assert qc.api_token not in stderr.decode()


def test_python_m_bot_refuses_to_start_with_bad_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "QC_", "DEPLOY_", "APPROVER_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--http"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "SLACK_BOT_TOKEN: required" in proc.stderr
    assert "DEPLOY_CHANNEL_ID: required" in proc.stderr
