"""Slack's side of Socket Mode on loopback: WebSocket URLs, `hello`, envelopes, acks, retries, `disconnect`.

``FakeSlack`` owns one (``slack.socket_mode``): its ``apps.connections.open`` checks the app-level token
(``slack.app_token``) and answers ``{"ok": true, "url": ...}`` with a URL from ``issue_url()``.

Usage::

    with FakeSlack() as slack:
        ...the bot runs with SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.base_url...
        link = slack.socket_mode.wait_for_link()           # the bot connected and was sent `hello`
        sender = SocketModeSender(slack.socket_mode)       # SlackSender's shortcuts, as envelopes
        answer = sender.command("help", user_id="U1")      # waits for the ack; .json() is its payload
        slack.socket_mode.disconnect("refresh_requested")  # or drop(), refuse_links(), ignore_acks()

As Slack does:
    URLs are ``ws://127.0.0.1:PORT/link/?ticket=...&app_id=A0FAKE`` (Slack's are ``wss://`` on
    wss-primary.slack.com; plain ``ws`` keeps TLS out of a loopback fake). Each ``apps.connections.open``
    mints a ticket that opens one link: a used or unknown ticket is refused at the handshake (HTTP 401).
    A new link is sent ``{"type": "hello", "num_connections": N, "debug_info": {...}, "connection_info":
    {"app_id": ...}}`` first. Envelopes are ``{"envelope_id", "type", "payload",
    "accepts_response_payload"}`` with ``type`` ``slash_commands``, ``interactive`` or ``events_api``;
    events_api envelopes also carry ``retry_attempt`` and ``retry_reason`` (0 and "" when first sent). Only
    links that said hello and were not asked to go away receive envelopes, the newest first.
    The app must answer ``{"envelope_id": ..., "payload"?: {...}}`` within ``ack_timeout`` (3 s). An
    envelope not acknowledged in time is delivered again, up to ``max_retries`` (3) times, with
    ``retry_attempt`` 1, 2, 3 and ``retry_reason`` "timeout", on whichever link is open then. Slack
    documents these retries for the Events API; the fake retries every type, so that a duplicate click is
    tested as well as a duplicate event.
    ``disconnect(reason)`` sends ``{"type": "disconnect", "reason": ..., "debug_info": {...}}`` to every
    open link (``refresh_requested``, ``warning``, ``link_disabled``), sends them nothing more, and closes
    those the app has not closed itself ``close_after`` seconds later (Slack: about 10 s).

Failure injection:
    ``drop()`` cuts every open link's TCP connection without a close frame; ``refuse_links(times=None)``
    refuses the next handshakes (HTTP 503; ``None``: until ``accept_links()``); ``ignore_acks(times=1)``
    pretends the next acks never arrived (their envelopes are then retried, as after a lost ack).

Recording:
    ``links`` (``Link``: number, ticket, opened_at, closed_at, closed_by ``"app"``/``"fake"``/``"dropped"``,
    draining, hello), ``open_links()``, ``wait_for_link(number=None)``, ``wait_closed(number)``,
    ``envelopes`` (``Envelope``: id, type, payload, deliveries as ``(link number, retry_attempt)``, acks),
    ``acks`` (every ``Ack`` in arrival order, ignored ones included), ``handshakes`` (ticket, HTTP status).
    ``deliver(type, payload, accepts_response_payload=...)`` and ``wait_for_ack(envelope)`` are what
    ``SocketModeSender`` uses; ``redeliver(envelope)`` sends an envelope again at once as its next retry.
"""

from __future__ import annotations

import contextlib
import http
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.slack_requests import FORM, JSON, SlackTraffic

APP_ID = "A0FAKE"
ACK_TIMEOUT = 3.0
MAX_RETRIES = 3
DISCONNECT_GRACE = 10.0
# How often the retry clock looks for envelopes whose acknowledgement is overdue.
_TICK = 0.05

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
# Interactive payloads whose acknowledgement may carry an answer (errors, options); the others may not.
_ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


@dataclass
class Link:
    """One WebSocket connection the app opened with a ticket."""

    number: int
    ticket: str
    opened_at: float
    connection: ServerConnection = field(repr=False)
    hello: bool = False
    draining: bool = False
    closed_at: float | None = None
    closed_by: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_open(self) -> bool:
        """True until the connection ended, whoever ended it."""
        return self.closed_at is None


@dataclass(frozen=True)
class Ack:
    """An acknowledgement the app sent, as received."""

    envelope_id: str
    payload: dict[str, Any] | None
    link: int
    at: float
    ignored: bool = False


@dataclass
class Envelope:
    """One envelope and what became of it."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    created_at: float
    deliveries: list[tuple[int, int]] = field(default_factory=list)
    last_sent_at: float | None = None
    acks: list[Ack] = field(default_factory=list)
    gave_up: bool = False

    @property
    def ack(self) -> Ack | None:
        """The first acknowledgement that counted, if any."""
        return next((a for a in self.acks if not a.ignored), None)

    def message(self, retry_attempt: int) -> dict[str, Any]:
        """The envelope as one delivery sends it."""
        sent: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api" or retry_attempt:
            sent["retry_attempt"] = retry_attempt
            sent["retry_reason"] = "timeout" if retry_attempt else ""
        return sent


class FakeSocketMode:
    """Slack's Socket Mode endpoint on loopback (see the module docstring)."""

    def __init__(
        self,
        *,
        app_id: str = APP_ID,
        ack_timeout: float = ACK_TIMEOUT,
        max_retries: int = MAX_RETRIES,
        host: str = "127.0.0.1",
    ) -> None:
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self._host = host
        self._cond = threading.Condition(threading.RLock())
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._refusals: int | None = 0  # None: refuse until accept_links()
        self._ignored_acks = 0
        self.links: list[Link] = []
        self.envelopes: list[Envelope] = []
        self.acks: list[Ack] = []
        self.handshakes: list[tuple[str, int]] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        """Listen on a free loopback port; serve links and run the retry clock on daemon threads."""
        self._stopping.clear()
        self._server = serve(
            self._serve_link,
            self._host,
            0,
            process_request=self._check_handshake,
            compression=None,
            # Slack pings every so often; websocket-client answers on its own.
            ping_interval=20,
        )
        for target, name in (
            (self._server.serve_forever, "fake-socket-mode"),
            (self._retry_clock, "retries"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Close every link and stop listening."""
        self._stopping.set()
        if self._server is not None:
            with self._cond:
                for link in self.links:
                    if link.is_open and not link.closed_by:
                        link.closed_by = "fake"
            self._server.shutdown()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    @property
    def port(self) -> int:
        """The port links connect to."""
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._server.socket.getsockname()[1])

    def issue_url(self) -> str:
        """A new single-use WebSocket URL (what apps.connections.open answers)."""
        ticket = uuid.uuid4().hex
        with self._cond:
            self._tickets[ticket] = False
        return f"ws://{self._host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- failure injection -----------------------------------------------------------------------------

    def refuse_links(self, times: int | None = None) -> None:
        """Refuse the next ``times`` handshakes with HTTP 503 (``None``: until ``accept_links()``)."""
        with self._cond:
            self._refusals = None if times is None else (self._refusals or 0) + times

    def accept_links(self) -> None:
        """Stop refusing handshakes."""
        with self._cond:
            self._refusals = 0

    def ignore_acks(self, times: int = 1) -> None:
        """Treat the next ``times`` acknowledgements as lost, so their envelopes are delivered again."""
        with self._cond:
            self._ignored_acks += times

    def drop(self) -> list[int]:
        """Cut the TCP connection of every open link, without a close frame; returns their numbers."""
        with self._cond:
            victims = [link for link in self.links if link.is_open]
            for link in victims:
                link.closed_by = link.closed_by or "dropped"
        for link in victims:
            with contextlib.suppress(OSError):
                link.connection.socket.shutdown(socket.SHUT_RDWR)
        return [link.number for link in victims]

    def disconnect(
        self, reason: str = "refresh_requested", close_after: float = DISCONNECT_GRACE
    ) -> list[int]:
        """Ask every open link to go away with ``reason``; close those still open ``close_after`` s later."""
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-0"}}
        )
        with self._cond:
            targets = [link for link in self.links if link.is_open and not link.draining]
            for link in targets:
                link.draining = True
        for link in targets:
            self._send(link, message)
            closer = threading.Timer(close_after, self._close_link, args=(link,))
            closer.daemon = True
            closer.start()
        return [link.number for link in targets]

    # -- what the app sees -----------------------------------------------------------------------------

    def deliver(
        self,
        type: EnvelopeType,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 10.0,
    ) -> Envelope:
        """Send a new envelope on the newest ready link, waiting up to ``timeout`` s for one to be ready."""
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=type,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            created_at=time.monotonic(),
        )
        with self._cond:
            self.envelopes.append(envelope)
            link = self._wait(self._ready_link, timeout, "a link ready for envelopes")
        self._deliver(envelope, link, retry_attempt=0)
        return envelope

    def redeliver(self, envelope: Envelope) -> None:
        """Deliver ``envelope`` again now, as its next retry (``retry_attempt`` one more)."""
        with self._cond:
            link = self._wait(self._ready_link, 10.0, "a link ready for envelopes")
            attempt = len(envelope.deliveries)
        self._deliver(envelope, link, retry_attempt=attempt)

    def wait_for_ack(self, envelope: Envelope, timeout: float = 10.0) -> Ack:
        """The acknowledgement that counted for ``envelope``; waits up to ``timeout`` s."""
        with self._cond:
            return self._wait(lambda: envelope.ack, timeout, f"an ack of envelope {envelope.envelope_id}")

    def wait_for_acks(self, envelope: Envelope, count: int, timeout: float = 10.0) -> list[Ack]:
        """Wait until ``envelope`` has ``count`` acknowledgements (ignored ones included)."""
        with self._cond:
            self._wait(
                lambda: len(envelope.acks) >= count, timeout, f"{count} acks of {envelope.envelope_id}"
            )
            return list(envelope.acks)

    def wait_for_link(self, number: int | None = None, timeout: float = 10.0) -> Link:
        """The link with ``number`` (default: any) once it was sent hello and is open."""

        def ready() -> Link | None:
            for link in reversed(self.links):
                if link.hello and link.is_open and (number is None or link.number == number):
                    return link
            return None

        with self._cond:
            return self._wait(ready, timeout, f"link {number or 'any'} to be open")

    def wait_closed(self, number: int, timeout: float = 10.0) -> Link:
        """Link ``number`` once it has closed."""
        with self._cond:
            return self._wait(
                lambda: next((ln for ln in self.links if ln.number == number and not ln.is_open), None),
                timeout,
                f"link {number} to close",
            )

    def open_links(self) -> list[Link]:
        """Links open now, oldest first."""
        with self._cond:
            return [link for link in self.links if link.is_open]

    # -- the server side (server and timer threads) ----------------------------------------------------

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
        with self._cond:
            if self._refusals is None or self._refusals > 0:
                if self._refusals is not None:
                    self._refusals -= 1
                status = http.HTTPStatus.SERVICE_UNAVAILABLE
            elif self._tickets.get(ticket) is not False:
                status = http.HTTPStatus.UNAUTHORIZED
            else:
                self._tickets[ticket] = True
                status = http.HTTPStatus.SWITCHING_PROTOCOLS
            self.handshakes.append((ticket, int(status)))
            self._cond.notify_all()
        if status != http.HTTPStatus.SWITCHING_PROTOCOLS:
            return connection.respond(status, f"{status.phrase}\n")
        return None

    def _serve_link(self, connection: ServerConnection) -> None:
        request = connection.request
        ticket = (parse_qs(urlsplit(request.path if request else "").query).get("ticket") or [""])[0]
        with self._cond:
            link = Link(len(self.links) + 1, ticket, time.monotonic(), connection)
            self.links.append(link)
            open_now = sum(1 for other in self.links if other.is_open)
        hello = {
            "type": "hello",
            "num_connections": open_now,
            "debug_info": {"host": "applink-fake-0", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            if self._send(link, json.dumps(hello)):
                with self._cond:
                    link.hello = True
                    self._cond.notify_all()
            for raw in connection:
                self._received(link, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                link.closed_at = time.monotonic()
                link.closed_by = link.closed_by or "app"
                self._cond.notify_all()

    def _received(self, link: Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        envelope_id = str(message["envelope_id"])
        payload = message.get("payload")
        with self._cond:
            ignored = self._ignored_acks > 0
            if ignored:
                self._ignored_acks -= 1
            ack = Ack(
                envelope_id,
                payload if isinstance(payload, dict) else None,
                link.number,
                time.monotonic(),
                ignored,
            )
            self.acks.append(ack)
            envelope = next((e for e in self.envelopes if e.envelope_id == envelope_id), None)
            if envelope is not None:
                envelope.acks.append(ack)
            self._cond.notify_all()

    def _retry_clock(self) -> None:
        while not self._stopping.wait(_TICK):
            now = time.monotonic()
            due: list[tuple[Envelope, Link, int]] = []
            with self._cond:
                link = self._ready_link()
                for envelope in self.envelopes:
                    if envelope.ack or envelope.gave_up or envelope.last_sent_at is None:
                        continue
                    if now - envelope.last_sent_at < self.ack_timeout:
                        continue
                    attempt = len(envelope.deliveries)
                    if attempt > self.max_retries:
                        envelope.gave_up = True
                        self._cond.notify_all()
                    elif link is not None:
                        # Claimed now: the next tick must not send it again before this one is recorded.
                        envelope.last_sent_at = now
                        due.append((envelope, link, attempt))
            for envelope, target, attempt in due:
                self._deliver(envelope, target, retry_attempt=attempt)

    def _deliver(self, envelope: Envelope, link: Link, *, retry_attempt: int) -> None:
        with self._cond:
            envelope.deliveries.append((link.number, retry_attempt))
            envelope.last_sent_at = time.monotonic()
        # A link that died meanwhile loses the envelope: the retry clock delivers it again, as Slack would.
        self._send(link, json.dumps(envelope.message(retry_attempt)))

    def _send(self, link: Link, text: str) -> bool:
        try:
            with link.lock:
                link.connection.send(text)
        except (ConnectionClosed, OSError):
            return False
        return True

    def _close_link(self, link: Link) -> None:
        with self._cond:
            if not link.is_open:
                return
            link.closed_by = link.closed_by or "fake"
        with contextlib.suppress(ConnectionClosed, OSError):
            link.connection.close()

    def _ready_link(self) -> Link | None:
        """The newest link that said hello, is open and was not asked to go away (caller holds the lock)."""
        return next((ln for ln in reversed(self.links) if ln.hello and ln.is_open and not ln.draining), None)

    def _wait(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self._cond.wait(min(remaining, 0.2))


# -- the app's side of the envelopes: SlackSender's shortcuts over the socket ---------------------------


@dataclass(frozen=True)
class SocketAnswer:
    """An envelope's acknowledgement, shaped like the HTTP answer tests read (status, text, json())."""

    envelope: Envelope
    ack: Ack | None

    @property
    def status_code(self) -> int:
        """200 once acknowledged; 504 when no acknowledgement came (Slack shows the person an error)."""
        return 200 if self.ack is not None else 504

    @property
    def text(self) -> str:
        """The acknowledgement's payload as JSON text, or "" for a bare acknowledgement."""
        if self.ack is None or self.ack.payload is None:
            return ""
        return json.dumps(self.ack.payload)

    def json(self) -> Any:
        """The acknowledgement's payload."""
        if self.ack is None or self.ack.payload is None:
            raise ValueError("the acknowledgement carried no payload")
        return self.ack.payload


def envelope_of(body: bytes, content_type: str = FORM) -> tuple[EnvelopeType, dict[str, Any], bool]:
    """What Socket Mode carries for a body Slack would POST in HTTP mode: (type, payload, accepts payload)."""
    if content_type.startswith(JSON):
        return "events_api", json.loads(body), False
    fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    if "payload" in fields:
        payload = json.loads(fields["payload"])
        return "interactive", payload, payload.get("type") in _ANSWERED_INTERACTIONS
    return "slash_commands", fields, True


class SocketModeSender(SlackTraffic):
    """Delivers Slack traffic to the app as Socket Mode envelopes and answers with their acknowledgements."""

    def __init__(
        self,
        socket_mode: FakeSocketMode,
        *,
        response_url_base: str | None = None,
        ack_wait: float = 10.0,
    ) -> None:
        self.socket_mode = socket_mode
        self.response_url_base = response_url_base
        self.ack_wait = ack_wait
        self.last: Envelope | None = None

    def close(self) -> None:
        """Nothing to release: the links belong to the fake."""

    def send(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        sign: bool = True,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> SocketAnswer:
        """Deliver ``body`` as an envelope and wait for its acknowledgement (or ``ack_wait`` seconds)."""
        if not sign or timestamp is not None or signature is not None:
            raise ValueError("Socket Mode envelopes carry no request signature: test signatures in HTTP mode")
        kind, payload, accepts = envelope_of(body, content_type)
        envelope = self.socket_mode.deliver(kind, payload, accepts_response_payload=accepts)
        self.last = envelope
        try:
            ack: Ack | None = self.socket_mode.wait_for_ack(envelope, self.ack_wait)
        except AssertionError:
            ack = None
        return SocketAnswer(envelope, ack)
