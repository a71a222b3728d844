"""QuantConnectClient against FakeQuantConnect over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.errors import BotError
from bot.quantconnect import (
    AuthenticationError,
    BuildFailed,
    CompileTimeout,
    LiveCreateUncertain,
    NodeBusy,
    NoFreeNode,
    NotSent,
    QuantConnectClient,
    QuantConnectError,
    RequestRefused,
    Timeout,
    Unavailable,
    UnknownNode,
)
from tests.fakes import qc_schema
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSIONS, FakeQuantConnect
from tests.support.clocks import SleepingClock
from tests.support.qc_bodies import IB_PASSWORD, ready_body


@pytest.fixture
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        yield fake


@pytest.fixture
def project_id(qc: FakeQuantConnect) -> int:
    return qc.add_project("Momentum")


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock()


@pytest.fixture
def client(qc: FakeQuantConnect, clock: SleepingClock) -> Iterator[QuantConnectClient]:
    with QuantConnectClient(
        qc.user_id,
        SecretStr(qc.api_token),
        base_url=qc.base_url,
        timeout=5.0,
        sleep=clock.sleep,
        clock=clock,
    ) as qc_client:
        yield qc_client


# ---- happy paths ----------------------------------------------------------------------------------


def test_authenticate_sends_quantconnect_auth_headers(
    client: QuantConnectClient, qc: FakeQuantConnect
) -> None:
    client.authenticate()
    (call,) = qc.calls_to("authenticate")
    user, _, digest = (
        base64.b64decode(call.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
    )
    assert user == qc.user_id
    assert len(digest) == 64
    assert call.headers["timestamp"].isdigit()


def test_read_projects_all_and_one(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    other = qc.add_project("Mean reversion")
    assert {p.project_id for p in client.read_projects()} == {project_id, other}
    (project,) = client.read_projects(other)
    assert project.name == "Mean reversion"
    assert project.lean_version_id is not None


def test_compile_create_then_read(client: QuantConnectClient, project_id: int) -> None:
    created = client.create_compile(project_id)
    assert created.state == "InQueue"
    read = client.read_compile(project_id, created.compile_id)
    assert read.state == "BuildSuccess"
    assert read.project_id == project_id


def test_read_nodes_parses_live_nodes(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.add_node(project_id, "Busy box", busy=True, used_by="Alice Quant")
    nodes = client.read_nodes(project_id).live
    assert [n.has_gpu for n in nodes] == [False, False, True, False]
    busy = nodes[-1]
    assert busy.busy and busy.used_by == "Alice Quant" and busy.name == "Busy box"
    assert nodes[0].sku == "L-MICRO"


def test_create_live_newer_shape(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    body = ready_body(client, project_id)
    result = client.create_live(body)
    assert result.project_id == project_id
    assert result.deploy_id.startswith("L-")
    assert result.status == "InQueue"
    assert len(qc.calls_to("live/create")) == 1
    (node,) = [n for n in qc.nodes(project_id) if n.id == body["nodeId"]]
    assert node.busy


def test_create_live_older_flat_shape(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.legacy_create_response = True
    result = client.create_live(ready_body(client, project_id))
    assert result.deploy_id == qc.deployments(project_id)[0].deploy_id
    assert result.version_id == "17202"
    assert result.status is None


def test_read_live_undefined_then_walks_to_running(client: QuantConnectClient, project_id: int) -> None:
    before = client.read_live(project_id)
    assert before.status == "Undefined" and not before.exists and before.project_id == project_id
    deploy_id = client.create_live(ready_body(client, project_id)).deploy_id
    statuses = [client.read_live(project_id).status for _ in range(3)]
    assert statuses == ["LoggingIn", "Initializing", "Running"]
    live = client.read_live(project_id, deploy_id)
    assert live.deploy_id == deploy_id and live.project_id == project_id
    assert live.launched is not None and live.launched.tzinfo is not None
    assert live.stopped is None


def test_unknown_statuses_still_parse(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    client.create_live(ready_body(client, project_id))
    qc.set_status(project_id, "PendingInput")
    assert client.read_live(project_id).status == "PendingInput"


def test_list_live_filters(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    other = qc.add_project("Other")
    client.create_live(ready_body(client, project_id))
    client.create_live(ready_body(client, other))
    qc.set_status(other, "Running")
    assert {a.project_id for a in client.list_live()} == {project_id, other}
    assert [a.project_id for a in client.list_live(status="Running")] == [other]
    assert [a.project_id for a in client.list_live(project_id=project_id)] == [project_id]


def test_stop_and_liquidate(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    client.create_live(ready_body(client, project_id))
    client.stop_live(project_id)
    stopped = client.read_live(project_id)
    assert stopped.status == "Stopped" and stopped.stopped is not None and stopped.is_terminal
    assert not any(n.busy for n in qc.nodes(project_id))
    client.create_live(ready_body(client, project_id))
    client.liquidate_live(project_id)
    assert client.read_live(project_id).status == "Liquidated"


def test_deploy_and_runtime_errors_surface(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.deploy_error_after(project_id, 2, "Login failed: invalid IB credentials")
    client.create_live(ready_body(client, project_id))
    assert client.read_live(project_id).status == "LoggingIn"
    failed = client.read_live(project_id)
    assert failed.status == "DeployError"
    assert failed.problem == "Login failed: invalid IB credentials"
    client.create_live(ready_body(client, project_id))
    qc.runtime_error_after(project_id, 1, "Division by zero in OnData")
    assert client.read_live(project_id).problem == "Division by zero in OnData"
    assert client.list_live(status="RuntimeError")[0].problem == "Division by zero in OnData"


# ---- authentication -------------------------------------------------------------------------------


def test_wrong_token_raises_authentication_error(qc: FakeQuantConnect, project_id: int) -> None:
    bad = QuantConnectClient(qc.user_id, "not-the-token", base_url=qc.base_url, sleep=lambda s: None)
    with bad, pytest.raises(AuthenticationError) as caught:
        bad.read_projects()
    assert "QC_API_TOKEN" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


def test_unknown_user_raises_authentication_error(qc: FakeQuantConnect) -> None:
    bad = QuantConnectClient("999", qc.api_token, base_url=qc.base_url, sleep=lambda s: None)
    with bad, pytest.raises(AuthenticationError, match="QC_USER_ID"):
        bad.authenticate()


def test_stale_timestamp_gets_http_401(qc: FakeQuantConnect) -> None:
    stale = QuantConnectClient(
        qc.user_id, qc.api_token, base_url=qc.base_url, sleep=lambda s: None, clock=lambda: time.time() - 8000
    )
    with stale, pytest.raises(AuthenticationError, match="clock"):
        stale.authenticate()
    assert len(qc.calls_to("authenticate")) == 1  # credentials problems are not retried


# ---- retries and refusals -------------------------------------------------------------------------


def test_reads_retry_server_errors(
    client: QuantConnectClient, qc: FakeQuantConnect, clock: SleepingClock, project_id: int
) -> None:
    qc.fail("projects/read", status=500, times=2)
    assert [p.project_id for p in client.read_projects()] == [project_id]
    assert len(qc.calls_to("projects/read")) == 3
    # Exponential (0.5 s, then 1 s) plus up to half of each delay at random.
    first, second = clock.sleeps
    assert 0.5 <= first <= 0.75 and 1.0 <= second <= 1.5


def test_reads_give_up_after_max_retries(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.fail("live/read", status=503, times=10)
    with pytest.raises(Unavailable, match="HTTP 503"):
        client.read_live(project_id)
    assert len(qc.calls_to("live/read")) == client.max_retries + 1


def test_read_timeout_is_retried(qc: FakeQuantConnect, project_id: int) -> None:
    qc.delay("live/read", 2.0)
    with QuantConnectClient(
        qc.user_id, qc.api_token, base_url=qc.base_url, timeout=0.2, sleep=lambda s: None
    ) as c:
        assert c.read_live(project_id).status == "Undefined"
    assert len(qc.calls_to("live/read")) == 2


def test_timeouts_raise_timeout_when_retries_run_out(qc: FakeQuantConnect, project_id: int) -> None:
    qc.delay("projects/nodes/read", 2.0, times=2)
    with (
        QuantConnectClient(
            qc.user_id, qc.api_token, base_url=qc.base_url, timeout=0.2, max_retries=1, sleep=lambda s: None
        ) as c,
        pytest.raises(Timeout, match="projects/nodes/read"),
    ):
        c.read_nodes(project_id)


def test_compile_create_is_not_retried(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.fail("compile/create", status=500)
    with pytest.raises(Unavailable):
        client.create_compile(project_id)
    assert len(qc.calls_to("compile/create")) == 1


def test_live_create_server_error_is_not_retried(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    body = ready_body(client, project_id)
    qc.fail("live/create", status=500)
    with pytest.raises(Unavailable) as caught:
        client.create_live(body)
    assert isinstance(caught.value, LiveCreateUncertain)
    assert len(qc.calls_to("live/create")) == 1
    assert qc.deployments(project_id) == []


def test_success_false_raises_request_refused_verbatim(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    qc.refuse("projects/read", ["Project is locked by Alice", "Try later"])
    with pytest.raises(RequestRefused) as caught:
        client.read_projects(project_id)
    assert caught.value.errors == ["Project is locked by Alice", "Try later"]
    assert "Project is locked by Alice" in str(caught.value)
    assert len(qc.calls_to("projects/read")) == 1  # a refusal is an answer, not a transient failure


def test_invalid_live_create_body_is_refused_naming_the_field(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    body = ready_body(client, project_id)
    del body["brokerage"]["ib-weekly-restart-utc-time"]
    with pytest.raises(RequestRefused) as caught:
        client.create_live(body)
    assert caught.value.errors == ["brokerage.ib-weekly-restart-utc-time: required"]
    assert IB_PASSWORD not in str(caught.value)
    assert qc.deployments(project_id) == []


def test_live_create_without_project_id_sends_nothing(
    client: QuantConnectClient, qc: FakeQuantConnect
) -> None:
    with pytest.raises(QuantConnectError, match="projectId"):
        client.create_live({"compileId": "x"})
    assert qc.calls == []


# ---- live/create: sent once, an unclear outcome is the caller's to settle ------------------------


def test_timed_out_live_create_is_uncertain_and_never_resent(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    body = ready_body(client, project_id)
    qc.delay("live/create", 0.6)
    impatient = QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url, timeout=0.2)
    with impatient, pytest.raises(LiveCreateUncertain) as caught:
        impatient.create_live(body)
    assert "did not answer in time" in caught.value.reason
    assert "never resent" in str(caught.value)
    qc.wait_idle(10)
    # It went through after all: live/read says so, and there was exactly one POST.
    assert len(qc.calls_to("live/create")) == 1
    assert len(qc.deployments(project_id)) == 1


@pytest.mark.parametrize("create_first", [True, False])
def test_a_dropped_create_is_uncertain_whatever_happened_behind_it(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int, create_first: bool
) -> None:
    body = ready_body(client, project_id)
    qc.drop_connection("live/create", create_first=create_first)
    with pytest.raises(LiveCreateUncertain) as caught:
        client.create_live(body)
    assert f"project {project_id}" in str(caught.value)
    assert len(qc.calls_to("live/create")) == 1
    assert len(qc.deployments(project_id)) == (1 if create_first else 0)


def test_an_unreachable_quantconnect_certainly_got_nothing(qc: FakeQuantConnect, project_id: int) -> None:
    with QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url) as c:
        body = ready_body(c, project_id)
    closed = QuantConnectClient(qc.user_id, qc.api_token, base_url="http://127.0.0.1:9/api/v2/", timeout=1)
    with closed, pytest.raises(NotSent, match="nothing was deployed"):
        closed.create_live(body)
    assert qc.calls_to("live/create") == []


def test_find_deployment_since(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    now = datetime.now(UTC)
    assert client.find_deployment_since(project_id, now, None) is None
    deploy_id = client.create_live(ready_body(client, project_id)).deploy_id
    assert client.find_deployment_since(project_id, now, None).deploy_id == deploy_id  # type: ignore[union-attr]
    assert client.find_deployment_since(project_id, now, deploy_id) is None
    assert client.find_deployment_since(project_id, now, "L-older").deploy_id == deploy_id  # type: ignore[union-attr]
    assert client.find_deployment_since(project_id, now + timedelta(hours=1), None) is None


# ---- compile waiting ------------------------------------------------------------------------------


def test_wait_for_compile_polls_fast_then_slow(
    client: QuantConnectClient, qc: FakeQuantConnect, clock: SleepingClock, project_id: int
) -> None:
    qc.compile_reads = 4
    compile_id = client.create_compile(project_id).compile_id
    states: list[str] = []
    done = client.wait_for_compile(
        project_id, compile_id, first_delay=0.5, max_delay=1.5, on_poll=states.append
    )
    assert done.state == "BuildSuccess"
    assert states == ["InQueue", "InQueue", "InQueue", "BuildSuccess"]
    assert clock.sleeps == [0.5, 1.0, 1.5]


def test_wait_for_compile_build_error_carries_logs(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    logs = ["main.py:12 error: name 'foo' is not defined", "Build failed"]
    qc.build_error(project_id, logs)
    compile_id = client.create_compile(project_id).compile_id
    with pytest.raises(BuildFailed) as caught:
        client.wait_for_compile(project_id, compile_id)
    assert caught.value.logs == logs
    assert "name 'foo' is not defined" in str(caught.value)


def test_wait_for_compile_times_out(
    client: QuantConnectClient, qc: FakeQuantConnect, clock: SleepingClock, project_id: int
) -> None:
    qc.compile_reads = 10_000
    compile_id = client.create_compile(project_id).compile_id
    with pytest.raises(CompileTimeout, match=f"Project {project_id} was still compiling"):
        client.wait_for_compile(project_id, compile_id, timeout=30, first_delay=1, max_delay=8)
    assert sum(clock.sleeps) == 30
    assert max(clock.sleeps) == 8


# ---- node choice ----------------------------------------------------------------------------------


def test_choose_named_node_by_id_or_name(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    gpu = next(n for n in qc.nodes(project_id) if n.has_gpu)
    assert client.choose_node(project_id, gpu.id).id == gpu.id
    assert client.choose_node(project_id, "Live CPU 2").name == "Live CPU 2"


def test_choose_unknown_node(client: QuantConnectClient, project_id: int) -> None:
    with pytest.raises(UnknownNode, match="'LN-nope' is not a live node of project"):
        client.choose_node(project_id, "LN-nope")


def test_choose_busy_named_node_names_its_user(
    client: QuantConnectClient, qc: FakeQuantConnect, project_id: int
) -> None:
    node_id = qc.add_node(project_id, "Shared", busy=True, used_by="Bob Trader", project_name="Pairs")
    with pytest.raises(NodeBusy, match="used by Bob Trader") as caught:
        client.choose_node(project_id, node_id)
    assert isinstance(caught.value, NoFreeNode)


def test_auto_choice_skips_gpu_and_busy_nodes(client: QuantConnectClient, qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("GPU first", default_nodes=False)
    qc.add_node(project_id, "Big GPU", has_gpu=True)
    qc.add_node(project_id, "Taken", busy=True, used_by="Carol")
    free = qc.add_node(project_id, "Free CPU")
    assert client.choose_node(project_id, None).id == free


def test_no_free_node_names_each_user(client: QuantConnectClient, qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("Crowded", default_nodes=False)
    qc.add_node(project_id, "One", busy=True, used_by="Alice Quant", project_name="Trend")
    qc.add_node(project_id, "Two", busy=True, used_by="Bob Trader", project_name="Pairs")
    with pytest.raises(NoFreeNode) as caught:
        client.choose_node(project_id, None)
    message = str(caught.value)
    assert "Alice Quant" in message and "Bob Trader" in message and "Trend" in message
    assert len(caught.value.nodes) == 2


def test_only_gpu_free_says_so(client: QuantConnectClient, qc: FakeQuantConnect, project_id: int) -> None:
    qc.all_nodes_busy(project_id, used_by="Erin")
    gpu = qc.add_node(project_id, "Spare GPU", has_gpu=True)
    with pytest.raises(NoFreeNode, match="Only GPU nodes are free") as caught:
        client.choose_node(project_id, None)
    assert "Erin" in str(caught.value)
    assert client.choose_node(project_id, gpu).id == gpu


# ---- secrets --------------------------------------------------------------------------------------


def test_errors_are_bot_errors_with_plain_messages() -> None:
    err = RequestRefused("QuantConnect refused live/create: bad", errors=["bad"])
    assert isinstance(err, BotError)
    assert str(err) == err.user_message


def test_client_repr_hides_token(qc: FakeQuantConnect) -> None:
    with QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url) as c:
        assert qc.api_token not in repr(c)
        assert qc.api_token not in repr(c._http.auth)


def test_no_secret_in_debug_logs(
    qc: FakeQuantConnect, project_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url, sleep=lambda s: None) as c:
        c.authenticate()
        body = ready_body(c, project_id)
        qc.fail("live/read", times=1)
        c.read_live(project_id)
        qc.drop_connection("live/create", create_first=False)
        with pytest.raises(LiveCreateUncertain):
            c.create_live(body)
        c.create_live(body)
    bad = QuantConnectClient(qc.user_id, "wrong-token-xyz", base_url=qc.base_url)
    with bad, pytest.raises(AuthenticationError):
        bad.authenticate()
    secrets = {qc.api_token, "wrong-token-xyz", IB_PASSWORD}
    for call in qc.calls:
        authorization = call.headers.get("authorization", "")
        secrets.add(authorization.removeprefix("Basic "))
        secrets.add(base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")[2])
    secrets.discard("")
    text = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert any(r.name == "bot.quantconnect" and "live/create" in r.getMessage() for r in caplog.records)
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []


def test_read_lean_versions_parses_every_version(client: QuantConnectClient, qc: FakeQuantConnect) -> None:
    versions = client.read_lean_versions()
    assert [v.id for v in versions] == [v["id"] for v in FAKE_LEAN_VERSIONS]
    newest = versions[-1]
    assert newest.public is True and newest.created is not None and newest.created.tzinfo is not None
    assert newest.description and newest.lean_hash and newest.ref == "refs/heads/master"
    assert qc.calls_to("lean/versions/read")[-1].body == {}


def test_the_fakes_lean_versions_answer_has_the_specs_shape(
    client: QuantConnectClient, qc: FakeQuantConnect
) -> None:
    # The fake answers exactly this object (the list as held, plus success and errors).
    answer = {"versions": [dict(v) for v in qc.lean_versions], "success": True, "errors": []}
    assert qc_schema.validate_against("LeanVersionsResponse", answer) == []
