"""The client's live/auth0 calls against the fake QuantConnect (spec-checked bodies) and odd answers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import RequestRefused, Unavailable
from bot.secrets.masking import redact
from tests.fakes.fake_quantconnect import FakeQuantConnect


@pytest.fixture(scope="module")
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        yield fake


@pytest.fixture
def client(qc: FakeQuantConnect) -> Iterator[QuantConnectClient]:
    with QuantConnectClient(
        qc.user_id, qc.api_token, base_url=qc.base_url, sleep=lambda _: None, max_retries=0
    ) as made:
        yield made


def test_nothing_held_then_granted_after_reads_then_expired(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    assert client.read_authorization("tradestation").tokens == {}
    qc.auth0.grant(
        "tradestation",
        {"trade-station-client-id": "ts-client-0001", "trade-station-refresh-token": "ts-refresh-token-0001"},
        after_reads=1,
    )
    assert not client.read_authorization("tradestation").has(("trade-station-refresh-token",))
    held = client.read_authorization("tradestation")
    assert held.has(("trade-station-client-id", "trade-station-refresh-token"))
    assert "ts-refresh-token-0001" not in repr(held)
    # Registered with the mask as it was read, under its field name.
    assert redact("token ts-refresh-token-0001") == "token ***trade-station-refresh-token***"
    qc.auth0.expire("tradestation")
    assert client.read_authorization("tradestation").tokens == {}
    assert [c.body for c in qc.calls_to("live/auth0/read")][-1] == {"brokerage": "tradestation"}


def test_the_authorization_link_comes_from_the_redirect(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    link = client.authorization_link("charlesschwab")
    assert link == qc.auth0.links[-1] and link.startswith("https://")


def test_a_brokerage_the_spec_does_not_list_is_refused_naming_the_field(client: QuantConnectClient) -> None:
    with pytest.raises(RequestRefused) as caught:
        client.authorization_link("interactivebrokers")
    assert "brokerage: must be one of alpaca, tradestation, charlesschwab, tastytrade" in str(caught.value)
    assert client.read_authorization("robinhood").errors[0].startswith("brokerage: must be one of")


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (302, {"Location": "http://plain.example/x"}, RequestRefused),
        (302, {"Location": "https://evil.example/a|b>c"}, RequestRefused),
        (200, {}, Unavailable),  # no redirect and no JSON
        (503, {}, Unavailable),
    ],
)
def test_odd_authorize_answers_are_errors(
    status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers=headers, content=b"<html>")
    )
    odd = QuantConnectClient("1", "t" * 64, transport=transport, max_retries=0, sleep=lambda _: None)
    with odd, pytest.raises(error):
        odd.authorization_link("alpaca")
