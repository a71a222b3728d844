"""A loopback fake of the Slack Web API: a real HTTP server on 127.0.0.1 that slack_sdk talks to.

Usage::

    with FakeSlack() as slack:                      # or slack.start() / slack.stop()
        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        slack.add_channel("C123", "deploys")          # is_member=False -> not_in_channel on post
        slack.add_user("U1", "alice", "Alice Doe")
        slack.set_usergroup("S1", ["U1"])
        ...app runs with SLACK_API_URL=slack.base_url, SLACK_BOT_TOKEN=slack.bot_token...
        call = slack.wait_for("chat.postMessage", lambda c: c.body["channel"] == "C123")
        assert "hunter2" not in slack.all_text()

Recording (every request, including rejected ones):
    ``calls: list[SlackCall]`` with ``method``, ``token``, ``body`` (JSON and form bodies parsed; ``blocks``,
    ``view``, ``attachments`` and ``metadata`` form fields decoded to objects), ``at`` (``time.monotonic()``),
    ``status`` (HTTP status), ``response`` (the JSON answered) and ``ok``.
    ``calls_to(method, ok_only=True)``, ``wait_for(method, predicate=None, timeout=5.0, ok_only=True)``,
    ``all_text()`` (JSON dump of every recorded body), ``reset()`` (forgets recorded calls only).

Surface state (what a user would see):
    ``messages(channel)`` top-level messages in post order, updates applied; ``thread(channel, ts)`` replies
    to one message; ``message(channel, ts)``; ``ephemerals(user_id)`` what a user was told privately;
    ``view(view_id)``, ``last_view(callback_id=None)`` (latest modal opened, pushed or updated, as Slack
    holds it: with ``id``, ``hash``, ``state``), ``home(user_id)`` (published App Home or None),
    ``write_times(channel)`` monotonic times of accepted ``chat.postMessage``/``chat.update`` for pacing
    checks. Posting to a user id (``U...``) lands in the DM channel ``D`` + the rest of the id.

Response URLs: ``response_url(user_id=None, channel_id=None)`` mints ``http://127.0.0.1:PORT/response/<key>``;
posts there are recorded as calls with method ``"response_url"`` (``path`` holds the key) and listed by
``responses(key=None)``. Like Slack's, a response URL belongs to the person who acted and their channel (the
key starts ``<user>/<channel>/``, see ``response_key``): an ephemeral post to it (the default response type,
without ``replace_original``) is shown to that person in ``ephemerals(user_id)`` too.

Failure injection (each consumed by the next matching calls, in order of injection):
    ``rate_limit(method, times=1, retry_after=1)`` HTTP 429 + ``Retry-After``, body ``ratelimited``;
    ``fail(method, error, times=1)`` ``{"ok": false, "error": error}``; ``delay(method, seconds, times=1)``
    sleeps before answering normally; ``drop(method, times=1)`` closes the connection without answering
    (recorded with status 0); ``close_idle_connections()`` hangs up kept-alive connections from the server's
    side; ``expire_trigger(trigger_id)``; ``clear_faults()`` forgets the injections not used yet.

Socket Mode: ``apps.connections.open`` takes the app-level token ``app_token`` (``xapp-…``) and answers a
WebSocket URL served by ``socket_mode`` (a ``tests.fakes.fake_socket_mode.FakeSocketMode``: hello, envelopes,
acks, retries, disconnect; see that module). A bot or user token there is ``not_allowed_token_type``, as is
the app-level token on any other method.

Errors answered like Slack: ``not_authed``/``invalid_auth`` (token via ``Authorization: Bearer`` or a
``token`` field), ``not_allowed_token_type``, ``unknown_method``, ``channel_not_found`` (a never-registered
``C...`` id is auto-registered as a member channel unless ``strict_channels=True``), ``not_in_channel``,
``user_not_in_channel``, ``no_text``, ``msg_too_long`` (text over 40,000 chars, Slack's own error for it),
``thread_not_found`` (fake's strict choice for an unknown ``thread_ts``), ``message_not_found``,
``expired_trigger_id``,
``not_found`` / ``hash_conflict`` (views.update/publish), ``no_such_subteam``, ``user_not_found``.
Block Kit limits are enforced and answered as ``{"ok": false, "error": "invalid_blocks", "errors": [...]}``
with json-pointers: message blocks 50, modal/home blocks 100, section text 3000, section field 2000 (Slack's
documented field limit) and 10 fields, header 150, modal title/submit/close 24, private_metadata 3000,
callback_id/block_id/action_id 255, button text 75 and value 2000, select options 100, option text 75 and
value 150; then slack_sdk's own model validation (``Block.parse``/``View(**view)`` + ``to_dict()``).
``FakeSlack(check_blocks=False)`` skips these Block Kit checks (milliseconds of CPU a view), for benchmarks.
The fake does not track view stacks, so ``views.push`` never answers ``push_limit_reached``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.fakes.fake_socket_mode import FakeSocketMode

TEAM_ID = "T0FAKE"
TEAM_DOMAIN = "fake-workspace"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0FAKE"

# Form-encoded requests carry these as JSON strings; Slack decodes them, so the fake does too.
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata")

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
TEXT_MAX = 40_000
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_FIELDS_MAX = 10
HEADER_TEXT_MAX = 150
VIEW_LABEL_MAX = 24
PRIVATE_METADATA_MAX = 3000
ID_MAX = 255
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150

# Methods that take the app-level token (xapp-) instead of the bot token.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

_SELECTS_WITH_OPTIONS = ("static_select", "multi_static_select", "checkboxes", "radio_buttons", "overflow")


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received, with what it answered."""

    method: str
    token: str | None
    body: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def ok(self) -> bool:
        """True when Slack would have accepted the call."""
        return self.status == 200 and bool(self.response.get("ok"))


class SlackApiFailure(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        """The JSON body Slack would answer."""
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class _Channel:
    id: str
    name: str
    is_member: bool
    is_private: bool
    members: list[str] | None


@dataclass
class _Fault:
    kind: str  # "rate_limit", "fail" or "drop"
    error: str = ""
    retry_after: int = 1


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Loopback Slack Web API (see the module docstring for the full API)."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-1-A0FAKE-1-test",
        strict_channels: bool = False,
        check_blocks: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode = FakeSocketMode(app_id=APP_ID, host=host)
        self.strict_channels = strict_channels
        # Block Kit validation costs the fake milliseconds of CPU a view; benchmarks turn it off.
        self.check_blocks = check_blocks
        self._host = host
        self._cond = threading.Condition(threading.RLock())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.calls: list[SlackCall] = []
        # TCP connections accepted: with keep-alive (HTTP/1.1, like Slack) a pooled client reuses them.
        self.connections = 0
        self._open_sockets: set[socket.socket] = set()
        self._channels: dict[str, _Channel] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, list[str]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._ephemerals: dict[str, list[dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._modal_order: list[str] = []
        self._homes: dict[str, dict[str, Any]] = {}
        self._used_triggers: set[str] = set()
        self._write_times: dict[str, list[float]] = {}
        self._responses: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, list[float]] = {}
        self._last_ts = 0
        self._view_seq = 0
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
        }

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        server = _QuietServer((self._host, 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()
        self.socket_mode.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the ports."""
        self.socket_mode.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def base_url(self) -> str:
        """Web API base, the app's ``SLACK_API_URL`` (ends with ``/api/``)."""
        return f"{self.root_url}api/"

    @property
    def response_url_base(self) -> str:
        """Prefix of response URLs served by this fake."""
        return f"{self.root_url}response/"

    def response_url(self, user_id: str | None = None, channel_id: str | None = None) -> str:
        """A fresh response_url whose posts this fake records (shown to `user_id` when given)."""
        return f"{self.response_url_base}{response_key(user_id, channel_id)}"

    # -- directory -------------------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        is_member: bool = True,
        *,
        is_private: bool | None = None,
        members: list[str] | None = None,
    ) -> None:
        """Register a conversation; ``members`` (if given) answers conversations.members."""
        private = channel_id.startswith("G") if is_private is None else is_private
        with self._cond:
            self._channels[channel_id] = _Channel(channel_id, name, is_member, private, members)

    def add_user(self, user_id: str, name: str, real_name: str = "", *, is_bot: bool = False) -> None:
        """Register a user for users.info."""
        real = real_name or name
        with self._cond:
            self._users[user_id] = {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": real,
                "deleted": False,
                "is_bot": is_bot,
                "is_admin": False,
                "tz": "UTC",
                "profile": {"real_name": real, "display_name": name, "team": TEAM_ID},
            }

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        """Define (or replace) a user group's members."""
        with self._cond:
            self._groups[group_id] = list(user_ids)

    # -- failure injection -----------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        with self._cond:
            self._faults.setdefault(method, []).extend(
                _Fault("rate_limit", retry_after=retry_after) for _ in range(times)
            )

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``ok: false`` and ``error``."""
        with self._cond:
            self._faults.setdefault(method, []).extend(_Fault("fail", error=error) for _ in range(times))

    def drop(self, method: str, times: int = 1) -> None:
        """Hang up on the next ``times`` calls of ``method`` without answering (recorded with status 0)."""
        with self._cond:
            self._faults.setdefault(method, []).extend(_Fault("drop") for _ in range(times))

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` calls of ``method``."""
        with self._cond:
            self._delays.setdefault(method, []).extend([seconds] * times)

    def clear_faults(self) -> None:
        """Forget every injected failure and delay not used yet."""
        with self._cond:
            self._faults.clear()
            self._delays.clear()

    def close_idle_connections(self) -> None:
        """Close every open client connection from the server's side, as Slack does with idle ones."""
        with self._cond:
            open_sockets = list(self._open_sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def expire_trigger(self, trigger_id: str) -> None:
        """Make ``trigger_id`` answer ``expired_trigger_id`` from now on."""
        with self._cond:
            self._used_triggers.add(trigger_id)

    # -- recording -------------------------------------------------------------------------------------

    def calls_to(self, method: str, ok_only: bool = True) -> list[SlackCall]:
        """Recorded calls of ``method``, only accepted ones unless ``ok_only=False``."""
        with self._cond:
            return [c for c in self.calls if c.method == method and (c.ok or not ok_only)]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        timeout: float = 5.0,
        *,
        ok_only: bool = True,
    ) -> SlackCall:
        """First recorded call of ``method`` matching ``predicate``; waits up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls_to(method, ok_only=ok_only):
                    if predicate is None or predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(
                        f"  {c.method} status={c.status} ok={c.ok} body={json.dumps(c.body)[:300]}"
                        for c in self.calls
                    )
                    raise AssertionError(
                        f"no matching {method} call within {timeout}s; saw:\n{seen or '  -'}"
                    )
                self._cond.wait(min(remaining, 0.2))

    def all_text(self) -> str:
        """Every recorded request body as one JSON string (for "no secret reached Slack" checks)."""
        with self._cond:
            return json.dumps([c.body for c in self.calls], sort_keys=True, ensure_ascii=False)

    def reset(self) -> None:
        """Forget recorded calls; surface state, directory and pending faults are kept."""
        with self._cond:
            self.calls.clear()
            self._responses.clear()

    # -- surface state ---------------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of ``channel`` in post order, with updates applied."""
        with self._cond:
            return _copy(self._messages.get(_dm_channel(channel), []))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies to message ``ts`` in ``channel`` (the parent excluded)."""
        with self._cond:
            return _copy(self._replies.get((_dm_channel(channel), ts), []))

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One message (top-level or reply) by ``ts``; KeyError if unknown."""
        with self._cond:
            found = self._find_message(_dm_channel(channel), ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel}")
            return _copy(found)

    def ephemerals(self, user_id: str) -> list[dict[str, Any]]:
        """Ephemeral messages shown to ``user_id``, oldest first."""
        with self._cond:
            return _copy(self._ephemerals.get(user_id, []))

    def view(self, view_id: str) -> dict[str, Any]:
        """A view as Slack holds it; KeyError if unknown."""
        with self._cond:
            return _copy(self._views[view_id])

    def last_view(self, callback_id: str | None = None) -> dict[str, Any]:
        """Most recently opened, pushed or updated modal (optionally with ``callback_id``)."""
        with self._cond:
            for view_id in reversed(self._modal_order):
                view = self._views[view_id]
                if callback_id is None or view.get("callback_id") == callback_id:
                    return _copy(view)
        raise AssertionError(f"no modal with callback_id={callback_id!r} was opened")

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view published for ``user_id``, if any."""
        with self._cond:
            view = self._homes.get(user_id)
            return _copy(view) if view is not None else None

    def write_times(self, channel: str) -> list[float]:
        """Monotonic times of accepted chat.postMessage/chat.update calls in ``channel``."""
        with self._cond:
            return list(self._write_times.get(_dm_channel(channel), []))

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted to this fake's response URLs (all, or those of one key)."""
        with self._cond:
            return [_copy(body) for k, body in self._responses if key is None or k == key]

    # -- request handling (called from server threads) -------------------------------------------------

    def handle_api(self, method: str, body: dict[str, Any], auth_header: str | None) -> _Reply:
        """Answer one Web API call and record it."""
        arrived = time.monotonic()
        token = _bearer(auth_header) or (body.get("token") if isinstance(body.get("token"), str) else None)
        reply = self._answer(method, body, token)
        with self._cond:
            self.calls.append(SlackCall(method, token, _copy(body), arrived, reply.status, reply.body))
            self._cond.notify_all()
        return reply

    def handle_response_url(self, key: str, body: dict[str, Any]) -> _Reply:
        """Record a post to a response_url; an ephemeral one is shown to the person the URL belongs to."""
        reply = _Reply(200, {"ok": True})
        user, channel = _response_owner(key)
        shown = user and body.get("response_type", "ephemeral") == "ephemeral"
        try:
            _check_message_content(body, check_blocks=self.check_blocks)
        except SlackApiFailure as exc:
            reply, shown = _Reply(400, exc.payload()), False
        with self._cond:
            self._responses.append((key, body))
            if shown and not body.get("replace_original") and not body.get("delete_original"):
                self._ephemerals.setdefault(user, []).append(
                    {
                        "channel": channel,
                        "message_ts": self._next_ts(),
                        "text": body.get("text", ""),
                        "blocks": _with_block_ids(body.get("blocks") or []),
                        "attachments": body.get("attachments") or [],
                        "thread_ts": None,
                    }
                )
            self.calls.append(
                SlackCall("response_url", None, body, time.monotonic(), 200, reply.body, path=key)
            )
            self._cond.notify_all()
        return reply

    def _answer(self, method: str, body: dict[str, Any], token: str | None) -> _Reply:
        handler = self._methods.get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        refusal = self._token_refusal(method, token)
        if refusal:
            return _Reply(200, {"ok": False, "error": refusal})
        with self._cond:
            delays = self._delays.get(method)
            pause = delays.pop(0) if delays else 0.0
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
        if pause:
            time.sleep(pause)
        if fault is not None and fault.kind == "drop":
            return _Reply(0, {"ok": False, "error": "connection dropped by the fake"})
        if fault is not None and fault.kind == "rate_limit":
            return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)})
        if fault is not None:
            return _Reply(200, {"ok": False, "error": fault.error})
        try:
            with self._cond:
                return _Reply(200, {"ok": True, **handler(body)})
        except SlackApiFailure as failure:
            return _Reply(200, failure.payload())

    def _token_refusal(self, method: str, token: str | None) -> str:
        """Slack's error for a missing, unknown or wrong-type token ("" when the token fits the method)."""
        if not token:
            return "not_authed"
        wants_app_token = method in _APP_TOKEN_METHODS
        expected = self.app_token if wants_app_token else self.bot_token
        if token == expected:
            return ""
        # Slack tells token types apart by prefix: app-level tokens are xapp-, bot and user tokens xox.-
        if token.startswith("xapp-") != wants_app_token:
            return "not_allowed_token_type"
        return "invalid_auth"

    # -- methods ---------------------------------------------------------------------------------------

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket_mode.issue_url()}

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Fake Workspace",
            "user": "qc-deploy",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(body.get("channel"))
        _check_message_content(body, check_blocks=self.check_blocks)
        thread_ts = body.get("thread_ts") or None
        parent = None
        if thread_ts is not None:
            parent = self._find_top_level(channel, str(thread_ts))
            if parent is None:
                raise SlackApiFailure("thread_not_found")
        message = self._new_message(body)
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            message["parent_user_id"] = parent.get("user", BOT_USER_ID)
            replies = self._replies.setdefault((channel, parent["ts"]), [])
            replies.append(message)
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = len(replies)
            parent["latest_reply"] = message["ts"]
        else:
            self._messages.setdefault(channel, []).append(message)
        self._write_times.setdefault(channel, []).append(time.monotonic())
        return {"channel": channel, "ts": message["ts"], "message": _copy(message)}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = _dm_channel(str(body.get("channel") or ""))
        if channel not in self._channels and channel not in self._messages:
            raise SlackApiFailure("channel_not_found")
        message = self._find_message(channel, str(body.get("ts") or ""))
        if message is None:
            raise SlackApiFailure("message_not_found")
        if any(key in body for key in ("blocks", "text", "attachments")):
            _check_message_content(body, check_blocks=self.check_blocks)
        for key in ("text", "attachments", "metadata"):
            if key in body:
                message[key] = body[key]
        if "blocks" in body:
            message["blocks"] = _with_block_ids(body["blocks"])
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self._write_times.setdefault(channel, []).append(time.monotonic())
        return {
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": _copy(message),
        }

    def _chat_post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(body.get("channel"))
        user = str(body.get("user") or "")
        if not user:
            raise SlackApiFailure("user_not_found")
        members = self._channels[channel].members if channel in self._channels else None
        if members is not None and user not in members:
            raise SlackApiFailure("user_not_in_channel")
        _check_message_content(body, check_blocks=self.check_blocks)
        message_ts = self._next_ts()
        self._ephemerals.setdefault(user, []).append(
            {
                "channel": channel,
                "message_ts": message_ts,
                "text": body.get("text", ""),
                "blocks": _with_block_ids(body.get("blocks") or []),
                "attachments": body.get("attachments") or [],
                "thread_ts": body.get("thread_ts"),
            }
        )
        return {"message_ts": message_ts}

    def _chat_get_permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = _dm_channel(str(body.get("channel") or ""))
        ts = str(body.get("message_ts") or "")
        message = self._find_message(channel, ts)
        if message is None:
            raise SlackApiFailure("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        trigger = self._take_trigger(body)
        stored = self._store_view(_view_arg(body), previous=None)
        self._used_triggers.add(trigger)
        return {"view": _copy(stored)}

    def _views_push(self, body: dict[str, Any]) -> dict[str, Any]:
        trigger = self._take_trigger(body)
        previous = self._views[self._modal_order[-1]]["id"] if self._modal_order else None
        stored = self._store_view(_view_arg(body), previous=previous)
        self._used_triggers.add(trigger)
        return {"view": _copy(stored)}

    def _views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        view_id = body.get("view_id")
        external_id = body.get("external_id")
        current = None
        if view_id:
            current = self._views.get(str(view_id))
        elif external_id:
            current = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise SlackApiFailure("not_found")
        if body.get("hash") and body["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        view = _view_arg(body)
        if self.check_blocks:
            _check_view(view)
        updated = self._view_record(view, view_id=current["id"], previous=current.get("previous_view_id"))
        updated["root_view_id"] = current["root_view_id"]
        self._views[current["id"]] = updated
        if current["id"] in self._modal_order:
            self._modal_order.remove(current["id"])
        self._modal_order.append(current["id"])
        return {"view": _copy(updated)}

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        user = str(body.get("user_id") or "")
        if not user:
            raise SlackApiFailure("invalid_arguments")
        view = _view_arg(body)
        if view.get("type") != "home":
            raise SlackApiFailure(
                "invalid_arguments", errors=["view type must be home [json-pointer:/view/type]"]
            )
        current = self._homes.get(user)
        if current is not None and body.get("hash") and body["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        if self.check_blocks:
            _check_view(view)
        view_id = current["id"] if current is not None else None
        record = self._view_record(view, view_id=view_id, previous=None)
        self._homes[user] = record
        self._views[record["id"]] = record
        return {"view": _copy(record)}

    def _usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        group = str(body.get("usergroup") or "")
        if group not in self._groups:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(self._groups[group])}

    def _conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(body.get("channel") or ""))
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_private": channel.is_private,
            "is_archived": False,
            "is_general": False,
            "is_member": channel.is_member,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "created": 1_700_000_000,
            "creator": "U0CREATOR",
            "context_team_id": TEAM_ID,
            "name_normalized": channel.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if _truthy(body.get("include_num_members")):
            info["num_members"] = len(channel.members or [])
        return {"channel": info}

    def _conversations_members(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(body.get("channel") or ""))
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        members = channel.members or []
        start = int(body.get("cursor") or 0)
        limit = int(body.get("limit") or 100)
        page = members[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(members) else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(body.get("user") or ""))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"user": _copy(user)}

    # -- helpers (callers hold the lock) ---------------------------------------------------------------

    def _writable_channel(self, raw: object) -> str:
        if not raw:
            raise SlackApiFailure("channel_not_found")
        channel = _dm_channel(str(raw))
        if channel.startswith("D"):
            return channel
        known = self._channels.get(channel)
        if known is None:
            if self.strict_channels or not channel.startswith("C"):
                raise SlackApiFailure("channel_not_found")
            known = _Channel(channel, channel.lower(), True, False, None)
            self._channels[channel] = known
        if not known.is_member:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _next_ts(self) -> str:
        # Slack ts values are unique per workspace and increase; microsecond ticks guarantee both.
        now = int(time.time() * 1_000_000)
        self._last_ts = max(now, self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _new_message(self, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": self._next_ts(),
            "text": body.get("text", ""),
            "bot_profile": {
                "id": BOT_ID,
                "app_id": APP_ID,
                "name": "QuantConnect Deploy",
                "team_id": TEAM_ID,
            },
        }
        if body.get("blocks"):
            message["blocks"] = _with_block_ids(body["blocks"])
        for key in ("attachments", "metadata"):
            if body.get(key):
                message[key] = body[key]
        return message

    def _find_top_level(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        found = self._find_top_level(channel, ts)
        if found is not None:
            return found
        for (reply_channel, _parent), replies in self._replies.items():
            if reply_channel == channel:
                for reply in replies:
                    if reply["ts"] == ts:
                        return reply
        return None

    def _take_trigger(self, body: dict[str, Any]) -> str:
        trigger = body.get("trigger_id")
        if not trigger:
            raise SlackApiFailure("invalid_arguments", errors=["missing required field: trigger_id"])
        if trigger in self._used_triggers:
            raise SlackApiFailure("expired_trigger_id")
        return str(trigger)

    def _store_view(self, view: dict[str, Any], previous: str | None) -> dict[str, Any]:
        if self.check_blocks:
            _check_view(view)
        external_id = view.get("external_id")
        if external_id and any(v.get("external_id") == external_id for v in self._views.values()):
            raise SlackApiFailure("duplicate_external_id")
        record = self._view_record(view, view_id=None, previous=previous)
        self._views[record["id"]] = record
        self._modal_order.append(record["id"])
        return record

    def _view_record(self, view: dict[str, Any], view_id: str | None, previous: str | None) -> dict[str, Any]:
        if view_id is None:
            self._view_seq += 1
            view_id = f"V{self._view_seq:08d}"
        record: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "blocks": _with_block_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": view_id,
            "previous_view_id": previous,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        for key in ("title", "submit", "close"):
            record[key] = view.get(key)
        return record


# -- validation ----------------------------------------------------------------------------------------


def response_key(user_id: str | None = None, channel_id: str | None = None) -> str:
    """The path of a fresh response URL: `<user>/<channel>/<random>` when it belongs to someone."""
    token = secrets.token_hex(8)
    return f"{user_id}/{channel_id or '-'}/{token}" if user_id else token


def _response_owner(key: str) -> tuple[str, str]:
    """(user, channel) a response URL key belongs to; empty strings for an anonymous one."""
    parts = key.split("/")
    if len(parts) != 3:
        return "", ""
    return parts[0], "" if parts[1] == "-" else parts[1]


def _check_message_content(body: dict[str, Any], *, check_blocks: bool = True) -> None:
    """Raise SlackApiFailure the way Slack rejects message text and blocks."""
    blocks = body.get("blocks")
    if isinstance(blocks, str):
        raise SlackApiFailure("invalid_blocks_format")
    if not body.get("text") and not blocks and not body.get("attachments"):
        raise SlackApiFailure("no_text")
    if len(str(body.get("text") or "")) > TEXT_MAX:
        raise SlackApiFailure("msg_too_long")
    if blocks and check_blocks:
        errors = block_errors(blocks, max_blocks=MESSAGE_MAX_BLOCKS)
        if errors:
            raise _invalid_blocks(errors)


def _check_view(view: dict[str, Any]) -> None:
    errors = view_errors(view)
    if errors:
        raise _invalid_blocks(errors)


def _invalid_blocks(errors: list[str]) -> SlackApiFailure:
    return SlackApiFailure(
        "invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
    )


def view_errors(view: dict[str, Any]) -> list[str]:
    """Slack's complaints about a modal or home view, as ``message [json-pointer:/view/...]`` strings."""
    errors: list[str] = []
    for key in ("title", "submit", "close"):
        text = _text_of(view.get(key))
        if text is not None and len(text) > VIEW_LABEL_MAX:
            errors.append(
                f"must be less than {VIEW_LABEL_MAX + 1} characters [json-pointer:/view/{key}/text]"
            )
    if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA_MAX:
        errors.append(
            f"must be less than {PRIVATE_METADATA_MAX + 1} characters [json-pointer:/view/private_metadata]"
        )
    if len(str(view.get("callback_id") or "")) > ID_MAX:
        errors.append(f"must be less than {ID_MAX + 1} characters [json-pointer:/view/callback_id]")
    errors += block_errors(view.get("blocks") or [], max_blocks=VIEW_MAX_BLOCKS, pointer="/view/blocks")
    if not errors:
        errors += _sdk_errors(lambda: View(**view).to_dict(), "/view")
    return errors


def block_errors(blocks: object, *, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Slack's complaints about a block list, as ``message [json-pointer:...]`` strings."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must provide an array with no more than {max_blocks} items [json-pointer:{pointer}]")
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{here}]")
            continue
        errors += _limit_errors(block, here)
    if errors:
        return errors
    for index, block in enumerate(blocks):
        errors += _sdk_errors(lambda b=block: _parse_block(b), f"{pointer}/{index}")
    return errors


def _parse_block(block: dict[str, Any]) -> None:
    parsed = Block.parse(block)
    if parsed is None:
        raise SlackObjectFormationError(f"unsupported block type {block.get('type')!r}")
    parsed.to_dict()


def _sdk_errors(build: Callable[[], object], pointer: str) -> list[str]:
    try:
        build()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"{exc} [json-pointer:{pointer}]"]
    return []


def _limit_errors(block: dict[str, Any], here: str) -> list[str]:
    errors: list[str] = []

    def too_long(value: object, limit: int, path: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            errors.append(f"must be less than {limit + 1} characters [json-pointer:{path}]")

    too_long(block.get("block_id"), ID_MAX, f"{here}/block_id")
    kind = block.get("type")
    if kind == "section":
        too_long(_text_of(block.get("text")), SECTION_TEXT_MAX, f"{here}/text/text")
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS_MAX:
            errors.append(f"must provide an array with no more than 10 items [json-pointer:{here}/fields]")
        for i, item in enumerate(fields):
            too_long(_text_of(item), SECTION_FIELD_MAX, f"{here}/fields/{i}/text")
    elif kind == "header":
        too_long(_text_of(block.get("text")), HEADER_TEXT_MAX, f"{here}/text/text")
    for path, element in _elements(block, here):
        too_long(element.get("action_id"), ID_MAX, f"{path}/action_id")
        if element.get("type") == "button":
            too_long(_text_of(element.get("text")), BUTTON_TEXT_MAX, f"{path}/text/text")
            too_long(element.get("value"), BUTTON_VALUE_MAX, f"{path}/value")
        if element.get("type") in _SELECTS_WITH_OPTIONS:
            options = list(_options(element, path))
            if len(options) > SELECT_OPTIONS_MAX:
                errors.append(
                    f"must provide an array with no more than {SELECT_OPTIONS_MAX} items "
                    f"[json-pointer:{path}/options]"
                )
            for option_path, option in options:
                too_long(_text_of(option.get("text")), OPTION_TEXT_MAX, f"{option_path}/text/text")
                too_long(option.get("value"), OPTION_VALUE_MAX, f"{option_path}/value")
    return errors


def _elements(block: dict[str, Any], here: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Interactive elements of a block with their json-pointers."""
    if isinstance(block.get("accessory"), dict):
        yield f"{here}/accessory", block["accessory"]
    if isinstance(block.get("element"), dict):
        yield f"{here}/element", block["element"]
    if block.get("type") == "actions":
        for i, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict):
                yield f"{here}/elements/{i}", element


def _options(element: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, option in enumerate(element.get("options") or []):
        yield f"{path}/options/{i}", option
    for g, group in enumerate(element.get("option_groups") or []):
        for i, option in enumerate(group.get("options") or []):
            yield f"{path}/option_groups/{g}/options/{i}", option


# -- small utilities -----------------------------------------------------------------------------------


def _text_of(obj: object) -> str | None:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else None
    return obj if isinstance(obj, str) else None


def _with_block_ids(blocks: object) -> Any:
    """Copy of ``blocks`` where every block has a block_id, as Slack assigns one when missing."""
    if not isinstance(blocks, list):
        return blocks
    out = []
    for block in _copy(blocks):
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)
        out.append(block)
    return out


def _view_arg(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    if not isinstance(view, dict):
        raise SlackApiFailure("invalid_arguments", errors=["missing or malformed view [json-pointer:/view]"])
    return view


def _dm_channel(channel: str) -> str:
    # chat.postMessage to a user id opens the DM; the fake names it after the user.
    if channel[:1] in ("U", "W"):
        return f"D{channel[1:]}"
    return channel


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _truthy(value: object) -> bool:
    return value in (True, 1, "1", "true", "True")


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def parse_body(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    """Decode a Web API request body (JSON or form) plus query-string arguments."""
    body: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not raw:
        return body
    if "json" in content_type:
        decoded = json.loads(raw.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        body.update(decoded)
        return body
    body.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = body.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # Undecodable JSON stays a string: Slack then answers invalid_blocks_format / invalid_arguments.
            with contextlib.suppress(json.JSONDecodeError):
                body[key] = json.loads(value)
    return body


class _QuietServer(ThreadingHTTPServer):
    """Threading server that shrugs off clients hanging up (a timed-out client is a normal test case)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Routes ``/api/<method>`` and ``/response/<key>`` to the fake."""

        # Keep-alive like Slack's own servers; every reply carries Content-Length.
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY, Nagle holds the body back until the
        # client's delayed ACK (40 ms) on every kept-alive exchange.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with fake._cond:
                fake.connections += 1
                fake._open_sockets.add(self.connection)

        def finish(self) -> None:
            with fake._cond:
                fake._open_sockets.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = parse_body(raw, self.headers.get("Content-Type") or "", parts.query)
            except (ValueError, UnicodeDecodeError):
                self._send(_Reply(200, {"ok": False, "error": "invalid_json"}))
                return
            if parts.path.startswith("/api/"):
                method = parts.path[len("/api/") :]
                self._send(fake.handle_api(method, body, self.headers.get("Authorization")))
            elif parts.path.startswith("/response/"):
                self._send(fake.handle_response_url(parts.path[len("/response/") :], body))
            else:
                self._send(_Reply(404, {"ok": False, "error": "not_found"}))

        def _send(self, reply: _Reply) -> None:
            if reply.status == 0:
                # A dropped connection: close it without a status line, as a failing proxy or server would.
                self.close_connection = True
                return
            payload = json.dumps(reply.body).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: pytest output should show test failures, not an access log.
            return

    return Handler
