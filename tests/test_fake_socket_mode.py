"""The fake's Socket Mode speaks Slack's protocol: driven here by a bare websocket-client, not by the bot."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_socket_mode import SocketModeSender, envelope_of
from tests.fakes.slack_requests import (
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_body,
    slash_command_body,
    view_submission_body,
)
from tests.support.waiting import eventually

VIEW = {
    "id": "V1",
    "callback_id": "deploy",
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "element": {"type": "plain_text_input", "action_id": "value"},
            "label": {"type": "plain_text", "text": "Reason"},
        }
    ],
}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        # Short enough that a retry comes quickly, long enough for a loopback ack.
        fake.socket_mode.ack_timeout = 0.5
        yield fake


class RawApp:
    """A minimal Socket Mode app: records every message and acknowledges envelopes as told."""

    def __init__(
        self, url: str, answer: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    ) -> None:
        self.ws = websocket.create_connection(url, timeout=5)
        self.messages: list[dict[str, Any]] = []
        self.answer = answer
        self.skip_acks = 0
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                message = json.loads(self.ws.recv())
                self.messages.append(message)
                if "envelope_id" in message and message.get("type") != "hello":
                    if self.skip_acks:
                        self.skip_acks -= 1
                        continue
                    ack: dict[str, Any] = {"envelope_id": message["envelope_id"]}
                    payload = self.answer(message) if self.answer else None
                    if payload is not None:
                        ack["payload"] = payload
                    self.ws.send(json.dumps(ack))
        except (websocket.WebSocketException, OSError, ValueError):
            # A close frame reads as an empty message; a client hangs up once the closing handshake is done.
            self.ws.shutdown()
            self.closed.set()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def close(self) -> None:
        self.ws.close()


def open_url(slack: FakeSlack, token: str | None = None) -> str:
    client = WebClient(base_url=slack.base_url)
    return str(client.apps_connections_open(app_token=token or slack.app_token)["url"])


def refusal(slack: FakeSlack, method: str, token: str) -> str:
    client = WebClient(base_url=slack.base_url, token=token)
    with pytest.raises(SlackApiError) as refused:
        if method == "apps.connections.open":
            client.apps_connections_open(app_token=token)
        else:
            client.api_call(method, json={"channel": "C1", "text": "hi"})
    return str(refused.value.response["error"])


def test_apps_connections_open_takes_only_the_app_level_token(slack: FakeSlack) -> None:
    url = open_url(slack)
    assert url.startswith(f"ws://127.0.0.1:{slack.socket_mode.port}/link/?ticket=")
    assert url.endswith("&app_id=A0FAKE")
    assert refusal(slack, "apps.connections.open", "xapp-1-A0FAKE-1-wrong") == "invalid_auth"
    assert refusal(slack, "apps.connections.open", slack.bot_token) == "not_allowed_token_type"
    assert refusal(slack, "chat.postMessage", slack.app_token) == "not_allowed_token_type"
    assert refusal(slack, "chat.postMessage", "xoxb-unknown") == "invalid_auth"
    answer = slack.handle_api("apps.connections.open", {}, None)
    assert answer.body == {"ok": False, "error": "not_authed"}


def test_a_link_is_greeted_with_hello_and_a_ticket_opens_one_link(slack: FakeSlack) -> None:
    url = open_url(slack)
    app = RawApp(url)
    try:
        hello = eventually(lambda: app.of_type("hello"), what="hello")[0]
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0FAKE"}
        assert set(hello["debug_info"]) == {"host", "build_number", "approximate_connection_time"}
        with pytest.raises(websocket.WebSocketBadStatusException) as reused:
            websocket.create_connection(url, timeout=5)
        assert reused.value.status_code == 401
        with pytest.raises(websocket.WebSocketBadStatusException) as unknown:
            websocket.create_connection(url.replace("ticket=", "ticket=x"), timeout=5)
        assert unknown.value.status_code == 401
    finally:
        app.close()
    link = slack.socket_mode.wait_closed(1)
    assert link.closed_by == "app"


def test_envelopes_carry_slacks_payloads_and_acks_carry_the_answer(slack: FakeSlack) -> None:
    app = RawApp(open_url(slack), answer=lambda m: {"text": "hi"} if m["type"] == "slash_commands" else None)
    sender = SocketModeSender(slack.socket_mode)
    try:
        slack.socket_mode.wait_for_link()
        answer = sender.command("help", user_id="U1")
        assert answer.status_code == 200 and answer.json() == {"text": "hi"}
        clicked = sender.action("approve", "R1", user_id="U2", channel_id="C1")
        assert clicked.status_code == 200 and clicked.text == ""
        sender.event(app_home_opened_event("U3"))
        command, click, event = app.messages[1:]
        assert command["type"] == "slash_commands" and command["accepts_response_payload"] is True
        assert command["payload"]["command"] == "/qc" and command["payload"]["text"] == "help"
        assert "retry_attempt" not in command
        assert click["type"] == "interactive" and click["accepts_response_payload"] is False
        assert click["payload"]["type"] == "block_actions"
        assert click["payload"]["actions"][0]["value"] == "R1"
        assert event["type"] == "events_api" and event["payload"]["type"] == "event_callback"
        assert (event["retry_attempt"], event["retry_reason"]) == (0, "")
        assert [a.payload for a in slack.socket_mode.acks] == [{"text": "hi"}, None, None]
    finally:
        app.close()


def test_an_envelope_not_acknowledged_in_time_is_retried_then_given_up(slack: FakeSlack) -> None:
    app = RawApp(open_url(slack))
    try:
        slack.socket_mode.wait_for_link()
        app.skip_acks = 2
        envelope = slack.socket_mode.deliver("interactive", {"type": "block_actions"})
        slack.socket_mode.wait_for_ack(envelope)
        assert envelope.deliveries == [(1, 0), (1, 1), (1, 2)]
        retries = [m for m in app.messages if m.get("envelope_id") == envelope.envelope_id][1:]
        assert [(m["retry_attempt"], m["retry_reason"]) for m in retries] == [(1, "timeout"), (2, "timeout")]
        assert {m["envelope_id"] for m in retries} == {envelope.envelope_id}
        app.skip_acks = 10
        lost = slack.socket_mode.deliver("events_api", {"type": "event_callback"})
        eventually(lambda: lost.gave_up, what="the fake to give up")
        assert [attempt for _, attempt in lost.deliveries] == [0, 1, 2, 3]
    finally:
        app.close()


def test_an_ignored_ack_makes_the_same_envelope_come_again(slack: FakeSlack) -> None:
    app = RawApp(open_url(slack))
    try:
        slack.socket_mode.wait_for_link()
        slack.socket_mode.ignore_acks(1)
        envelope = slack.socket_mode.deliver(
            "slash_commands", {"command": "/qc"}, accepts_response_payload=True
        )
        acks = slack.socket_mode.wait_for_acks(envelope, 2)
        assert [a.ignored for a in acks] == [True, False]
        assert envelope.ack is acks[1]
        assert [attempt for _, attempt in envelope.deliveries] == [0, 1]
    finally:
        app.close()


def test_disconnect_asks_links_to_go_away_then_closes_them(slack: FakeSlack) -> None:
    first = RawApp(open_url(slack))
    try:
        slack.socket_mode.wait_for_link(1)
        assert slack.socket_mode.disconnect("refresh_requested", close_after=0.2) == [1]
        message = eventually(lambda: first.of_type("disconnect"), what="disconnect")[0]
        assert message["reason"] == "refresh_requested" and "host" in message["debug_info"]
        second = RawApp(open_url(slack))
        slack.socket_mode.wait_for_link(2)
        envelope = slack.socket_mode.deliver("events_api", {"type": "event_callback"})
        slack.socket_mode.wait_for_ack(envelope)
        assert envelope.deliveries == [(2, 0)], "a link asked to go away gets nothing new"
        assert slack.socket_mode.wait_closed(1).closed_by == "fake"
        assert first.closed.wait(5)
        second.close()
    finally:
        first.close()


def test_drop_cuts_links_without_a_close_frame(slack: FakeSlack) -> None:
    app = RawApp(open_url(slack))
    slack.socket_mode.wait_for_link(1)
    assert slack.socket_mode.drop() == [1]
    assert app.closed.wait(5)
    assert slack.socket_mode.wait_closed(1).closed_by == "dropped"
    assert not app.of_type("disconnect")


def test_refused_links_answer_503_until_accepted(slack: FakeSlack) -> None:
    slack.socket_mode.refuse_links()
    for _ in range(2):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(open_url(slack), timeout=5)
        assert refused.value.status_code == 503
    slack.socket_mode.accept_links()
    app = RawApp(open_url(slack))
    try:
        assert slack.socket_mode.wait_for_link().number == 1
        assert [status for _, status in slack.socket_mode.handshakes] == [503, 503, 101]
    finally:
        app.close()


def test_bodies_become_the_envelopes_slack_sends() -> None:
    kind, payload, accepts = envelope_of(slash_command_body(text="deploy x", user_id="U1"))
    assert (kind, accepts, payload["text"], payload["user_id"]) == ("slash_commands", True, "deploy x", "U1")
    kind, payload, accepts = envelope_of(block_actions_body("approve", "R1", user_id="U1"))
    assert (kind, accepts, payload["type"]) == ("interactive", False, "block_actions")
    kind, payload, accepts = envelope_of(view_submission_body(VIEW, "U1", {"reason": {"value": "go"}}))
    assert (kind, accepts, payload["type"]) == ("interactive", True, "view_submission")
    assert payload["view"]["state"]["values"]["reason"]["value"]["value"] == "go"
    kind, payload, accepts = envelope_of(event_body({"type": "app_home_opened", "user": "U1"}), JSON)
    assert (kind, accepts, payload["event"]["type"]) == ("events_api", False, "app_home_opened")


def test_the_socket_sender_refuses_signature_games(slack: FakeSlack) -> None:
    sender = SocketModeSender(slack.socket_mode)
    with pytest.raises(ValueError, match="no request signature"):
        sender.send(slash_command_body(), sign=False)
