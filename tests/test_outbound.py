"""The outbound filter: secrets masked and stray mrkdwn control sequences shown as text, on every way out."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, BoltRequest

from bot.app import OutboundApp, OutboundRespond
from bot.blocks.outbound import guard_mrkdwn, outbound_body, outbound_payload
from bot.secrets.masking import DEFAULT_REGISTRY
from bot.slack_client import OutboundWebClient, OutboundWebhookClient
from tests.fakes.fake_slack import FakeSlack
from tests.support.outbound import foreign_sequences

SECRET = "s3cr3t-outbound-value"
SEQUENCES = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<https://evil.example|Approve here>",
    "<mailto:x@evil.example>",
]
INJECTED = " ".join(SEQUENCES)


@pytest.fixture(autouse=True)
def registered_secret() -> None:
    DEFAULT_REGISTRY.register(SECRET, "ib-password")


def test_the_guard_keeps_what_the_bot_builds_and_shows_anything_else_as_text() -> None:
    built = (
        "<@U123ABC> in <#C0DEPLOY> at <!date^1700000000^{date_short_pretty}|2023-11-14> "
        "<https://www.quantconnect.com/project/1/live|live page> "
        "<https://acme.slack.com/archives/C1/p1700000000000100|the card>"
    )
    assert guard_mrkdwn(built) == (built, [])
    text, found = guard_mrkdwn(f"Project {INJECTED}")
    assert found == SEQUENCES
    assert "<" not in text and "&lt;!channel&gt;" in text
    assert "&lt;https://evil.example|Approve here&gt;" in text


def test_payloads_are_masked_everywhere_and_guarded_in_mrkdwn_only(caplog: pytest.LogCaptureFixture) -> None:
    payload = {
        "channel": "C1",
        "text": f"fallback {INJECTED} {SECRET}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"<!channel> {SECRET}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<!here> {json.dumps(SECRET)}"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "<https://evil.example|x>"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "<!channel>"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "value": SECRET,
                        "confirm": {"text": {"type": "mrkdwn", "text": "<!everyone>"}},
                    }
                ],
            },
        ],
    }
    with caplog.at_level(logging.WARNING, logger="bot.outbound"):
        out = outbound_payload(payload, where="chat.postMessage")
    assert SECRET not in json.dumps(out) and "***ib-password***" in json.dumps(out)
    assert foreign_sequences([out]) == []
    # Plain text is not mrkdwn: Slack shows it as typed, so it is not escaped (only masked).
    assert out["blocks"][0]["text"]["text"] == "<!channel> ***ib-password***"
    assert payload["blocks"][1]["text"]["text"].startswith("<!here>")  # the caller's payload is untouched
    assert [r.where for r in caplog.records] == ["chat.postMessage"]  # type: ignore[attr-defined]


def test_a_message_that_says_it_is_not_mrkdwn_keeps_its_text() -> None:
    out = outbound_payload({"text": "<!channel> a < b", "mrkdwn": False}, where="chat.postMessage")
    assert out["text"] == "<!channel> a < b"


def test_every_web_api_call_passes_the_filter_and_the_token_still_works() -> None:
    with FakeSlack() as slack:
        client = OutboundWebClient(token=slack.bot_token, base_url=slack.base_url)
        try:
            client.chat_postMessage(channel="C1", text=f"{INJECTED} {SECRET}")
            client.chat_postEphemeral(channel="C1", user="U1", text=SECRET)
            client.views_publish(
                user_id="U1",
                view={
                    "type": "home",
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"<!here> {SECRET}"}}],
                },
            )
        finally:
            client.close()
        assert [call.ok for call in slack.calls] == [True, True, True]
        assert SECRET not in slack.all_text()
        assert foreign_sequences(call.body for call in slack.calls) == []


def test_a_token_given_as_an_argument_reaches_slack_unmasked() -> None:
    """slack_sdk sends the app-level token of apps.connections.open as a `token` argument, not a header."""
    with FakeSlack() as slack:
        DEFAULT_REGISTRY.register(slack.app_token, "SLACK_APP_TOKEN")  # loaded like every other secret
        client = OutboundWebClient(base_url=slack.base_url)
        try:
            response = client.apps_connections_open(app_token=slack.app_token)
        finally:
            client.close()
        assert response["ok"] and str(response["url"]).startswith("ws")


def test_response_url_posts_pass_the_filter() -> None:
    with FakeSlack() as slack:
        OutboundWebhookClient(slack.response_url()).send(text=f"{INJECTED} {SECRET}")
        OutboundRespond(response_url=slack.response_url())(f"<!here> {SECRET}", response_type="ephemeral")
        OutboundRespond(response_url=slack.response_url())({"text": SECRET, "replace_original": True})
        posted = [call.body for call in slack.calls_to("response_url")]
    assert len(posted) == 3
    assert SECRET not in json.dumps(posted) and foreign_sequences(posted) == []
    assert posted[1]["response_type"] == "ephemeral" and posted[2]["replace_original"] is True


def test_respond_reaches_the_person_when_there_is_no_response_url_or_it_fails() -> None:
    """A click on the App Home has no response_url; an expired one refuses: the answer goes the other way."""
    shown: list[tuple[object, ...]] = []

    def show(*answer: object) -> None:
        shown.append(answer)

    with FakeSlack() as slack:
        answered = OutboundRespond(response_url=slack.response_url("U1", "C1"), fallback=show)
        answered("posted to the response_url")
        assert slack.ephemerals("U1")[0]["text"] == "posted to the response_url" and shown == []
        OutboundRespond(response_url=None, fallback=show)("no url", blocks=None)
        closed = f"http://127.0.0.1:{_closed_port()}/response/gone"
        OutboundRespond(response_url=closed, fallback=show)("unreachable")
        refused = OutboundRespond(response_url=slack.response_url(), fallback=show)
        refused("")  # no text: Slack answers 400
    assert shown == [("no url", None), ("unreachable", None), ("", None)]
    with pytest.raises(ValueError, match="no response_url"):
        OutboundRespond(response_url=None)("nobody to tell")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command_request(text: str) -> BoltRequest:
    body = urlencode(
        {
            "command": "/qc",
            "text": text,
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "t",
            "response_url": "",
        }
    )
    return BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]})


def test_acknowledgements_pass_the_filter() -> None:
    with FakeSlack() as slack:
        app = OutboundApp(
            client=OutboundWebClient(token=slack.bot_token, base_url=slack.base_url),
            signing_secret="unused",
            request_verification_enabled=False,
            token_verification_enabled=False,
        )

        @app.command("/qc")
        def answer(ack: Ack, body: dict[str, Any]) -> None:
            ack(
                text=f"you typed {body['text']}",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}],
            )

        response = app.dispatch(_command_request(f"{INJECTED} {SECRET}"))
    assert response.status == 200
    answered = json.loads(response.body)
    assert SECRET not in response.body and "***ib-password***" in answered["text"]
    assert foreign_sequences([answered]) == []


def test_serialized_answers_that_are_not_json_are_masked_as_text() -> None:
    assert outbound_body("", where="ack") == ""
    assert outbound_body(f"plain {SECRET} <!here>", where="ack") == "plain ***ib-password*** &lt;!here&gt;"
    assert outbound_body('{"ok": true}', where="ack") == '{"ok": true}'
