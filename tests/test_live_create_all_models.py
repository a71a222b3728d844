"""Every brokerage model (and the older shape) builds a body QuantConnect's spec accepts, end to end.

Each complete example request is checked against the OpenAPI file (seed-only models against the seed), then
sent by the real client to the loopback fake QuantConnect, which deploys it. Removing any field the spec
requires makes the fake refuse the body with an error naming that field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.brokerages import (
    BrokerageSettings,
    LiveCreateRequest,
    all_models,
    build_live_create_request,
    data_providers_for,
    get,
)
from bot.brokerages.data_providers import config_for
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import RequestRefused
from tests.fakes import qc_schema
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.examples import EXAMPLE_PROFILES, example_cash

MODEL_KEYS = list(EXAMPLE_PROFILES)  # every registry model and the older BaseLiveAlgorithmSettings shape


@pytest.fixture(scope="module")
def fake_qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as qc:
        yield qc


@pytest.fixture(scope="module")
def client(fake_qc: FakeQuantConnect) -> Iterator[QuantConnectClient]:
    with QuantConnectClient(
        fake_qc.user_id, fake_qc.api_token, base_url=fake_qc.base_url, sleep=lambda _: None, max_retries=0
    ) as qc_client:
        yield qc_client


def _example_request(
    key: str, project_id: int = 1, compile_id: str = "c", node_id: str = "n"
) -> LiveCreateRequest:
    settings, credentials = EXAMPLE_PROFILES[key]
    return build_live_create_request(
        model=get(key),
        settings=settings,
        credentials=credentials,
        cash=example_cash(key),
        project_id=project_id,
        compile_id=compile_id,
        node_id=node_id,
        version_id="17202",
    )


def _schema_required(schema_name: str) -> list[str]:
    """Required keys of an OpenAPI component schema, following allOf references."""
    schema = qc_schema.spec()["components"]["schemas"][schema_name]
    required = list(schema.get("required", []))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            required += _schema_required(part["$ref"].rsplit("/", 1)[1])
        required += part.get("required", [])
    return list(dict.fromkeys(required))


def _required_brokerage_fields(model: type[BrokerageSettings]) -> list[str]:
    if model.key in qc_schema.SEED_SCHEMAS:
        return list(qc_schema.SEED_SCHEMAS[model.key][1]["required"])
    if model.exchange_name:
        return _schema_required(qc_schema.BINANCE_BROKERAGE_SCHEMAS[model.exchange_name])
    if model.brokerage_id in qc_schema.BROKERAGE_SCHEMAS:
        return _schema_required(qc_schema.BROKERAGE_SCHEMAS[model.brokerage_id])
    return _schema_required("BaseLiveAlgorithmSettings")


def _deploy(fake_qc: FakeQuantConnect, client: QuantConnectClient, key: str) -> tuple[LiveCreateRequest, Any]:
    project_id = fake_qc.add_project(f"All models: {key}")
    compiled = client.create_compile(project_id)
    client.wait_for_compile(project_id, compiled.compile_id)
    node = client.choose_node(project_id, None)
    request = _example_request(key, project_id, compiled.compile_id, node.id)
    return request, client.create_live(request.to_body())


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_example_request_passes_the_spec(key: str) -> None:
    assert qc_schema.validate_live_create(_example_request(key).to_body()) == []


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_example_request_is_deployed_by_quantconnect(
    key: str, fake_qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    request, result = _deploy(fake_qc, client, key)
    assert result.deploy_id and result.project_id == request.project_id
    assert fake_qc.calls_to("live/create")[-1].body == request.to_body()
    deployed = fake_qc.deployments(request.project_id)
    assert [deployment.deploy_id for deployment in deployed] == [result.deploy_id]


def test_the_spec_covers_every_model() -> None:
    covered = {model.key for model in map(get, MODEL_KEYS) if _required_brokerage_fields(model)}
    assert covered == set(MODEL_KEYS) - {"BaseLiveAlgorithmSettings"}  # the older shape requires nothing


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_every_field_the_spec_requires_is_modelled(key: str) -> None:
    model = get(key)
    modelled = {info.name for info in model.fields()} | {"id", "cash"}
    assert set(_required_brokerage_fields(model)) <= modelled


@pytest.mark.parametrize("key", [k for k in MODEL_KEYS if k != "BaseLiveAlgorithmSettings"])
def test_removing_a_required_field_is_refused_naming_it(
    key: str, fake_qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    project_id = fake_qc.add_project(f"Refusals: {key}", default_nodes=False)
    body = _example_request(key, project_id).to_body()
    required = _required_brokerage_fields(get(key))
    assert required
    for name in required:
        broken = {**body, "brokerage": {k: v for k, v in body["brokerage"].items() if k != name}}
        with pytest.raises(RequestRefused) as caught:
            client.create_live(broken)
        assert f"brokerage.{name}: required" in str(caught.value), name
    assert fake_qc.deployments(project_id) == []


@pytest.mark.parametrize(
    "key", [k for k in MODEL_KEYS if k != "QuantConnectSettings" and len(data_providers_for(k)) == 2]
)
def test_the_brokerage_as_its_own_data_provider_passes_the_spec(key: str) -> None:
    settings, credentials = EXAMPLE_PROFILES[key]
    if key == "TradierSettings":
        settings = {**settings, "tradier-environment": "live"}  # Tradier data is refused with Tradier paper
    own, quantconnect = data_providers_for(key)[::-1]
    request = build_live_create_request(
        model=get(key),
        settings=settings,
        credentials=credentials,
        data_providers=[config_for(own), config_for(quantconnect)],
        project_id=1,
        compile_id="c",
        node_id="n",
        version_id="17202",
    )
    body = request.to_body()
    assert list(body["dataProviders"]) == [own.provider_id, "QuantConnectBrokerage"]
    assert qc_schema.validate_live_create(body) == []


def test_terminal_link_dapi_is_offered_by_the_seed_but_refused_by_the_current_spec() -> None:
    settings, credentials = EXAMPLE_PROFILES["TerminalLinkSettings"]
    request = build_live_create_request(
        model=get("TerminalLinkSettings"),
        settings={**settings, "terminal-link-connection-type": "DAPI"},
        credentials=credentials,
        project_id=1,
        compile_id="c",
        node_id="n",
        version_id="17202",
    )
    assert qc_schema.validate_live_create(request.to_body()) == [
        "brokerage.terminal-link-connection-type: must be one of SAPI"
    ]


def test_there_is_an_example_for_every_registry_model() -> None:
    assert set(MODEL_KEYS) == {model.key for model in all_models()} | {"BaseLiveAlgorithmSettings"}
