"""The fake Slack Web API through a real slack_sdk WebClient, and the Slack request helpers through Bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes.fake_slack import FakeSlack
from tests.fakes.slack_requests import (
    SlackSender,
    app_home_opened_event,
    block_actions_body,
    new_trigger_id,
    sign,
    slash_command_body,
    state_from_view,
    state_values,
    view_submission_body,
)

SECRET = "test-signing-secret"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _modal(blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "deploy",
        "title": {"type": "plain_text", "text": "Deploy"},
        "submit": {"type": "plain_text", "text": "Request"},
        "blocks": blocks if blocks is not None else [_section("hello")],
        **extra,
    }


def _error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


# -- Web API methods ---------------------------------------------------------------------------------------


def test_base_url_and_auth_test(slack: FakeSlack, client: WebClient) -> None:
    assert slack.base_url.startswith("http://127.0.0.1:") and slack.base_url.endswith("/api/")
    data = client.auth_test().data
    assert data["ok"] and data["user_id"] and data["bot_id"] and data["team_id"]
    assert data["url"].startswith("https://")
    (call,) = slack.calls_to("auth.test")
    assert call.token == slack.bot_token and call.status == 200


def test_token_is_checked(slack: FakeSlack) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack.base_url)
    with pytest.raises(SlackApiError) as exc:
        wrong.chat_postMessage(channel="C1", text="hi")
    assert _error(exc) == "invalid_auth"
    missing = httpx.post(f"{slack.base_url}auth.test")
    assert missing.json() == {"ok": False, "error": "not_authed"}
    assert slack.messages("C1") == []
    assert slack.calls_to("chat.postMessage", ok_only=False)[0].status == 200


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.scheduleTeleport")
    assert _error(exc) == "unknown_method"


def test_post_update_thread_and_permalink(slack: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="request", blocks=[_section("*deploy*")])
    second = client.chat_postMessage(channel="C1", text="another")
    assert first["channel"] == "C1" and first["message"]["text"] == "request"
    assert float(second["ts"]) > float(first["ts"])
    reply = client.chat_postMessage(channel="C1", text="approved by <@U2>", thread_ts=first["ts"])
    client.chat_update(channel="C1", ts=first["ts"], text="approved", blocks=[_section("*approved*")])

    top = slack.messages("C1")
    assert [m["text"] for m in top] == ["approved", "another"]
    assert top[0]["blocks"][0]["text"]["text"] == "*approved*" and top[0]["blocks"][0]["block_id"]
    assert top[0]["reply_count"] == 1
    assert [m["text"] for m in slack.thread("C1", first["ts"])] == ["approved by <@U2>"]
    link = client.chat_getPermalink(channel="C1", message_ts=reply["ts"])["permalink"]
    assert "/archives/C1/p" in link and f"thread_ts={first['ts']}" in link
    assert len(slack.write_times("C1")) == 4

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert _error(exc) == "message_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x", thread_ts="1.000001")
    assert _error(exc) == "thread_not_found"
    with pytest.raises(SlackApiError) as exc, pytest.warns(UserWarning, match="text"):
        client.chat_postMessage(channel="C1")
    assert _error(exc) == "no_text"


def test_channels_registration_and_membership(client: WebClient) -> None:
    strict = FakeSlack(strict_channels=True)
    with strict:
        strict_client = WebClient(token=strict.bot_token, base_url=strict.base_url)
        with pytest.raises(SlackApiError) as exc:
            strict_client.chat_postMessage(channel="C404", text="x")
        assert _error(exc) == "channel_not_found"
        strict.add_channel("C2", "deploys", is_member=False)
        with pytest.raises(SlackApiError) as exc:
            strict_client.chat_postMessage(channel="C2", text="x")
        assert _error(exc) == "not_in_channel"
        with pytest.raises(SlackApiError) as exc:
            strict_client.chat_postEphemeral(channel="C2", user="U1", text="x")
        assert _error(exc) == "not_in_channel"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="G999", text="x")
    assert _error(exc) == "channel_not_found"
    assert client.chat_postMessage(channel="CAUTO", text="x")["ok"]
    assert client.conversations_info(channel="CAUTO")["channel"]["is_member"] is True


def test_direct_message_to_user_lands_in_dm(slack: FakeSlack, client: WebClient) -> None:
    answer = client.chat_postMessage(channel="U7", text="your deployment failed")
    assert answer["channel"].startswith("D")
    assert [m["text"] for m in slack.messages("U7")] == ["your deployment failed"]


def test_ephemeral_is_stored_per_user(slack: FakeSlack, client: WebClient) -> None:
    slack.add_channel("C3", "ops", members=["U1"])
    answer = client.chat_postEphemeral(channel="C3", user="U1", text="only you can see this")
    assert answer["message_ts"]
    (told,) = slack.ephemerals("U1")
    assert told["text"] == "only you can see this" and told["channel"] == "C3"
    assert slack.ephemerals("U2") == []
    with pytest.raises(SlackApiError) as exc:
        client.chat_postEphemeral(channel="C3", user="U2", text="x")
    assert _error(exc) == "user_not_in_channel"


def test_form_encoded_bodies_are_decoded(slack: FakeSlack) -> None:
    blocks = [_section("form")]
    response = httpx.post(
        f"{slack.base_url}chat.postMessage",
        data={"token": slack.bot_token, "channel": "C1", "text": "t", "blocks": json.dumps(blocks)},
    )
    assert response.json()["ok"] is True
    (call,) = slack.calls_to("chat.postMessage")
    assert call.body["blocks"] == blocks and call.token == slack.bot_token
    assert slack.messages("C1")[0]["blocks"][0]["text"]["text"] == "form"


def test_views_open_push_update_and_triggers(slack: FakeSlack, client: WebClient) -> None:
    trigger = new_trigger_id()
    opened = client.views_open(trigger_id=trigger, view=_modal(private_metadata='{"r": 1}'))["view"]
    assert opened["id"] and opened["hash"] and opened["callback_id"] == "deploy"
    assert opened["private_metadata"] == '{"r": 1}' and opened["blocks"][0]["text"]["text"] == "hello"
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=trigger, view=_modal())
    assert _error(exc) == "expired_trigger_id"
    late = new_trigger_id()
    slack.expire_trigger(late)
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=late, view=_modal())
    assert _error(exc) == "expired_trigger_id"

    pushed = client.views_push(trigger_id=new_trigger_id(), view=_modal(callback_id="preview"))["view"]
    assert pushed["previous_view_id"] == opened["id"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal([_section("v2")]))
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    assert slack.last_view("deploy")["blocks"][0]["text"]["text"] == "v2"
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal())
    assert _error(exc) == "hash_conflict"
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id="VNOPE", view=_modal())
    assert _error(exc) == "not_found"

    client.views_open(trigger_id=new_trigger_id(), view=_modal(external_id="req-42"))
    by_external = client.views_update(
        external_id="req-42", view=_modal([_section("ext")], external_id="req-42")
    )
    assert by_external["view"]["external_id"] == "req-42"


def test_views_publish_stores_home_per_user(slack: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [_section("your requests")]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home)["view"]
    assert first["id"] == again["id"]
    stored = slack.home("U1")
    assert stored is not None and stored["blocks"][0]["text"]["text"] == "your requests"
    assert slack.home("U2") is None


def test_directory_methods(slack: FakeSlack, client: WebClient) -> None:
    slack.set_usergroup("S1", ["U1", "U2"])
    slack.add_channel("C9", "deploys", members=["U1", "U2", "U3"])
    slack.add_channel("G1", "secret-deploys", is_member=False)
    slack.add_user("U1", "alice", "Alice Doe")
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    info = client.conversations_info(channel="C9")["channel"]
    assert info["name"] == "deploys" and info["is_member"] and not info["is_private"]
    private = client.conversations_info(channel="G1")["channel"]
    assert private["is_private"] and not private["is_member"]
    page = client.conversations_members(channel="C9", limit=2)
    rest = client.conversations_members(channel="C9", cursor=page["response_metadata"]["next_cursor"])
    assert page["members"] + rest["members"] == ["U1", "U2", "U3"]
    assert client.users_info(user="U1")["user"]["real_name"] == "Alice Doe"
    for call, error in [
        (lambda: client.usergroups_users_list(usergroup="S404"), "no_such_subteam"),
        (lambda: client.conversations_info(channel="C404"), "channel_not_found"),
        (lambda: client.users_info(user="U404"), "user_not_found"),
    ]:
        with pytest.raises(SlackApiError) as exc:
            call()
        assert _error(exc) == error


# -- failure injection -------------------------------------------------------------------------------------


def test_rate_limit_is_a_429_with_retry_after(slack: FakeSlack, client: WebClient) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert _error(exc) == "ratelimited"
    assert [c.status for c in slack.calls_to("chat.postMessage", ok_only=False)] == [429]
    assert slack.messages("C1") == []


def test_rate_limit_retried_by_slack_sdk_handler(slack: FakeSlack) -> None:
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    assert retrying.chat_postMessage(channel="C1", text="eventually")["ok"]
    attempts = slack.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert [m["text"] for m in slack.messages("C1")] == ["eventually"]


def test_fail_and_delay_injection(slack: FakeSlack, client: WebClient) -> None:
    slack.fail("views.open", "internal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.views_open(trigger_id=new_trigger_id(), view=_modal())
        assert _error(exc) == "internal_error"
    assert client.views_open(trigger_id=new_trigger_id(), view=_modal())["ok"]

    slack.delay("chat.postMessage", 0.5)
    impatient = WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=0.1)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="C1", text="slow")
    assert client.chat_postMessage(channel="C1", text="fast")["ok"]


# -- Slack limits ------------------------------------------------------------------------------------------


def _button(value: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "OK"},
                "value": value,
            }
        ],
    }


def _select(count: int) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": f"o{i}"}, "value": f"v{i}"} for i in range(count)]
    return {
        "type": "input",
        "block_id": "project",
        "label": {"type": "plain_text", "text": "Project"},
        "element": {"type": "static_select", "action_id": "value", "options": options},
    }


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([_section("x")] * 51, "/blocks]"),
        ([_section("x" * 3001)], "/blocks/0/text/text"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}], "/blocks/0/fields/0"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "/blocks/0/text/text"),
        ([_button("x" * 2001)], "/blocks/0/elements/0/value"),
        ([{"type": "teleport"}], "/blocks/0"),
        ([{"type": "section"}], "/blocks/0"),
    ],
)
def test_message_limits_rejected(
    slack: FakeSlack, client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert _error(exc) == "invalid_blocks"
    assert any(pointer in error for error in exc.value.response["errors"]), exc.value.response["errors"]
    assert slack.messages("C1") == []


def test_limits_at_the_edge_are_accepted(client: WebClient) -> None:
    blocks = [_section("x" * 3000), _button("v" * 2000)] + [_section("y")] * 48
    assert client.chat_postMessage(channel="C1", text="x" * 40_000, blocks=blocks)["ok"]
    assert client.views_open(trigger_id=new_trigger_id(), view=_modal([_select(100)]))["ok"]


def test_text_over_40000_chars(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x" * 40_001)
    assert _error(exc) == "msg_too_long"


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (_modal([_section("x")] * 101), "/view/blocks]"),
        (_modal(title={"type": "plain_text", "text": "x" * 25}), "/view/title"),
        (_modal(submit={"type": "plain_text", "text": "x" * 25}), "/view/submit"),
        (_modal(close={"type": "plain_text", "text": "x" * 25}), "/view/close"),
        (_modal(private_metadata="x" * 3001), "/view/private_metadata"),
        (_modal([_select(101)]), "/view/blocks/0/element/options"),
        (_modal([{"type": "input", "element": {"type": "plain_text_input", "action_id": "a"}}]), "/view/"),
    ],
)
def test_modal_limits_rejected(client: WebClient, view: dict[str, Any], pointer: str) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=new_trigger_id(), view=view)
    assert _error(exc) == "invalid_blocks"
    assert any(pointer in error for error in exc.value.response["errors"]), exc.value.response["errors"]


def test_block_checks_can_be_turned_off_for_benchmarks() -> None:
    with FakeSlack(check_blocks=False) as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.base_url)
        assert client.views_open(trigger_id=new_trigger_id(), view=_modal([_select(101)]))["ok"]
        assert client.chat_postMessage(channel="C1", text="t", blocks=[{"type": "teleport"}])["ok"]
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x" * 40_001)
        assert _error(exc) == "msg_too_long"


# -- recording helpers -------------------------------------------------------------------------------------


def test_wait_for_sees_later_calls_and_reports_what_it_saw(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="first")
    poster = threading.Thread(target=lambda: client.chat_postMessage(channel="C2", text="later"))
    poster.start()
    call = slack.wait_for("chat.postMessage", lambda c: c.body["channel"] == "C2")
    poster.join()
    assert call.body["text"] == "later" and call.response["ok"]
    with pytest.raises(AssertionError, match="first"):
        slack.wait_for("chat.postMessage", lambda c: c.body["channel"] == "C404", timeout=0.2)
    slack.reset()
    assert slack.calls == [] and len(slack.messages("C1")) == 1


def test_all_text_covers_every_body(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="nothing secret", blocks=[_section("shh-in-a-block")])
    client.views_open(trigger_id=new_trigger_id(), view=_modal(private_metadata="pm-marker"))
    WebhookClient(slack.response_url()).send(text="via response_url")
    text = slack.all_text()
    assert "shh-in-a-block" in text and "pm-marker" in text and "via response_url" in text
    assert "hunter2" not in text
    assert slack.responses()[0]["text"] == "via response_url"


# -- signing -----------------------------------------------------------------------------------------------


def test_signature_accepted_by_slack_sdk_verifier() -> None:
    body = slash_command_body(text="deploy")
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"&text=stop", headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


# -- request bodies through a real Bolt app over HTTP ------------------------------------------------------


class _BoltServer:
    """Minimal HTTP front for a Bolt app, like the project's waitress adapter."""

    def __init__(self, app: App) -> None:
        bolt = app

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                request = BoltRequest(
                    body=raw.decode(), headers={k.lower(): [v] for k, v in self.headers.items()}
                )
                response = bolt.dispatch(request)
                payload = response.body.encode()
                self.send_response(response.status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _deploy_modal() -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "Paper"}, "value": "paper"}
    live = {"text": {"type": "plain_text", "text": "Live"}, "value": "live"}
    return _modal(
        [
            {
                "type": "input",
                "block_id": "tradier-environment",
                "label": {"type": "plain_text", "text": "Environment"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [option, live],
                    "initial_option": option,
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "ib-weekly-restart-utc-time",
                "label": {"type": "plain_text", "text": "Weekly restart"},
                "element": {"type": "timepicker", "action_id": "value", "initial_time": "22:00"},
            },
            {
                "type": "input",
                "block_id": "data-providers",
                "optional": True,
                "label": {"type": "plain_text", "text": "Data"},
                "element": {"type": "checkboxes", "action_id": "value", "options": [option, live]},
            },
            {**_button("req-1"), "block_id": "card-actions"},
        ]
    )


@pytest.fixture
def bolt_world(slack: FakeSlack) -> Iterator[tuple[SlackSender, dict[str, list[Any]]]]:
    seen: dict[str, list[Any]] = {"command": [], "action": [], "submission": [], "home": []}
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=slack.bot_token, base_url=slack.base_url),
        process_before_response=True,
    )

    @app.command("/qc")
    def qc(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        seen["command"].append(body)
        client.views_open(trigger_id=body["trigger_id"], view=_deploy_modal())
        respond("opening the deploy form")

    @app.action("approve")
    def approve(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen["action"].append(body)

    @app.view("deploy")
    def submitted(ack: Any, view: dict[str, Any]) -> None:
        ack()
        seen["submission"].append(view["state"]["values"])

    @app.event("app_home_opened")
    def home(event: dict[str, Any]) -> None:
        seen["home"].append(event)

    server = _BoltServer(app)
    with SlackSender(server.base_url, SECRET, response_url_base=slack.response_url_base) as sender:
        yield sender, seen
    server.stop()


def test_sender_drives_a_bolt_app_end_to_end(
    slack: FakeSlack, bolt_world: tuple[SlackSender, dict[str, list[Any]]]
) -> None:
    sender, seen = bolt_world
    assert sender.command("deploy", user_id="U5").status_code == 200
    assert seen["command"][0]["text"] == "deploy" and seen["command"][0]["user_id"] == "U5"
    assert slack.wait_for("response_url").body["text"] == "opening the deploy form"

    view = slack.last_view("deploy")
    values = state_from_view(view, {"reason": "rebalance", "data-providers": {"value": ["live"]}})
    assert sender.submit(view, values, user_id="U5").status_code == 200
    (state,) = seen["submission"]
    assert state["reason"]["value"]["value"] == "rebalance"
    assert state["tradier-environment"]["value"]["selected_option"]["value"] == "paper"
    assert state["ib-weekly-restart-utc-time"]["value"]["selected_time"] == "22:00"
    assert [o["value"] for o in state["data-providers"]["value"]["selected_options"]] == ["live"]

    card = WebClient(token=slack.bot_token, base_url=slack.base_url).chat_postMessage(
        channel="C1", text="approve?", blocks=[_button("req-1")]
    )
    message = slack.message("C1", card["ts"])
    assert (
        sender.action("approve", "req-1", user_id="U6", channel_id="C1", message=message).status_code == 200
    )
    (clicked,) = seen["action"]
    assert clicked["actions"][0]["value"] == "req-1" and clicked["user"]["id"] == "U6"
    assert clicked["actions"][0]["block_id"] == message["blocks"][0]["block_id"]
    assert clicked["container"]["message_ts"] == card["ts"]

    assert sender.event(app_home_opened_event("U5")).status_code == 200
    assert seen["home"][0]["user"] == "U5"


def test_bolt_rejects_bad_signatures(bolt_world: tuple[SlackSender, dict[str, list[Any]]]) -> None:
    sender, seen = bolt_world
    body = slash_command_body(text="deploy")
    assert sender.send(body, signature="v0=" + "0" * 64).status_code == 401
    assert sender.send(body, timestamp=int(time.time()) - 600).status_code == 401
    assert sender.send(body, sign=False).status_code == 401
    assert seen["command"] == []


def test_action_and_state_builders_shape() -> None:
    view = _deploy_modal()
    payload = json.loads(
        parse_qs(block_actions_body("approve", "req-9", user_id="U1", view=view).decode())["payload"][0]
    )
    assert payload["type"] == "block_actions" and payload["container"]["type"] == "view"
    assert payload["actions"][0]["block_id"] == "card-actions"
    assert "response_url" not in payload and payload["view"]["id"]
    with pytest.raises(ValueError, match="not an option"):
        state_values(view, {"tradier-environment": {"value": "margin"}})
    with pytest.raises(KeyError):
        state_from_view(view, {"no-such-block": "x"})
    submitted = json.loads(
        parse_qs(view_submission_body(view, "U1", {"reason": {"value": "why"}}).decode())["payload"][0]
    )
    assert submitted["view"]["state"]["values"] == {
        "reason": {"value": {"type": "plain_text_input", "value": "why"}}
    }
