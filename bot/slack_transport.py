"""A slack_sdk WebClient that keeps its HTTP connections alive and reuses them, instead of one per call.

slack_sdk's WebClient sends every Web API call through urlopen, which opens a new TCP (and TLS) connection
each time. Only the HTTP exchange is replaced here, with the standard library's http.client on pooled
connections: slack_sdk still builds the request and runs its retry handlers (429 Retry-After, connection
errors) on what comes back. Failures surface exactly as urlopen raises them (HTTPError for a non-2xx answer,
URLError when no connection could be made, RemoteDisconnected, ConnectionResetError or TimeoutError after),
because those are the errors slack_sdk's handlers recognise.

http.client rather than httpx: on a kept-alive connection it costs less than half of httpx's CPU per call
(bench/README.md), and the bot makes one or two Slack calls after every acknowledgement.
"""

from __future__ import annotations

import io
import threading
from http.client import HTTPConnection, HTTPSConnection, RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

# A kept-alive connection the server closed while it sat idle fails like this on its next use.
STALE_CONNECTION_ERRORS = (RemoteDisconnected, ConnectionResetError, BrokenPipeError)

Origin = tuple[str, str, int]


class PooledWebClient(WebClient):
    """WebClient whose calls reuse idle kept-alive connections; safe to share between threads."""

    def __init__(self, *args: Any, max_idle: int = 32, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_lock = threading.Lock()
        self._idle: dict[Origin, list[HTTPConnection]] = {}
        self._max_idle = max_idle
        self._closed = False

    def close(self) -> None:
        """Close the idle connections; calls still in flight close theirs when they finish."""
        with self._pool_lock:
            self._closed = True
            idle = [connection for connections in self._idle.values() for connection in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            # Proxies keep slack_sdk's own urllib path (and its refusal of non-HTTP URLs).
            return super()._perform_urllib_http_request_internal(url, req)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        origin = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(req.header_items())
        while True:
            connection, reused = self._checkout(origin)
            try:
                try:
                    connection.request(req.get_method(), target, body=req.data, headers=headers)
                except STALE_CONNECTION_ERRORS:
                    raise
                except OSError as exc:
                    # What urlopen does with a failure to connect or send: URLError, which slack_sdk retries.
                    raise URLError(exc) from exc
                response = connection.getresponse()
                body = response.read()
            except STALE_CONNECTION_ERRORS:
                connection.close()
                if reused:
                    continue  # the server had closed it while idle; the request never reached it
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._checkin(origin, connection)
            break
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(body))
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": body}
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers, "body": body.decode(charset)}

    def _checkout(self, origin: Origin) -> tuple[HTTPConnection, bool]:
        """An idle connection to `origin` (reused=True), or a new, not yet connected one."""
        with self._pool_lock:
            idle = self._idle.get(origin)
            if idle:
                return idle.pop(), True
        scheme, host, port = origin
        if scheme == "https":
            return HTTPSConnection(host, port, timeout=self.timeout, context=self.ssl), False
        return HTTPConnection(host, port, timeout=self.timeout), False

    def _checkin(self, origin: Origin, connection: HTTPConnection) -> None:
        """Keep a connection whose answer was read in full, unless enough are idle already."""
        with self._pool_lock:
            idle = self._idle.setdefault(origin, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()
