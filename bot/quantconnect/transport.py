"""QuantConnectTransport: one authenticated POST to QuantConnect's API v2, its failures typed, reads retried.

Every endpoint of the client (bot/quantconnect/client.py, auth0.py) goes through `_post`: per-request auth
(QuantConnectAuth), HTTP answers mapped onto the error tree (bot/quantconnect/errors.py), transient failures
of reads retried with jittered exponential backoff and never sooner than a Retry-After QuantConnect sent.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import certifi
import httpx
from pydantic import SecretStr

from bot.quantconnect.auth import QuantConnectAuth
from bot.quantconnect.errors import AuthenticationError, RequestRefused, Timeout, Unavailable

DEFAULT_BASE_URL = "https://www.quantconnect.com/api/v2/"
# Retries wait their exponential delay plus up to this fraction of it at random.
JITTER = 0.5

log = logging.getLogger("bot.quantconnect")

# Markers QuantConnect puts in `errors` (with HTTP 200) when the credentials are wrong.
_HASH_MARKER = "hash doesn't match"
_USER_MARKER = "userid not valid"


class QuantConnectTransport:
    """The HTTP side of the client: connection, auth, retries and errors (endpoints live in subclasses)."""

    def __init__(
        self,
        user_id: str,
        api_token: SecretStr | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        recovery_skew: float = 120.0,
        max_retry_after: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.user_id = str(user_id)
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        # A Retry-After longer than this is not slept through inside a call: the caller gets Unavailable (with
        # retry_after) and schedules its own next attempt, instead of a worker thread blocking for minutes.
        self.max_retry_after = max_retry_after
        self._rand = rand
        # Our clock and QuantConnect's may disagree: a deployment launched this much before the call counts.
        self.recovery_skew = timedelta(seconds=recovery_skew)
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            auth=QuantConnectAuth(self.user_id, token, clock),
            headers={"Accept": "application/json"},
            verify=_tls_context(),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user_id={self.user_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the underlying HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _post(
        self, endpoint: str, body: dict[str, Any], *, retry: bool, context: str | None = None
    ) -> dict[str, Any]:
        """POST with auth; reads retry transient failures with jittered exponential backoff, and never
        sooner than a Retry-After QuantConnect sent."""
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                return self._post_once(endpoint, body, context)
            except Unavailable as exc:
                if attempt + 1 >= attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
                    raise
                if exc.retry_after is not None:
                    # Waited out exactly, plus a little at random so that replicas told the same do not return
                    # in the same instant.
                    delay = exc.retry_after + self.backoff_base * self._rand()
                else:
                    # Up to half again at random, so replicas that failed together retry apart; never less
                    # than the plain exponential delay, which callers budget for (a submission's look-ups
                    # before its ack must outlast Slack's 3 s when QuantConnect keeps failing).
                    delay = self.backoff_base * 2**attempt * (1 + JITTER * self._rand())
                log.info(
                    "%s failed (%s); retry %d of %d in %.2f s",
                    endpoint,
                    type(exc).__name__,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _post_once(self, endpoint: str, body: dict[str, Any], context: str | None) -> dict[str, Any]:
        """One POST, its failures mapped onto the error tree."""
        about = f" for {context}" if context else ""
        started = time.perf_counter()
        try:
            response = self._http.post(endpoint, json=body)
        except httpx.TimeoutException as exc:
            log.debug("%s -> timeout after %.0f ms", endpoint, _ms_since(started))
            raise Timeout(
                f"QuantConnect did not answer {endpoint}{about} within {self.timeout:g} seconds. "
                "Try again in a few minutes.",
                endpoint=endpoint,
            ) from exc
        except httpx.TransportError as exc:
            log.debug("%s -> %s after %.0f ms", endpoint, type(exc).__name__, _ms_since(started))
            raise Unavailable(
                f"Could not reach QuantConnect for {endpoint}{about} ({type(exc).__name__}). "
                "Try again in a few minutes.",
                endpoint=endpoint,
            ) from exc
        return self._interpret(endpoint, response, started, context)

    def _interpret(
        self, endpoint: str, response: httpx.Response, started: float, context: str | None
    ) -> dict[str, Any]:
        """Turn an HTTP answer into its JSON payload or the matching error."""
        status = response.status_code
        log.debug("%s -> HTTP %d in %.0f ms", endpoint, status, _ms_since(started))
        about = f" for {context}" if context else ""
        if status == 401:
            raise AuthenticationError(
                f"QuantConnect refused the API credentials of user {self.user_id} (missing or invalid key, "
                "or a timestamp too old). Check QC_USER_ID and QC_API_TOKEN, and this server's clock.",
                endpoint=endpoint,
            )
        if status >= 500 or status == 429:
            raise Unavailable(
                f"QuantConnect is having trouble (HTTP {status}) answering {endpoint}{about}. "
                "Try again in a few minutes.",
                endpoint=endpoint,
                retry_after=self._retry_after(response),
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if status >= 400:
                raise RequestRefused(
                    f"QuantConnect refused {endpoint}{about} with HTTP {status} and no explanation.",
                    endpoint=endpoint,
                )
            raise Unavailable(
                f"QuantConnect sent an unreadable answer to {endpoint}{about}.", endpoint=endpoint
            )
        errors = [str(item) for item in payload.get("errors") or []]
        if payload.get("success") is False or status >= 400:
            self._raise_refusal(endpoint, about, status, errors)
        return payload

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds from Retry-After (delta-seconds or an HTTP date); None when absent or unreadable."""
        value = (response.headers.get("Retry-After") or "").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - self._clock())

    def _raise_refusal(self, endpoint: str, about: str, status: int, errors: list[str]) -> None:
        """Raise AuthenticationError for credential problems, else RequestRefused in QuantConnect's words."""
        lowered = [error.lower() for error in errors]
        # QuantConnect's own credential messages are not repeated: only our plain summary goes out.
        if any(_HASH_MARKER in error for error in lowered):
            raise AuthenticationError(
                f"QuantConnect says the API token does not match user {self.user_id}. Check QC_API_TOKEN.",
                endpoint=endpoint,
            )
        if any(_USER_MARKER in error for error in lowered):
            raise AuthenticationError(
                f"QuantConnect does not know user id {self.user_id}. Check QC_USER_ID.", endpoint=endpoint
            )
        reason = "; ".join(errors) if errors else f"no reason given (HTTP {status})"
        raise RequestRefused(
            f"QuantConnect refused {endpoint}{about}: {reason}", endpoint=endpoint, errors=errors
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: loading the CA bundle costs ~0.1 s per client otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
