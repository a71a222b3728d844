"""What Slack itself sends to the app in HTTP mode: signed requests to ``POST /slack/events``.

Body builders (return ``bytes`` exactly as Slack would send them):
    ``slash_command_body(command="/qc", text="", user_id="U1", channel_id="C1", trigger_id=None, ...)``
    ``block_actions_body(action_id, value, *, user_id, block_id=None, channel_id=None, message_ts=None,
    view=None, trigger_id=None, action_type="button", selected_option=None, message=None)``
    ``view_submission_body(view, user_id, values)``, ``view_closed_body(view, user_id)``,
    ``block_suggestion_body(action_id, block_id, value, view, user_id="U1")``, ``event_body(event)``,
    ``app_home_opened_event(user_id)``.
Form state:
    ``values`` is a simple mapping ``block_id -> {action_id: value}``; each value is typed by the element the
    view holds under that block: text/number/email/url inputs take a string, ``static_select``/
    ``external_select``/``radio_buttons`` an option value (or option dict), multi selects and ``checkboxes``
    a list of them, ``datepicker``/``timepicker`` ``"YYYY-MM-DD"``/``"HH:MM"``, user/channel/conversation
    selects an id. ``state_values(view, values)`` turns that into Slack's ``state.values``.
    ``state_from_view(view, overrides=None)`` returns the simple mapping for every input block of a real view
    filled with its initial values, then ``overrides`` (``block_id -> {action_id: value}``, or
    ``block_id -> value`` for the block's single element). End-to-end tests submit the real modal::

        view = fake.last_view("deploy")
        sender.submit(view, state_from_view(view, {"reason": "rebalance"}), user_id="U1")
Signing:
    ``sign(signing_secret, body, timestamp=None, content_type=FORM) -> headers``.
Sending:
    ``SlackTraffic`` holds the shortcuts ``command(text, **kw)``, ``action(action_id, value, **kw)``,
    ``submit(view, values, **kw)``, ``closed(view, **kw)``, ``suggest(action_id, block_id, value, view,
    **kw)`` and ``event(event, **kw)``: each builds the body above and hands it to the transport's
    ``send``, which returns an ``Answer`` (``status_code``, ``text``, ``json()``).
    ``SlackSender(base_url, signing_secret, *, response_url_base=None)`` is HTTP mode: it posts to
    ``base_url + "slack/events"`` with ``send(body, *, content_type=FORM, sign=True, timestamp=None,
    signature=None) -> httpx.Response``. Socket Mode's transport is ``tests.fakes.fake_socket_mode.
    SocketModeSender``, which delivers the same bodies as envelopes. Pass ``response_url_base=
    fake.response_url_base`` so ``respond()`` lands in the fake (default response URLs point at
    hooks.slack.com, unreachable in tests).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol, Self
from urllib.parse import urlencode

import httpx

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

TEAM_ID = "T1"
TEAM_DOMAIN = "acme"
API_APP_ID = "A1"
# Slack still sends the deprecated verification token; apps must not rely on it.
VERIFICATION_TOKEN = "legacy-verification-token"

_counter = itertools.count(1)

_TEXT_INPUTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input")
_SINGLE_OPTION = ("static_select", "external_select", "radio_buttons")
_MULTI_OPTION = ("multi_static_select", "multi_external_select", "checkboxes")
_ID_SELECTS = {
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}


def new_trigger_id() -> str:
    """A fresh trigger id shaped like Slack's (``digits.digits.hex``)."""
    return f"{int(time.time())}{next(_counter):04d}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def sign(
    signing_secret: str, body: bytes, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """Headers Slack sends: ``X-Slack-Request-Timestamp``, ``X-Slack-Signature`` and Content-Type."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def _user(user_id: str) -> dict[str, str]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def _team() -> dict[str, str]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _hooks_url(kind: str) -> str:
    return f"https://hooks.slack.com/{kind}/{TEAM_ID}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}"


def _payload_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def slash_command_body(
    command: str = "/qc",
    text: str = "",
    user_id: str = "U1",
    channel_id: str = "C1",
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    response_url: str | None = None,
    *,
    channel_name: str = "deploys",
) -> bytes:
    """Form body of a slash command invocation, with every field Slack sends."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or _hooks_url("commands"),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields).encode()


def _find_block(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        elements = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
        if any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements):
            return block
    return None


def _element(block: dict[str, Any] | None, action_id: str) -> dict[str, Any] | None:
    if block is None:
        return None
    elements = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
    return next((e for e in elements if isinstance(e, dict) and e.get("action_id") == action_id), None)


def block_actions_body(
    action_id: str,
    value: str | None,
    *,
    user_id: str,
    block_id: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    view: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    action_type: str = "button",
    selected_option: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    response_url: str | None = None,
) -> bytes:
    """``payload=`` body of a click in a message (give ``message``/``channel_id``) or a modal (``view``)."""
    blocks = (view or message or {}).get("blocks") or []
    block = _find_block(blocks, action_id)
    resolved_block_id = block_id or (block or {}).get("block_id") or secrets.token_urlsafe(4)
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": resolved_block_id,
        "type": action_type,
        "action_ts": _action_ts(),
    }
    element = _element(block, action_id)
    if element is not None and "text" in element:
        action["text"] = element["text"]
    if selected_option is not None:
        action["selected_option"] = selected_option
    elif value is not None:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        full_view = _as_slack_view(view, state=view.get("state"))
        payload["container"] = {"type": "view", "view_id": full_view["id"]}
        payload["view"] = full_view
        payload["state"] = full_view["state"]
    else:
        channel = channel_id or "C1"
        ts = message_ts or (message or {}).get("ts") or f"{time.time():.6f}"
        shown = dict(message or {"type": "message", "text": "", "ts": ts})
        shown.setdefault("ts", ts)
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel, "name": "deploys"}
        payload["message"] = shown
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url or _hooks_url("actions")
    return _payload_body(payload)


def _as_slack_view(view: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
    """A view as Slack echoes it in payloads: the app's view plus id, hash, state and defaults."""
    full = {
        "id": view.get("id") or f"V{secrets.token_hex(5).upper()}",
        "team_id": TEAM_ID,
        "type": view.get("type", "modal"),
        "blocks": view.get("blocks") or [],
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "hash": view.get("hash") or f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "clear_on_close": view.get("clear_on_close", False),
        "notify_on_close": view.get("notify_on_close", False),
        "previous_view_id": view.get("previous_view_id"),
        "root_view_id": view.get("root_view_id") or view.get("id"),
        "app_id": API_APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": TEAM_ID,
        "bot_id": view.get("bot_id", "B1"),
    }
    full["state"] = state if state is not None else {"values": {}}
    return full


def _option(element: dict[str, Any], value: object) -> dict[str, Any] | None:
    """The option a user picked, resolved against the element's options when it has them."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    wanted = str(value)
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for option in options:
        if option.get("value") == wanted:
            return option
    if element.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": wanted, "emoji": True}, "value": wanted}
    raise ValueError(f"{wanted!r} is not an option of {element.get('action_id')!r}: users cannot pick it")


def _typed_state(element: dict[str, Any], value: object) -> dict[str, Any]:
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in _TEXT_INPUTS:
        state["value"] = None if value is None else str(value)
    elif kind in _SINGLE_OPTION:
        state["selected_option"] = _option(element, value)
    elif kind in _MULTI_OPTION:
        picked = value if isinstance(value, list | tuple) else ([] if value is None else [value])
        state["selected_options"] = [_option(element, v) for v in picked]
    elif kind in _ID_SELECTS:
        state[_ID_SELECTS[kind][0]] = value
    else:
        raise ValueError(f"element type {kind!r} is not supported by the fake's form state")
    return state


def _input_blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        b["block_id"]: b
        for b in view.get("blocks") or []
        if b.get("type") == "input" and b.get("block_id") and isinstance(b.get("element"), dict)
    }


def state_values(view: dict[str, Any], values: Mapping[str, Mapping[str, object]]) -> dict[str, Any]:
    """Slack's ``state.values`` for a view, typed by each block's element."""
    by_id = {b.get("block_id"): b for b in view.get("blocks") or [] if b.get("block_id")}
    state: dict[str, Any] = {}
    for block_id, actions in values.items():
        block = by_id.get(block_id)
        if block is None:
            raise KeyError(f"block_id {block_id!r} is not in the view (has {sorted(by_id)})")
        state[block_id] = {}
        for action_id, value in actions.items():
            element = _element(block, action_id)
            if element is None:
                raise KeyError(f"action_id {action_id!r} is not in block {block_id!r}")
            state[block_id][action_id] = _typed_state(element, value)
    return state


def _initial_value(element: dict[str, Any]) -> object:
    kind = element.get("type")
    if kind in _TEXT_INPUTS:
        return element.get("initial_value")
    if kind in _SINGLE_OPTION:
        return element.get("initial_option")
    if kind in _MULTI_OPTION:
        return list(element.get("initial_options") or [])
    if kind in _ID_SELECTS:
        return element.get(_ID_SELECTS[str(kind)][1])
    return None


def state_from_view(
    view: dict[str, Any], overrides: Mapping[str, object] | None = None
) -> dict[str, dict[str, object]]:
    """Every input block of ``view`` with its initial value, then ``overrides`` applied."""
    filled: dict[str, dict[str, object]] = {}
    inputs = _input_blocks(view)
    for block_id, block in inputs.items():
        element = block["element"]
        filled[block_id] = {element.get("action_id", ""): _initial_value(element)}
    for block_id, override in (overrides or {}).items():
        if block_id not in inputs:
            raise KeyError(f"no input block {block_id!r} in the view (has {sorted(inputs)})")
        if isinstance(override, Mapping) and not {"text", "value"} <= set(override):
            filled[block_id] = {**filled[block_id], **override}
        else:
            filled[block_id] = {inputs[block_id]["element"].get("action_id", ""): override}
    return filled


def view_submission_body(
    view: dict[str, Any],
    user_id: str,
    values: Mapping[str, Mapping[str, object]],
    *,
    trigger_id: str | None = None,
) -> bytes:
    """``payload=`` body of a modal submission carrying ``values`` as Slack's typed state."""
    payload = {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _as_slack_view(view, {"values": state_values(view, values)}),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def view_closed_body(view: dict[str, Any], user_id: str, *, is_cleared: bool = False) -> bytes:
    """``payload=`` body Slack sends when a user closes a modal with ``notify_on_close``."""
    payload = {
        "type": "view_closed",
        "team": _team(),
        "user": _user(user_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _as_slack_view(view, view.get("state")),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def block_suggestion_body(
    action_id: str, block_id: str, value: str, view: dict[str, Any], user_id: str = "U1"
) -> bytes:
    """``payload=`` body of an external_select type-ahead request."""
    full_view = _as_slack_view(view, view.get("state"))
    payload = {
        "type": "block_suggestion",
        "user": _user(user_id),
        "container": {"type": "view", "view_id": full_view["id"]},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": full_view,
    }
    return _payload_body(payload)


def app_home_opened_event(user_id: str, tab: str = "home") -> dict[str, Any]:
    """The ``app_home_opened`` event Slack sends when a user opens the App Home."""
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id[1:]}",
        "tab": tab,
        "event_ts": _action_ts(),
    }


def event_body(event: dict[str, Any], *, team_id: str = TEAM_ID) -> bytes:
    """JSON Events API envelope (``event_callback``) around ``event``."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": {"event_ts": _action_ts(), **event},
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "U0BOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(16),
    }
    return json.dumps(envelope).encode()


class Answer(Protocol):
    """What the app answered: an HTTP response in HTTP mode, the envelope's acknowledgement in Socket Mode."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class SlackTraffic(ABC):
    """The shortcuts both transports share: each builds the body Slack sends and hands it to ``send``."""

    response_url_base: str | None = None

    @abstractmethod
    def send(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        sign: bool = True,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Answer:
        """Deliver one body exactly as Slack would send it to the app."""

    @abstractmethod
    def close(self) -> None:
        """Release what the transport holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _response_url(self, user_id: str, channel_id: str) -> str | None:
        """A response URL of the fake Slack that belongs to this user and channel, as Slack's do."""
        if self.response_url_base is None:
            return None
        # The fake Slack's key format (fake_slack.response_key): `<user>/<channel>/<random>`.
        return f"{self.response_url_base}{user_id}/{channel_id}/{secrets.token_hex(8)}"

    def command(self, text: str = "", **kw: Any) -> Answer:
        """Send ``/qc <text>`` (keywords as for ``slash_command_body``)."""
        kw.setdefault("response_url", self._response_url(kw.get("user_id", "U1"), kw.get("channel_id", "C1")))
        return self.send(slash_command_body(text=text, **kw))

    def action(self, action_id: str, value: str | None = None, **kw: Any) -> Answer:
        """Send a block_actions click (keywords as for ``block_actions_body``)."""
        if kw.get("view") is None:
            url = self._response_url(kw["user_id"], kw.get("channel_id") or "C1")
            kw.setdefault("response_url", url)
        return self.send(block_actions_body(action_id, value, **kw))

    def submit(self, view: dict[str, Any], values: Mapping[str, Mapping[str, object]], **kw: Any) -> Answer:
        """Submit ``view`` with ``values`` (keywords: ``user_id``, ``trigger_id``)."""
        kw.setdefault("user_id", "U1")
        return self.send(view_submission_body(view, values=values, **kw))

    def closed(self, view: dict[str, Any], **kw: Any) -> Answer:
        """Close a modal (keywords: ``user_id``, ``is_cleared``)."""
        kw.setdefault("user_id", "U1")
        return self.send(view_closed_body(view, **kw))

    def suggest(self, action_id: str, block_id: str, value: str, view: dict[str, Any], **kw: Any) -> Answer:
        """Ask for external_select options as a user types ``value``."""
        return self.send(block_suggestion_body(action_id, block_id, value, view, **kw))

    def event(self, event: dict[str, Any], **kw: Any) -> Answer:
        """Deliver an Events API event (JSON envelope)."""
        return self.send(event_body(event, **kw), content_type=JSON)


class SlackSender(SlackTraffic):
    """Sends signed Slack traffic to an app's ``POST {base_url}slack/events`` (HTTP mode)."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        response_url_base: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/slack/events"
        self.signing_secret = signing_secret
        self.response_url_base = response_url_base
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def send(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        sign: bool = True,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST ``body``; signed unless ``sign=False``; ``signature`` overrides the computed one."""
        headers = {"Content-Type": content_type}
        if sign:
            headers = _sign(self.signing_secret, body, timestamp, content_type)
        elif timestamp is not None:
            headers["X-Slack-Request-Timestamp"] = str(timestamp)
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        return self._http.post(self.url, content=body, headers=headers)


# ``SlackSender.send`` has a parameter named ``sign``; keep a module-level alias it can call.
_sign = sign
