"""A slack_sdk WebClient that sends through one pooled, kept-alive HTTP connection set instead of urllib.

slack_sdk's WebClient opens a new TCP (and TLS) connection for every Web API call; under load that was the
largest cost of the bot's Slack calls (bench/README.md). Only the HTTP exchange is replaced: slack_sdk still
builds the request and runs its retry handlers (429 Retry-After, connection errors) on what comes back, which
is why a non-2xx answer is raised as urllib's HTTPError and a failed exchange as the error urlopen raises for
it: slack_sdk's handlers recognise only those.
"""

from __future__ import annotations

import io
import threading
from email.message import Message
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import httpx
from slack_sdk import WebClient


class PooledWebClient(WebClient):
    """WebClient whose calls reuse connections from one thread-safe httpx connection pool."""

    def __init__(self, *args: Any, max_connections: int = 64, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_lock = threading.Lock()
        self._max_connections = max_connections
        self._http: httpx.Client | None = None

    def _pool(self) -> httpx.Client:
        with self._pool_lock:
            if self._http is None:
                self._http = httpx.Client(
                    verify=self.ssl if self.ssl is not None else True,
                    timeout=self.timeout,
                    limits=httpx.Limits(
                        max_connections=self._max_connections, max_keepalive_connections=self._max_connections
                    ),
                )
            return self._http

    def close(self) -> None:
        """Close the pooled connections."""
        with self._pool_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            # Proxies keep slack_sdk's own urllib path (and its refusal of non-HTTP URLs).
            return super()._perform_urllib_http_request_internal(url, req)
        headers = {name: str(value) for name, value in req.header_items()}
        try:
            response = self._pool().post(url, content=req.data, headers=headers)
        except httpx.TransportError as exc:
            raise as_urllib_error(exc) from exc
        if not response.is_success:
            headers = Message()
            for name, value in response.headers.multi_items():
                headers[name] = value
            raise HTTPError(
                url, response.status_code, response.reason_phrase, headers, io.BytesIO(response.content)
            )
        if response.headers.get("content-type", "").startswith("application/gzip"):
            return {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": response.content,
            }
        return {"status": response.status_code, "headers": dict(response.headers), "body": response.text}


# Failures before any byte of the request reached Slack.
NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)


def as_urllib_error(exc: httpx.TransportError) -> Exception:
    """The error urlopen raises for the same failure, so that slack_sdk's retry handlers judge it alike.

    Could not connect: URLError, retried by ConnectionErrorRetryHandler. Hung up without an answer (a
    kept-alive connection the server had closed, or a dropped request): RemoteDisconnected, retried. Reset
    while reading: ConnectionResetError, retried. A timeout once connected: TimeoutError, not retried, as
    with urllib, because Slack may already have acted on the call (a retried chat.postMessage posts twice).
    """
    if isinstance(exc, NOT_CONNECTED):
        return URLError(exc)
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError(str(exc))
    if isinstance(exc, httpx.RemoteProtocolError):
        return RemoteDisconnected(str(exc))
    return ConnectionResetError(str(exc))
