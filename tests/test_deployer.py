"""Deployer: every step against a fake QuantConnect over HTTP and a real SQLite store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.secrets import CredentialProfiles, EnvSecretStore
from bot.store import RequestStatus
from tests.fakes.qc_schema import validate_live_create
from tests.support.examples import example_profile, example_secret_values, profile_env
from tests.support.outbound import leaked_secrets
from tests.support.waiting import eventually
from tests.support.world import IB, World, make_client, make_world

S = RequestStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def actions(w: World, request_id: str) -> list[str]:
    return [event.action for event in w.store.events(request_id=request_id)]


def test_approved_request_compiles_picks_a_node_and_goes_live(world: World) -> None:
    request = world.request()
    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.LIVE
    creates = world.qc.calls_to("live/create")
    assert len(creates) == 1
    body = creates[0].body
    assert validate_live_create(body) == []
    assert body["projectId"] == request.project_id and body["compileId"] == done.compile_id
    # The first free node without a GPU.
    node = world.qc.nodes(request.project_id)[0]
    assert body["nodeId"] == node.id and node.id in (done.node_used or "")
    assert done.deploy_id == world.qc.deployments(request.project_id)[0].deploy_id
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.deploy_id == done.deploy_id
    assert deployment.next_poll_at is not None
    assert actions(world, request.id) == [
        "requested",
        "approved",
        "compile_started",
        "build_succeeded",
        "node_chosen",
        "deploying",
        "deployed",
    ]
    replies = world.notifier.texts(request.id)
    assert replies[0].startswith("🔨 Compiling")
    assert any("Build succeeded" in r for r in replies)
    assert any("Deploying to node" in r and "Live CPU 1" in r for r in replies)
    assert any(done.deploy_id in r for r in replies)
    # Card refreshes queued while one still waits are one refresh (the card renders the newest state).
    assert world.notifier.cards == [request.id]


def test_the_chosen_node_is_used(world: World) -> None:
    request = world.request(node_id="Live CPU 2")
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is S.LIVE
    assert world.qc.calls_to("live/create")[0].body["nodeId"] == world.qc.nodes(request.project_id)[1].id


def test_build_error_fails_with_the_build_log_and_sends_nothing(world: World) -> None:
    request = world.request()
    logs = ["Build Error: main.py(12): error CS1002: ; expected", "Build Error: 1 error"]
    world.qc.build_error(request.project_id, logs)

    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.FAILED
    assert world.qc.calls_to("live/create") == []
    ((rid, title, errors),) = world.notifier.error_lists
    assert rid == request.id and "Build failed" in title
    assert logs[0] in errors and logs[1] in errors
    assert "CS1002" in done.errors[0]
    assert actions(world, request.id)[-1] == "deploy_failed"
    assert world.store.open_request_for_project(request.project_id) is None  # the project lock is released


def test_all_nodes_busy_names_who_uses_them(world: World) -> None:
    request = world.request()
    world.qc.all_nodes_busy(request.project_id, used_by="Jane Trader")

    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.FAILED
    assert "Jane Trader" in done.errors[0]
    assert world.qc.calls_to("live/create") == []


def test_a_request_approved_as_paper_never_sends_a_real_money_body(world: World) -> None:
    # Stored as paper (approved with the paper rules), but the settings now build a live IB body.
    live_settings = {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"}
    request = world.request(settings=live_settings, is_paper=True)

    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.FAILED
    assert world.qc.calls_to("live/create") == []
    ((_, title, errors),) = world.notifier.error_lists
    assert "approved as paper trading" in title and "Nothing was sent" in errors[0]


def test_quantconnect_refusal_lists_its_errors(world: World) -> None:
    request = world.request()
    world.qc.refuse("live/create", ["Brokerage login failed", "Node is not available"])

    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.FAILED
    assert list(done.errors) == ["Brokerage login failed", "Node is not available"]
    ((_, title, errors),) = world.notifier.error_lists
    assert "refused live/create" in title and errors == list(done.errors)
    assert len(world.qc.calls_to("live/create")) == 1


def test_authentication_failure_fails_plainly(world: World) -> None:
    request = world.request()
    bad = make_client(world.qc, api_token="0" * 64)
    try:
        done = world.deployer(qc=bad).deploy(request.id)
    finally:
        bad.close()
    assert done is not None and done.status is S.FAILED
    assert "QC_API_TOKEN" in done.errors[0]
    assert "0" * 64 not in world.notifier.all_text()


def test_unreachable_quantconnect_fails_without_deploying(world: World) -> None:
    request = world.request()
    world.qc.fail("compile/create", status=503)
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is S.FAILED
    assert "HTTP 503" in done.errors[0]


def test_missing_credential_names_profile_and_field(world: World) -> None:
    brokerage, credentials = example_profile(IB)
    del credentials["ib-password"]
    world.profiles = CredentialProfiles(
        EnvSecretStore(environ=profile_env({"ib-partial": (brokerage, credentials)}))
    )
    request = world.request(profile="ib-partial")

    done = world.deployer().deploy(request.id)

    assert done is not None and done.status is S.FAILED
    assert "ib-partial" in done.errors[0] and "ib-password" in done.errors[0]
    assert world.qc.calls_to("live/create") == []


def test_timed_out_create_that_deployed_settles_live_not_resent(world: World) -> None:
    request = world.request()
    world.qc.delay("live/create", 1.0)
    quick = make_client(world.qc, timeout=0.3)
    try:
        deployer = world.deployer(qc=quick)
        waiting = deployer.deploy(request.id)
        assert waiting is not None and waiting.status is S.DEPLOYING and waiting.is_settling
        assert world.store.open_request_for_project(request.project_id).id == request.id  # type: ignore[union-attr]
        world.qc.wait_idle()
        done = deployer.settle(request.id)
    finally:
        quick.close()
    assert done is not None and done.status is S.LIVE
    assert len(world.qc.calls_to("live/create")) == 1
    assert done.deploy_id == world.qc.deployments(request.project_id)[0].deploy_id
    assert world.store.get_deployment(request.id) is not None
    texts = world.notifier.texts(request.id)
    assert any("did not confirm live/create" in t and "will not be sent again" in t for t in texts)
    assert any("sent once, not resent" in t for t in texts)


def test_submit_runs_once_even_when_two_replicas_race(world: World) -> None:
    request = world.request()
    other = world.replica("replica-other")
    first, second = world.deployer(), world.deployer(store=other)
    futures = [first.submit(request.id), first.submit(request.id), second.submit(request.id)]
    for future in futures:
        if future is not None:
            future.result(timeout=20)
    assert futures[1] is None  # already queued in this process
    assert futures[2] is None  # claimed by the first replica, which is alive
    assert len(world.qc.calls_to("live/create")) == 1
    assert world.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]


def test_recover_resumes_approved_and_compiling(world: World) -> None:
    approved = world.request(project="A")
    compiling = world.request(project="B")
    world.store.transition(
        compiling.id,
        from_statuses={S.APPROVED},
        to=S.COMPILING,
        actor="bot",
        action="compile_started",
        now=world.clock(),
    )
    deployer = world.deployer()
    assert sorted(deployer.recover()) == sorted([approved.id, compiling.id])
    for request in (approved, compiling):
        eventually(lambda r=request: world.store.get_request(r.id).status is S.LIVE, timeout=10)  # type: ignore[union-attr]
    assert len(world.qc.calls_to("live/create")) == 2


def _crash_after(world: World, request_id: str, *, send: bool) -> None:
    """Run the steps up to `deploying` (and optionally live/create) as a replica whose lease then runs out."""
    dead = world.replica("replica-dead", lease_seconds=20)
    deployer = world.deployer(store=dead)
    request = dead.claim_request(request_id, world.clock())
    assert request is not None
    moved = dead.transition(
        request_id,
        from_statuses={S.APPROVED},
        to=S.COMPILING,
        actor="bot",
        action="compile_started",
        now=world.clock(),
        owned=True,
    )
    assert moved is not None
    compile_id = deployer.stages.compile(moved)
    node = deployer.stages.choose_node(moved)
    body = deployer.stages.body(moved, compile_id, node)
    now = world.clock()
    dead.transition(
        request_id,
        from_statuses={S.COMPILING},
        to=S.DEPLOYING,
        actor="bot",
        action="deploying",
        now=now,
        owned=True,
        compile_id=compile_id,
        node_used=node.label,
        deploying_since=now,
        settle_deadline=now + deployer.stages.settle_window,
    )
    if send:
        world.client.create_live(body)
    world.clock.advance(30)  # the dead replica's lease has run out


def test_recover_settles_deploying_that_reached_quantconnect(world: World) -> None:
    request = world.request()
    _crash_after(world, request.id, send=True)
    deployer = world.deployer()
    assert deployer.recover() == [request.id]
    eventually(lambda: world.store.get_request(request.id).status is S.LIVE, timeout=10)  # type: ignore[union-attr]
    settled = world.store.get_request(request.id)
    assert settled is not None and settled.status is S.LIVE and settled.owner is None
    assert settled.deploy_id == world.qc.deployments(request.project_id)[0].deploy_id
    assert len(world.qc.calls_to("live/create")) == 1
    assert world.store.get_deployment(request.id) is not None


def test_deploying_without_a_deployment_fails_only_after_the_settle_window(world: World) -> None:
    request = world.request()
    _crash_after(world, request.id, send=False)
    deployer = world.deployer()

    waiting = deployer.deploy(request.id)
    assert waiting is not None and waiting.status is S.DEPLOYING and waiting.next_check_at is not None
    assert world.store.open_request_for_project(request.project_id) is not None  # still locked

    world.clock.advance(deployer.stages.settle_window.total_seconds() - 60)
    assert deployer.settle(request.id).status is S.DEPLOYING  # type: ignore[union-attr]
    world.clock.advance(61)
    settled = deployer.settle(request.id)

    assert settled is not None and settled.status is S.FAILED
    assert "nothing was deployed" in settled.errors[0] and "safe to request it again" in settled.errors[0]
    assert world.qc.calls_to("live/create") == []
    assert world.store.open_request_for_project(request.project_id) is None


def test_settling_goes_on_while_quantconnect_is_down(world: World) -> None:
    request = world.request()
    _crash_after(world, request.id, send=True)
    # Two settle checks (one retry each) fail, the third answers.
    world.qc.fail("live/read", status=502, times=4)
    deployer = world.deployer()
    for _ in range(2):
        waiting = deployer.deploy(request.id)
        assert waiting is not None and waiting.status is S.DEPLOYING
        assert "could not be asked" in (waiting.settle_note or "")
    assert deployer.deploy(request.id).status is S.LIVE  # type: ignore[union-attr]


def test_no_secret_reaches_messages_errors_or_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ok = world.request(project="Fine")
    refused = world.request(project="Refused")
    world.qc.refuse("live/create", ["Invalid brokerage credentials"])
    deployer = world.deployer()
    deployer.deploy(refused.id)
    deployer.deploy(ok.id)
    text = world.notifier.all_text() + caplog.text
    text += "".join(str(e.detail) for e in world.store.events())
    text += "".join(" ".join(r.errors) for r in world.store.list_requests())
    assert leaked_secrets(example_secret_values(), text) == []
