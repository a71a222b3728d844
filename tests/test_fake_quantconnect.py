"""The fake QuantConnect server and the live/create schema checks it relies on."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.qc_schema import validate_against, validate_live_create


def ib_body() -> dict[str, Any]:
    """A hand-written valid Interactive Brokers live/create body."""
    return {
        "versionId": "-1",
        "projectId": 23456789,
        "compileId": "5d1f2cba3a0ec7407c566614300502b5-173e0419674daf4144ce7c9931155ca8",
        "nodeId": "LN-c54129e1b4f667613d3f34542b787771",
        "brokerage": {
            "id": "InteractiveBrokersBrokerage",
            "ib-user-name": "trader1",
            "ib-account": "DU123456",
            "ib-password": "secret",
            "ib-trading-mode": "paper",
            "ib-weekly-restart-utc-time": "21:00:00",
        },
        "dataProviders": {"QuantConnectBrokerage": {"id": "QuantConnectBrokerage"}},
        "automaticRedeploy": True,
        "notification": {
            "events": ["orderEvent"],
            "targets": [{"address": "ops@example.com", "subject": "Fills"}],
        },
        "parameters": {},
    }


# ---- qc_schema ------------------------------------------------------------------------------------


def test_valid_ib_body_passes() -> None:
    assert validate_live_create(ib_body()) == []


def test_missing_ib_password_is_named() -> None:
    body = ib_body()
    del body["brokerage"]["ib-password"]
    assert validate_live_create(body) == ["brokerage.ib-password: required"]


def test_bad_enum_names_the_field_without_echoing_the_value() -> None:
    body = ib_body()
    body["brokerage"] = {
        "id": "TradierBrokerage",
        "tradier-account-id": "VA000001",
        "tradier-access-token": "tok",
        "tradier-environment": "sandbox-xyz",
    }
    (error,) = validate_live_create(body)
    assert error == "brokerage.tradier-environment: must be one of live, paper"


def test_version_id_must_be_a_string() -> None:
    body = ib_body()
    body["versionId"] = -1
    assert validate_live_create(body) == ["versionId: must be a string"]


def test_top_level_required_fields_and_cli_extras_are_typed() -> None:
    body = ib_body()
    del body["nodeId"]
    body["automaticRedeploy"] = "yes"
    assert sorted(validate_live_create(body)) == [
        "automaticRedeploy: must be true or false",
        "nodeId: required",
    ]


def test_binance_dispatches_on_exchange_name() -> None:
    body = ib_body()
    body["brokerage"] = {
        "id": "BinanceBrokerage",
        "binance-exchange-name": "BinanceUS",
        "binanceus-api-key": "k",
    }
    assert validate_live_create(body) == ["brokerage.binanceus-api-secret: required"]
    body["brokerage"]["binance-exchange-name"] = "Binance-Mars"
    (error,) = validate_live_create(body)
    assert error.startswith("brokerage.binance-exchange-name: must be one of Binance, BinanceUS")


def test_seed_only_models_are_checked() -> None:
    body = ib_body()
    body["brokerage"] = {
        "id": "SamcoBrokerage",
        "samco-client-id": "c",
        "samco-client-password": "p",
        "samco-year-of-birth": "1980",
        "samco-product-type": "mis",
        "samco-trading-segment": "equity",
    }
    assert validate_live_create(body) == ["brokerage.samco-year-of-birth: must be an integer"]
    body["brokerage"]["samco-year-of-birth"] = 1980
    assert validate_live_create(body) == []
    zerodha = {"id": "ZerodhaBrokerage", "zerodha-history-subscription": "true"}
    errors = validate_against("ZerodhaSettings", zerodha)
    assert "zerodha-history-subscription: must be true or false" in errors
    assert "zerodha-api-key: required" in errors


def test_older_shape_validates_against_base_settings() -> None:
    body = ib_body()
    body["brokerage"] = {
        "id": "PaperTrading",
        "user": "",
        "password": "",
        "environment": "paper",
        "account": "",
    }
    assert validate_live_create(body) == []
    body["brokerage"]["environment"] = "demo"
    assert validate_live_create(body) == ["brokerage.environment: must be one of live, paper"]


def test_unknown_brokerage_and_provider_are_named() -> None:
    body = ib_body()
    body["brokerage"] = {"id": "MoonBrokerage"}
    body["dataProviders"] = {
        "Moon": {"id": "MoonData"},
        "QuantConnectBrokerage": {"id": "QuantConnectBrokerage"},
    }
    errors = validate_live_create(body)
    assert errors[0].startswith("brokerage.id: unknown brokerage 'MoonBrokerage'")
    assert errors[1].startswith("dataProviders.Moon.id: unknown data provider 'MoonData'")
    assert len(errors) == 2


def test_data_provider_credentials_are_checked() -> None:
    body = ib_body()
    body["dataProviders"] = {"TradierBrokerage": {"id": "TradierBrokerage", "tradier-environment": "live"}}
    assert sorted(validate_live_create(body)) == [
        "dataProviders.TradierBrokerage.tradier-access-token: required",
        "dataProviders.TradierBrokerage.tradier-account-id: required",
    ]


def test_trading_technologies_needs_cash() -> None:
    body = ib_body()
    body["brokerage"] = {
        "id": "TradingTechnologiesBrokerage",
        "tt-user-name": "u",
        "tt-session-password": "p",
        "tt-account-name": "a",
        "tt-rest-app-key": "k",
        "tt-rest-app-secret": "s",
        "tt-rest-environment": "uat",
        "tt-order-routing-sender-comp-id": "c",
        "cash": [],
    }
    assert validate_live_create(body) == ["brokerage.cash: must not be empty"]
    body["brokerage"]["cash"] = [{"amount": "lots", "currency": "USD"}]
    assert validate_live_create(body) == ["brokerage.cash[0].amount: must be a number"]


def test_validate_against_any_component_schema() -> None:
    assert validate_against("CreateProjectRequest", {"name": "x"}) == ["language: required"]
    with pytest.raises(KeyError):
        validate_against("NoSuchSchema", {})


# ---- the fake server ------------------------------------------------------------------------------


@pytest.fixture
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        yield fake


def signed(
    qc: FakeQuantConnect, *, user: str | None = None, token: str | None = None, ts: int | None = None
) -> dict:
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hashlib.sha256(f"{token or qc.api_token}:{stamp}".encode()).hexdigest()
    basic = base64.b64encode(f"{user or qc.user_id}:{digest}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "Timestamp": stamp}


def post(
    qc: FakeQuantConnect, endpoint: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return httpx.post(qc.base_url + endpoint, json=body, headers=headers, timeout=5)


def test_base_url_is_loopback_api_v2(qc: FakeQuantConnect) -> None:
    assert qc.base_url.startswith("http://127.0.0.1:")
    assert qc.base_url.endswith("/api/v2/")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic !!!", "Timestamp": "1"}, {"Authorization": "Bearer x", "Timestamp": "1"}],
)
def test_missing_or_malformed_auth_is_http_401(qc: FakeQuantConnect, headers: dict[str, str]) -> None:
    response = post(qc, "authenticate", {}, headers)
    assert response.status_code == 401
    assert "www-authenticate" in response.headers
    assert response.json()["success"] is False


def test_stale_timestamp_is_http_401(qc: FakeQuantConnect) -> None:
    response = post(qc, "authenticate", {}, signed(qc, ts=int(time.time()) - 7300))
    assert response.status_code == 401


def test_wrong_hash_and_unknown_user_are_200_refusals(qc: FakeQuantConnect) -> None:
    wrong_hash = post(qc, "authenticate", {}, signed(qc, token="nope"))
    assert wrong_hash.status_code == 200
    assert wrong_hash.json()["errors"][0].startswith("Hash doesn't match")
    unknown = post(qc, "authenticate", {}, signed(qc, user="1"))
    assert unknown.json() == {"success": False, "errors": ["UserID not valid"]}
    assert post(qc, "authenticate", {}, signed(qc)).json()["success"] is True


def test_calls_are_recorded_with_headers(qc: FakeQuantConnect) -> None:
    post(qc, "projects/read", {"projectId": 5}, signed(qc))
    (call,) = qc.calls_to("projects/read")
    assert call.body == {"projectId": 5}
    assert call.headers["timestamp"].isdigit()


def test_live_create_refusals_create_nothing(qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("P")
    node = qc.nodes(project_id)[0]
    compile_id = post(qc, "compile/create", {"projectId": project_id}, signed(qc)).json()["compileId"]
    body = {**ib_body(), "projectId": project_id, "compileId": compile_id, "nodeId": node.id}
    in_queue = post(qc, "live/create", body, signed(qc)).json()
    assert in_queue["success"] is False and "not BuildSuccess" in in_queue["errors"][0]
    post(qc, "compile/read", {"projectId": project_id, "compileId": compile_id}, signed(qc))
    foreign = post(qc, "live/create", {**body, "nodeId": "LN-other"}, signed(qc)).json()
    assert "not a live node of project" in foreign["errors"][0]
    busy = qc.add_node(project_id, "Busy", busy=True, used_by="Zed")
    assert "used by Zed" in post(qc, "live/create", {**body, "nodeId": busy}, signed(qc)).json()["errors"][0]
    assert qc.deployments(project_id) == []
    assert post(qc, "live/create", body, signed(qc)).json()["success"] is True
    again = post(qc, "live/create", {**body, "nodeId": qc.nodes(project_id)[1].id}, signed(qc)).json()
    assert "stop it first" in again["errors"][0]
    assert len(qc.deployments(project_id)) == 1


def test_stop_is_prompt_while_a_request_sleeps() -> None:
    fake = FakeQuantConnect()
    fake.start()
    fake.delay("authenticate", 60)
    outcome: list[str] = []

    def call() -> None:
        try:
            post(fake, "authenticate", {}, signed(fake))
            outcome.append("answered")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    while not fake.calls_to("authenticate"):
        time.sleep(0.01)
    fake.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert outcome and outcome != ["answered"]
    assert fake.wait_idle(timeout=10)


def test_faults_are_consumed_in_order(qc: FakeQuantConnect) -> None:
    qc.fail("authenticate", status=502)
    qc.refuse("authenticate", ["Service paused"])
    assert post(qc, "authenticate", {}, signed(qc)).status_code == 502
    assert post(qc, "authenticate", {}, signed(qc)).json()["errors"] == ["Service paused"]
    assert post(qc, "authenticate", {}, signed(qc)).json()["success"] is True


def test_a_stopped_fake_answers_nothing_even_on_a_kept_alive_connection() -> None:
    fake = FakeQuantConnect()
    fake.start()
    with httpx.Client(base_url=fake.base_url) as client:
        assert client.post("authenticate").status_code in (200, 401)
        fake.stop()
        with pytest.raises(httpx.TransportError):
            client.post("authenticate")
