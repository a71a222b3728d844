"""QuantConnect's authorization of external brokerages (OAuth): `live/auth0/authorize` and `live/auth0/read`.

`live/auth0/authorize` answers with a redirect (HTTP 302, the link in `Location`): the page where the person
authorizes QuantConnect at the brokerage. `live/auth0/read` returns what QuantConnect then holds, e.g.
`{"authorization": {"alpaca-access-token": "..."}}`; with nothing held it refuses (lean-cli's Auth0Client
treats a refusal as "no authorization"). Every token is registered with the mask before it is handed on, and
neither the tokens nor the link are ever logged.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from bot.quantconnect.errors import RequestRefused, Timeout, Unavailable
from bot.quantconnect.transport import QuantConnectTransport
from bot.secrets.redaction import DEFAULT_REGISTRY

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("bot.quantconnect")

AUTHORIZE_ENDPOINT = "live/auth0/authorize"
READ_ENDPOINT = "live/auth0/read"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A link the bot may put in Slack mrkdwn as <url|text>: https, no spaces, no `|`, `<` or `>`.
_SAFE_LINK = re.compile(r"https://[^\s|<>]{1,1900}")


@dataclass(frozen=True, repr=False)
class ExternalAuthorization:
    """What QuantConnect holds for one brokerage: its tokens (empty when none), or why it has none."""

    tokens: dict[str, SecretStr] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ExternalAuthorization(fields={sorted(self.tokens)}, errors={list(self.errors)})"

    def has(self, names: tuple[str, ...]) -> bool:
        """True when QuantConnect holds an authorization and every named token in it."""
        return bool(self.tokens) and all(name in self.tokens for name in names)


def tokens_of(payload: Mapping[str, Any]) -> dict[str, SecretStr]:
    """The text values of `authorization`, each registered with the mask under its field name first."""
    raw = payload.get("authorization")
    if not isinstance(raw, dict):
        return {}
    tokens: dict[str, SecretStr] = {}
    for name, value in raw.items():
        # Account lists and other structured entries are not credentials the body takes.
        if isinstance(value, str) and value:
            DEFAULT_REGISTRY.register(value, str(name))
            tokens[str(name)] = SecretStr(value)
    return tokens


class Auth0Endpoints(QuantConnectTransport):
    """The two live/auth0 endpoints, on the client's transport (QuantConnectClient derives from this)."""

    def read_authorization(self, brokerage: str) -> ExternalAuthorization:
        """What QuantConnect holds for `brokerage` (alpaca, tradestation, charlesschwab, tastytrade)."""
        try:
            payload = self._post(READ_ENDPOINT, {"brokerage": brokerage}, retry=True)
        except RequestRefused as exc:
            return ExternalAuthorization(errors=tuple(exc.errors) or (str(exc),))
        return ExternalAuthorization(tokens=tokens_of(payload))

    def authorization_link(self, brokerage: str) -> str:
        """The page where a person authorizes QuantConnect at the brokerage (from the redirect)."""
        started = time.perf_counter()
        try:
            response = self._http.post(AUTHORIZE_ENDPOINT, json={"brokerage": brokerage})
        except httpx.TimeoutException as exc:
            raise Timeout(
                f"QuantConnect did not answer {AUTHORIZE_ENDPOINT} within {self.timeout:g} seconds.",
                endpoint=AUTHORIZE_ENDPOINT,
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"Could not reach QuantConnect for {AUTHORIZE_ENDPOINT} ({type(exc).__name__}).",
                endpoint=AUTHORIZE_ENDPOINT,
            ) from exc
        if response.status_code in _REDIRECTS:
            link = response.headers.get("location", "")
            if _SAFE_LINK.fullmatch(link):
                return link
            raise RequestRefused(
                f"QuantConnect's {AUTHORIZE_ENDPOINT} redirect is not an https link the bot can share.",
                endpoint=AUTHORIZE_ENDPOINT,
            )
        self._interpret(AUTHORIZE_ENDPOINT, response, started, brokerage)
        raise RequestRefused(
            f"QuantConnect answered {AUTHORIZE_ENDPOINT} without an authorization link.",
            endpoint=AUTHORIZE_ENDPOINT,
        )
