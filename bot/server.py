"""WSGI apps for waitress: HTTP mode (POST /slack/events, GET /healthz); GET /healthz alone in Socket Mode."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.response import BoltResponse

from bot.slack_body import payload_json

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("bot.server")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class SlackEventsHandler(SlackRequestHandler):
    """Bolt's WSGI handler, with interactive payloads decoded by bot.slack_body instead of urllib."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        """Hand the request to Bolt; a `payload=` body goes in as its JSON, its signature over the raw."""
        raw = request.get_body()
        decoded = payload_json(raw)
        bolt_request = BoltRequest(
            body=raw if decoded is None else decoded,
            query=request.query_string,
            headers=request.get_headers(),
        )
        # Bolt's signature check reads `raw_body`: the bytes Slack signed, not the decoded JSON.
        bolt_request.raw_body = raw
        return self.app.dispatch(bolt_request)


class BotWsgiApp:
    """Routes /healthz to a health check and everything else to Bolt's WSGI handler."""

    def __init__(self, app: App, health: Callable[[], dict[str, Any]]) -> None:
        self.slack = SlackEventsHandler(app, path=EVENTS_PATH)
        self.health = health

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if _is_health_check(environ):
            return health_response(self.health, start_response)
        return self.slack(environ, start_response)


class HealthWsgiApp:
    """Socket Mode's HTTP side: GET /healthz for container health checks; Slack itself never calls in."""

    def __init__(self, health: Callable[[], dict[str, Any]]) -> None:
        self.health = health

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if _is_health_check(environ):
            return health_response(self.health, start_response)
        return _json_response(start_response, "404 Not Found", {"ok": False, "error": "not_found"})


def _is_health_check(environ: WSGIEnvironment) -> bool:
    return environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in {"GET", "HEAD"}


def health_response(health: Callable[[], dict[str, Any]], start_response: StartResponse) -> Iterable[bytes]:
    """The /healthz answer: the report as JSON, 200 when it says ok, 503 otherwise."""
    try:
        report = health()
    except Exception as exc:  # a health check must answer, whatever broke
        log.warning("health check failed: %s", type(exc).__name__)
        report = {"ok": False, "error": type(exc).__name__}
    status = "200 OK" if report.get("ok") else "503 Service Unavailable"
    return _json_response(start_response, status, report)


def _json_response(start_response: StartResponse, status: str, report: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(report).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_server(
    wsgi_app: BotWsgiApp | HealthWsgiApp, *, host: str = "0.0.0.0", port: int = 3000, threads: int = 8
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server (production WSGI server) bound but not yet running; port 0 picks a free port."""
    from waitress import create_server

    return create_server(wsgi_app, host=host, port=port, threads=threads, ident="qc-deploy-bot")


def shutdown_server(server: BaseWSGIServer | MultiSocketServer, timeout: float = 5.0) -> None:
    """Stop a running server from another thread: finish in-flight requests, then close every connection."""
    import threading

    from waitress import wasyncore

    server.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout)
    socket_map = server.map if hasattr(server, "map") else server._map
    closed = threading.Event()

    def close_everything() -> None:
        # close() alone drops only the listener: kept-alive connections would keep run()'s loop alive.
        wasyncore.close_all(socket_map)
        closed.set()

    # Sockets must be closed on the loop's own thread: closing them under a running select() fails with EBADF.
    trigger = getattr(server, "trigger", None)
    if trigger is not None:
        try:
            trigger.pull_trigger(close_everything)
        except OSError:
            # The loop has ended and closed its trigger (EBADF): nothing selects any more, close them here.
            trigger = None
    if trigger is None or not closed.wait(timeout):
        wasyncore.close_all(socket_map)
