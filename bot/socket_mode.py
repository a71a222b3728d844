"""Socket Mode: keep one connection to Slack open, reconnect with backoff, and say whether it is up.

The transport is slack_sdk's websocket-client based SocketModeClient, with slack_bolt's Socket Mode dispatch:
- it runs on threads, like the rest of the bot (Bolt's sync App, waitress, the worker pools); the asyncio
  clients (aiohttp, websockets) need an AsyncApp, or block their event loop on every dispatch;
- websocket-client is a maintained, complete RFC 6455 implementation (fragmented frames, TLS chosen by the
  URL's scheme, the closing handshake). slack_sdk's built-in client (3.48) keeps reading a connection the
  peer dropped (EOF) in a busy loop and reports it active, so a drop would only be noticed after missed pings.

Two things of that client are changed, both in `_Client`:
- its own reconnection is off: it retries at once and forever, and runs a finished connection again on its
  old, single-use URL every half second. A supervisor thread here opens each connection, waits for Slack's
  `hello`, and after a drop or a failed attempt tries again with exponential backoff, a log line per attempt;
- each connection runs once, on a thread of its own, with a pong timeout. The SDK runs connections one after
  the other on one thread without one, and when Slack's `disconnect` makes it close the old connection from
  another thread, websocket-client can stay blocked in select() on the closed socket: the new connection then
  waited behind it indefinitely (seen in tests). Now the new connection starts at once, and a stuck or
  half-open one is noticed after PING_TIMEOUT.
Slack's `disconnect` message itself (a routine refresh) is handled by the SDK, which opens a connection on a
fresh URL and closes the old one; the supervisor then waits for the new one's `hello`.

An envelope is handled at least once: one whose acknowledgement was lost in a drop comes again. That is safe
because every state change is a compare-and-set in the store (a retried Approve counts once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.websocket_client import SocketModeClient

from bot.app_token import REFUSALS, AppTokenRefused, open_socket_url
from bot.backoff import Backoff

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient
    from slack_sdk.socket_mode.client import BaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from websocket import WebSocketApp

log = logging.getLogger("bot.socket_mode")

# How long a new connection may take to open and be greeted by Slack before the attempt counts as failed.
HELLO_TIMEOUT = 15.0
# Envelopes handled at once. Each waits only until its listener acknowledges it; the work after the ack runs
# in the app's listener pool, so this bounds acknowledgements in flight, not work.
CONCURRENCY = 16
# websocket-client pings this often (seconds), which keeps idle connections open through proxies and NATs...
PING_INTERVAL = 10.0
# ...and gives up on a connection whose pong is this late (seconds): it is dead even if TCP does not say so.
PING_TIMEOUT = 5.0
# How often the SDK looks for a new connection to start (seconds; its own default is half a second).
START_POLL = 0.05


@dataclass(frozen=True)
class LinkState:
    """Whether the bot is connected to Slack over Socket Mode, and if not, why."""

    connected: bool
    reason: str = ""

    def report(self) -> dict[str, object]:
        """What /healthz shows under `slack`."""
        report: dict[str, object] = {"mode": "socket", "connected": self.connected}
        if not self.connected:
            report["reason"] = self.reason
        return report


class _Client(SocketModeClient):
    """slack_sdk's websocket-client SocketModeClient; each connection runs once, on its own thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ran: weakref.WeakSet[WebSocketApp] = weakref.WeakSet()
        super().__init__(*args, **kwargs)
        self.current_session_runner.interval_seconds = START_POLL

    def _run_current_session(self) -> None:
        # Called by the SDK's runner thread every START_POLL seconds.
        session = self.current_session
        if session is None or session in self._ran:
            return
        self._ran.add(session)
        threading.Thread(
            target=self._run_session, args=(session,), name="socket-mode-link", daemon=True
        ).start()

    def _run_session(self, session: WebSocketApp) -> None:
        try:
            session.run_forever(
                ping_interval=self.ping_interval,
                ping_timeout=PING_TIMEOUT,
                http_proxy_host=self.http_proxy_host,
                http_proxy_port=self.http_proxy_port,
                http_proxy_auth=self.http_proxy_auth,
                proxy_type=self.proxy_type,
            )
        except Exception:
            self.logger.exception("Socket Mode connection failed")
            session.close()


class SocketModeConnection:
    """One supervised Socket Mode connection that delivers Slack's envelopes to the Bolt app."""

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        web_client: WebClient | None = None,
        backoff: Backoff | None = None,
        hello_timeout: float = HELLO_TIMEOUT,
    ) -> None:
        self.app = app
        self.client = _Client(
            app_token=app_token,
            logger=logging.getLogger("slack_sdk.socket_mode"),
            web_client=web_client if web_client is not None else app.client,
            # Reconnecting is the supervisor's job (see the module docstring).
            auto_reconnect_enabled=False,
            ping_interval=PING_INTERVAL,
            concurrency=CONCURRENCY,
            on_message_listeners=[self._on_message],
            on_error_listeners=[self._on_error],
            on_close_listeners=[self._on_close],
        )
        self.client.socket_mode_request_listeners.append(self._dispatch)
        self.backoff = backoff or Backoff()
        self.hello_timeout = hello_timeout
        self._cond = threading.Condition()
        self._live: WebSocketApp | None = None
        self._ended: weakref.WeakSet[WebSocketApp] = weakref.WeakSet()
        self._failures = 0
        self._reason = "not connected to Slack yet"
        self._last_error = ""
        self._first_url: str | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def verify_token(self) -> None:
        """Get a first URL from Slack; AppTokenRefused if it refuses the token (other trouble is retried)."""
        try:
            self._first_url = open_socket_url(self.client.web_client, self.client.app_token)
        except AppTokenRefused:
            raise
        except Exception as exc:  # Slack unreachable at start: the supervisor keeps trying, with backoff
            log.warning(
                "Socket Mode: cannot check SLACK_APP_TOKEN with Slack now (%s); connecting with retries",
                _describe(exc),
            )

    def start(self) -> None:
        """Connect in the background and stay connected until close()."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervise, name="socket-mode", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Close the connection and stop reconnecting."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.client.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            self._live = None
            self._reason = "stopped"

    def state(self) -> LinkState:
        """Connected (Slack said hello on the current connection, still open), or why not."""
        with self._cond:
            if self._connected():
                return LinkState(True)
            return LinkState(False, self._reason)

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or `timeout` seconds passed; True when connected."""
        with self._cond:
            return self._cond.wait_for(self._connected, timeout)

    def _connected(self) -> bool:
        # A connection the SDK has replaced (after `disconnect`) is being closed even while it has not yet
        # reported its end, so only the current one counts (the caller holds the condition's lock).
        live = self._live
        return live is not None and live is self.client.current_session and live not in self._ended

    # -- the supervisor (its own thread) ---------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stopping:
            session = self.client.current_session
            if session is not None and session not in self._ended:
                # A connection is opening: ours, or the SDK's replacement after Slack's `disconnect`.
                if self._await_hello(session):
                    self._await_end(session)
                else:
                    self._retire(session)
                    reason = self._last_error or "the connection opened but Slack did not say hello"
                    self._failed(f"cannot open the Socket Mode connection ({reason})")
                continue
            self._connect()

    def _connect(self) -> None:
        log.info("Socket Mode: connecting to Slack (attempt %d)", self._failures + 1)
        with self._cond:
            self._last_error = ""
        url, self._first_url = self._first_url, None
        try:
            if url is not None:
                with self.client.connect_operation_lock:
                    self.client.wss_uri = url
                    self.client.connect()
            else:
                # Asks apps.connections.open for a fresh URL, then opens it.
                self.client.connect_to_new_endpoint()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            hint = REFUSALS.get(error)
            self._failed(f"apps.connections.open answered {error}" + (f": {hint}" if hint else ""))
        except Exception as exc:  # network trouble of any kind: say what, try again later
            self._failed(f"cannot reach Slack ({_describe(exc)})")

    def _await_hello(self, session: WebSocketApp) -> bool:
        with self._cond:
            self._cond.wait_for(
                lambda: self._stopping or self._live is session or session in self._ended, self.hello_timeout
            )
            return self._live is session

    def _await_end(self, session: WebSocketApp) -> None:
        """Wait until `session` ends, or the SDK replaced it (after `disconnect`): then watch the new one.

        A replaced connection may take up to PING_TIMEOUT to report its end; its successor's hello or failure
        wakes this wait first.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._stopping or session in self._ended or self.client.current_session is not session
            )

    def _failed(self, reason: str) -> None:
        """Count a failed attempt, say why and when the next one comes, and wait until then."""
        with self._cond:
            if self._stopping:
                return
            self._failures += 1
            failures = self._failures
            delay = self.backoff.delay(failures)
            self._reason = f"{reason}; attempt {failures} failed, next in {delay:.1f} s"
        log.warning(
            "Socket Mode: attempt %d to connect to Slack failed: %s; trying again in %.1f s",
            failures,
            reason,
            delay,
        )
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, delay)

    def _retire(self, session: WebSocketApp) -> None:
        """Give up on a connection that never became usable."""
        with self._cond:
            self._ended.add(session)
        session.close()

    # -- listeners (the SDK's and websocket-client's threads) -------------------------------------------

    def _dispatch(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        """What slack_bolt's Socket Mode adapters do: run the app, then acknowledge with its answer."""
        started = time.time()
        send_response(client, request, run_bolt_app(self.app, request), started)

    def _on_message(self, session: WebSocketApp, text: str) -> None:
        # Only hello and disconnect matter here; the cheap test spares parsing every envelope a second time.
        if '"hello"' not in text and '"disconnect"' not in text:
            return
        try:
            message: dict[str, Any] = json.loads(text)
        except ValueError:
            return
        kind = message.get("type")
        if kind == "hello":
            with self._cond:
                self._live = session
                self._failures = 0
                self._reason = ""
                self._cond.notify_all()
            log.info(
                "Socket Mode: connected to Slack (%s connection(s) open for this app)",
                message.get("num_connections", "?"),
            )
        elif kind == "disconnect":
            reason = str(message.get("reason") or "unknown")
            with self._cond:
                self._reason = f"Slack closed the connection ({reason}); reconnecting"
            if reason == "link_disabled":
                log.error(
                    "Socket Mode: Slack disabled Socket Mode for this app (link_disabled): turn Socket Mode "
                    "on in the app's settings, or run the bot in HTTP mode (python -m bot --http)"
                )
            else:
                log.info("Socket Mode: Slack asked for a new connection (%s)", reason)

    def _on_error(self, session: WebSocketApp, error: Exception) -> None:
        with self._cond:
            self._last_error = _describe(error)

    def _on_close(self, session: WebSocketApp) -> None:
        with self._cond:
            self._ended.add(session)
            if self._live is session:
                self._live = None
                if not self._reason:
                    self._reason = "the connection to Slack was lost; reconnecting"
                if not self._stopping:
                    log.warning("Socket Mode: the connection to Slack closed; reconnecting")
            self._cond.notify_all()


def _describe(error: BaseException) -> str:
    """A short description of a connection error: its kind and HTTP status, never a URL or a token."""
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}, HTTP {status}" if status else type(error).__name__
