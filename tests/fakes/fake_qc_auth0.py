"""The fake QuantConnect's `live/auth0/authorize` and `live/auth0/read`, as the OpenAPI file describes them.

authorize answers HTTP 302 with the brokerage's authorization page in `Location`; read answers
`{"authorization": {...tokens...}}` once a token is granted, and refuses (`success: false`, as lean-cli's
Auth0Client expects) while QuantConnect holds none. Both bodies are checked against
AuthorizeExternalConnectionRequest. Tests grant a token now, after some reads, or expire it:

    qc.auth0.grant("alpaca", {"alpaca-access-token": "tok"}, after_reads=2, lasts_reads=1)
    qc.auth0.expire("alpaca")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import qc_schema

AUTHORIZE_PAGE = "https://www.quantconnect.com/terminal/oauth/{brokerage}?state={state}"


@dataclass
class _Grant:
    tokens: dict[str, str]
    reads_left: int
    lasts_reads: int | None = None


@dataclass
class FakeAuth0:
    """Authorizations QuantConnect holds per brokerage name, and the links it handed out."""

    links: list[str] = field(default_factory=list)
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def grant(
        self, brokerage: str, tokens: dict[str, str], *, after_reads: int = 0, lasts_reads: int | None = None
    ) -> None:
        """QuantConnect holds these tokens for `brokerage`, from the read after `after_reads` reads on (and,
        with `lasts_reads`, for that many reads only: then the authorization has run out)."""
        with self._lock:
            self._grants[brokerage] = _Grant(dict(tokens), after_reads, lasts_reads)

    def expire(self, brokerage: str) -> None:
        """QuantConnect's authorization for `brokerage` ran out: reads find nothing again."""
        with self._lock:
            self._grants.pop(brokerage, None)

    def authorize(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, payload, headers) of live/auth0/authorize."""
        problems = qc_schema.validate_against("AuthorizeExternalConnectionRequest", body)
        if problems:
            return 200, {"success": False, "errors": problems}, {}
        with self._lock:
            link = AUTHORIZE_PAGE.format(brokerage=body["brokerage"], state=len(self.links) + 1)
            self.links.append(link)
        return 302, {}, {"Location": link}

    def read(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, payload) of live/auth0/read."""
        problems = qc_schema.validate_against("AuthorizeExternalConnectionRequest", body)
        if problems:
            return 200, {"success": False, "errors": problems}
        brokerage = body["brokerage"]
        with self._lock:
            grant = self._grants.get(brokerage)
            if grant is not None and grant.reads_left > 0:
                grant.reads_left -= 1
                grant = None
            if grant is not None and grant.lasts_reads is not None:
                grant.lasts_reads -= 1
                if grant.lasts_reads <= 0:
                    self._grants.pop(brokerage, None)
        if grant is None:
            return 200, {"success": False, "errors": [f"No authorization found for {brokerage}."]}
        return 200, {"authorization": dict(grant.tokens), "success": True, "errors": []}
