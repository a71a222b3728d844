"""Socket Mode end to end: the real bot, its real Socket Mode client and the fake Slack's socket on loopback.

Everything a person does arrives as an envelope over the WebSocket and is answered by its acknowledgement;
the bot's own calls go to the fake Web API. The socket is dropped, refreshed, refused and made to redeliver.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app_token import AppTokenRefused
from bot.ids import Action, Block
from bot.store import DeployRequest, RequestStatus
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_socket_mode import SocketAnswer, SocketModeSender
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, base_env, running_bot
from tests.support.deploy_flow import choose_brokerage, choose_project, open_deploy_modal, submit_modal
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.outbound import leaked_secrets
from tests.support.paths import REPO_ROOT
from tests.support.waiting import eventually

S = RequestStatus
IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"][1]
PROFILES = {"ib-main": ("InteractiveBrokersBrokerage", IB_CREDENTIALS)}
ATTEMPT_FAILED = "Socket Mode: attempt {} to connect to Slack failed"


@contextmanager
def socket_bot(tmp_path: Path, **env: str) -> Iterator[BotHarness]:
    """The bot in Socket Mode (no signing secret), against fresh fakes."""
    with running_bot(tmp_path, profiles=PROFILES, env=env, mode="socket") as bot:
        bot.services.notifier.min_interval = 0.02
        yield bot


def health(bot: BotHarness) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(bot.url + "healthz", timeout=10)
    return answer.status_code, answer.json()


def request_through_the_modal(bot: BotHarness, project: str) -> DeployRequest:
    """`/qc deploy` over the socket: the modal, a field error answered in the ack, then a valid submission."""
    project_id = bot.qc.add_project(project)
    view = choose_brokerage(bot, open_deploy_modal(bot), "InteractiveBrokersSettings")
    view = choose_project(bot, view, project_id, project)
    fields: dict[str, Any] = {Block.PROFILE: "ib-main", "ib-trading-mode": "live", Block.REASON: "Go live"}
    refused = submit_modal(bot, view, {**fields, "ib-weekly-restart-utc-time": "25:61:00"})
    assert refused is not None and refused["response_action"] == "errors"
    assert set(refused["errors"]) == {"ib-weekly-restart-utc-time"}
    # The errors went back to Slack inside the acknowledgement of the view_submission envelope.
    sent = sender(bot).last
    assert sent is not None and sent.type == "interactive" and sent.accepts_response_payload
    assert sent.ack is not None and sent.ack.payload == refused
    assert not bot.services.store.list_requests(project_id=project_id)
    assert submit_modal(bot, view, fields) is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    return eventually(
        lambda: (r := bot.services.store.get_request(request.id)) and r.message_ts and r, what="card"
    )


def sender(bot: BotHarness) -> SocketModeSender:
    assert isinstance(bot.sender, SocketModeSender)
    return bot.sender


def approve(bot: BotHarness, request: DeployRequest, approver: str = APPROVERS[0]) -> SocketAnswer:
    """Click Approve on the request's card, as `approver`, over the socket."""
    card = bot.slack.message(DEPLOY_CHANNEL, request.message_ts or "")
    answer = bot.sender.action(  # type: ignore[union-attr]
        Action.APPROVE, request.id, user_id=approver, channel_id=DEPLOY_CHANNEL, message=card
    )
    assert isinstance(answer, SocketAnswer) and answer.status_code == 200
    return answer


def running(bot: BotHarness, request: DeployRequest) -> None:
    """Wait until the request is live and QuantConnect reports the algorithm Running."""
    eventually(
        lambda: (d := bot.services.store.get_deployment(request.id)) is not None and d.status == "Running",
        timeout=30,
        what="the deployment to run",
    )
    assert bot.services.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]


def creates_for(bot: BotHarness, request: DeployRequest) -> list[Any]:
    return [c for c in bot.qc.calls_to("live/create") if c.body["projectId"] == request.project_id]


def test_deploy_from_command_to_running_over_the_socket(tmp_path: Path) -> None:
    with socket_bot(tmp_path) as bot:
        status, report = health(bot)
        assert status == 200
        assert report == {
            "ok": True,
            "database": "ok",
            "replica": bot.services.store.replica_id,
            "lease": "held",
            "slack": {"mode": "socket", "connected": True},
        }
        request = request_through_the_modal(bot, "Socket Strategy")
        assert request.status is S.PENDING and not request.is_paper
        approve(bot, request)
        running(bot, request)
        assert len(creates_for(bot, request)) == 1
        socket = bot.slack.socket_mode
        assert [link.number for link in socket.links] == [1], "one connection carried the whole flow"
        assert socket.envelopes and all(envelope.ack is not None for envelope in socket.envelopes)
        assert {envelope.type for envelope in socket.envelopes} == {"slash_commands", "interactive"}
        acks = json.dumps([ack.payload for ack in socket.acks])
        assert leaked_secrets(IB_CREDENTIALS.values(), acks + bot.slack.all_text()) == []


def test_a_dropped_socket_is_reconnected_with_backoff_and_the_flow_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.socket_mode")
    with socket_bot(tmp_path) as bot:
        request = request_through_the_modal(bot, "Dropped Strategy")
        socket = bot.slack.socket_mode
        # Slack is unreachable for a while: first its Web API refuses, then its socket endpoint does.
        bot.slack.fail("apps.connections.open", "internal_error")
        socket.refuse_links()
        assert socket.drop() == [1]
        eventually(lambda: ATTEMPT_FAILED.format(3) in caplog.text, what="three failed attempts")
        status, report = health(bot)
        assert status == 503 and report["ok"] is False
        assert report["slack"]["connected"] is False and "attempt" in report["slack"]["reason"]
        assert {"database", "replica", "lease"} <= set(report)
        assert "apps.connections.open answered internal_error" in caplog.text
        assert "HTTP 503" in caplog.text
        for attempt in (1, 2, 3):
            assert f"connecting to Slack (attempt {attempt})" in caplog.text
        socket.accept_links()
        assert bot.socket is not None and bot.socket.connection.wait_connected(20)
        assert health(bot)[0] == 200
        approve(bot, request)
        running(bot, request)
        assert len(creates_for(bot, request)) == 1
        assert socket.links[0].closed_by == "dropped"
        assert len(socket.open_links()) == 1


def test_slacks_disconnect_message_moves_the_bot_to_a_new_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.socket_mode")
    with socket_bot(tmp_path) as bot:
        socket = bot.slack.socket_mode
        socket.disconnect("refresh_requested")
        socket.wait_for_link(2)
        # The bot closed the old connection itself instead of waiting for Slack to cut it.
        assert socket.wait_closed(1).closed_by == "app"
        assert len(bot.slack.calls_to("apps.connections.open")) == 2
        answer = bot.sender.command("help", user_id=REQUESTER)  # type: ignore[union-attr]
        assert answer.status_code == 200 and "/qc deploy" in answer.json()["text"]
        assert sender(bot).last.deliveries == [(2, 0)]  # type: ignore[union-attr]
        assert "Slack asked for a new connection (refresh_requested)" in caplog.text

        # Socket Mode switched off in the app's settings: the bot says what to do, and is back once it is on.
        socket.refuse_links()
        socket.disconnect("link_disabled", close_after=0.2)
        eventually(lambda: ATTEMPT_FAILED.format(1) in caplog.text, what="a failed attempt")
        assert "Slack disabled Socket Mode for this app (link_disabled)" in caplog.text
        assert "turn Socket Mode on in the app's settings" in caplog.text
        assert health(bot)[0] == 503
        socket.accept_links()
        assert bot.socket is not None and bot.socket.connection.wait_connected(20)
        answer = bot.sender.command("help", user_id=REQUESTER)  # type: ignore[union-attr]
        assert answer.status_code == 200


def test_a_redelivered_approve_counts_once(tmp_path: Path) -> None:
    with socket_bot(tmp_path, APPROVALS_LIVE="2") as bot:
        request = request_through_the_modal(bot, "Twice Strategy")
        socket = bot.slack.socket_mode
        # The bot's acknowledgement is lost, so Slack delivers the very same envelope again (retry_attempt 1).
        socket.ignore_acks(1)
        answer = approve(bot, request, APPROVERS[0])
        assert answer.envelope.deliveries == [(1, 0), (1, 1)]
        assert [ack.ignored for ack in answer.envelope.acks] == [True, False]
        assert bot.services.store.approvals(request.id) == [APPROVERS[0]]
        assert bot.services.store.get_request(request.id).status is S.PENDING  # type: ignore[union-attr]
        told = eventually(
            lambda: (said := bot.slack.ephemerals(APPROVERS[0])) and len(said) >= 2 and said,
            what="the approver to be told twice",
        )
        assert [m["text"] for m in told] == [
            f"Your approval of `{request.id}` is counted (1 of 2); it needs 1 more from another approver.",
            f"You already approved request `{request.id}`; it needs 1 more.",
        ]
        approve(bot, request, APPROVERS[1])
        running(bot, request)
        assert len(creates_for(bot, request)) == 1
        events = [e.action for e in bot.services.store.events(request_id=request.id)]
        assert events.count("approved") == 2


def test_an_app_level_token_slack_refuses_stops_the_start(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        wrong = {"SLACK_APP_TOKEN": "xapp-1-nope"}
        with (
            pytest.raises(AppTokenRefused) as refused,
            running_bot(tmp_path, slack=slack, qc=qc, mode="socket", env=wrong),
        ):
            pytest.fail("the bot started with a token Slack refuses")
        assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in str(refused.value)
        assert "App-Level Tokens" in str(refused.value)
        # One question, no reconnect loop, no connection, no work taken.
        assert len(slack.calls_to("apps.connections.open", ok_only=False)) == 1
        assert slack.socket_mode.links == []
        assert not slack.calls_to("chat.postMessage", ok_only=False)


def test_slack_unreachable_at_start_is_retried_until_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.socket_mode")
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        # Every try hangs up without an answer, the client's own retries included.
        slack.drop("apps.connections.open", times=6)
        with running_bot(tmp_path, slack=slack, qc=qc, profiles=PROFILES, mode="socket") as bot:
            assert "cannot check SLACK_APP_TOKEN with Slack now" in caplog.text
            assert "cannot reach Slack" in caplog.text
            assert health(bot)[0] == 200
            assert bot.sender.command("help", user_id=REQUESTER).status_code == 200  # type: ignore[union-attr]


# -- `python -m bot` itself: Socket Mode is the default --------------------------------------------------


def _bot_process(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m bot` started as a shell starts a background job: SIGINT ignored from the start (Python then
    installs no KeyboardInterrupt handler of its own; the bot must install one)."""
    return subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$0" -m bot', sys.executable],
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_python_m_bot_runs_socket_mode_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        port = _free_port()
        env = {**base_env(tmp_path, slack, qc), "PORT": str(port)}
        env.pop("SLACK_SIGNING_SECRET")
        proc = _bot_process(tmp_path, env)
        try:
            link = slack.socket_mode.wait_for_link(timeout=60)
            report = eventually(
                lambda: _healthz(port), timeout=30, what="/healthz of the bot process to say connected"
            )
            assert report["slack"] == {"mode": "socket", "connected": True}
            answer = SocketModeSender(slack.socket_mode).command("help", user_id=REQUESTER)
            assert answer.status_code == 200 and "/qc deploy" in answer.json()["text"]
        finally:
            proc.send_signal(stop_signal)
            _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr[-2000:]
        # The stop closed the socket itself before handing the work back.
        assert slack.socket_mode.wait_closed(link.number).closed_by == "app"
        assert stderr.index("Socket Mode: connected to Slack") < stderr.index("stopped")
        assert slack.app_token not in stderr and slack.bot_token not in stderr


def _healthz(port: int) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.TransportError:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_python_m_bot_refuses_an_app_level_token_slack_refuses(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        env = {**base_env(tmp_path, slack, qc), "SLACK_APP_TOKEN": "xapp-1-A0FAKE-1-revoked"}
        proc = _bot_process(tmp_path, env)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "The bot cannot start: Slack refused SLACK_APP_TOKEN (invalid_auth)" in stderr
    assert "xapp-1-A0FAKE-1-revoked" not in stderr
    assert len(slack.calls_to("apps.connections.open", ok_only=False)) == 1
