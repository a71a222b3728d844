"""QuantConnect's request authentication: Basic user_id:sha256(token:timestamp) plus a Timestamp header."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Generator

import httpx
from pydantic import SecretStr


def token_hash(api_token: SecretStr, timestamp: int) -> str:
    """Lowercase hex SHA-256 of `token:timestamp`, the password QuantConnect expects."""
    return hashlib.sha256(f"{api_token.get_secret_value()}:{timestamp}".encode()).hexdigest()


def auth_headers(user_id: str, api_token: SecretStr, timestamp: int) -> dict[str, str]:
    """The two headers that authenticate one request made at `timestamp` (unix seconds)."""
    credentials = base64.b64encode(f"{user_id}:{token_hash(api_token, timestamp)}".encode()).decode()
    return {"Authorization": f"Basic {credentials}", "Timestamp": str(timestamp)}


class QuantConnectAuth(httpx.Auth):
    """httpx auth hook that signs every request (and every retry) with a fresh timestamp."""

    def __init__(self, user_id: str, api_token: SecretStr, clock: Callable[[], float] = time.time) -> None:
        self._user_id = user_id
        self._api_token = api_token
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the Authorization and Timestamp headers computed now."""
        request.headers.update(auth_headers(self._user_id, self._api_token, int(self._clock())))
        yield request

    def __repr__(self) -> str:
        return f"QuantConnectAuth(user_id={self._user_id!r})"
