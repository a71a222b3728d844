"""The deploy state machine under real-world timing: each defect of issue 10, reproduced and fixed.

Replicas are separate stores (own replica ids and leases) on one SQLite database, each with its own deployer,
against the fake QuantConnect over HTTP. Time for leases and settle windows is a settable clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.recovery import Recovery
from bot.store import RequestStatus
from tests.support.waiting import eventually
from tests.support.world import World, make_client, make_world

S = RequestStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def actions(world: World, request_id: str) -> list[str]:
    return [event.action for event in world.store.events(request_id=request_id)]


def locked_by(world: World, project_id: int) -> str | None:
    holder = world.store.open_request_for_project(project_id)
    return None if holder is None else holder.id


def test_a_replica_starting_during_live_create_leaves_the_request_to_its_owner(world: World) -> None:
    """Defect 1: a second replica's start-up recovery used to fail a request whose create was in flight."""
    request = world.request()
    world.qc.delay("live/create", 1.0)
    owner = world.deployer()
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(owner.deploy(request.id)))
    worker.start()
    eventually(lambda: world.store.get_request(request.id).status is S.DEPLOYING, timeout=10)  # type: ignore[union-attr]

    starting = world.deployer(store=world.replica("replica-starting"))
    assert starting.resume() == []  # the owner is alive: nothing to take over
    assert world.store.get_request(request.id).status is S.DEPLOYING  # type: ignore[union-attr]

    worker.join(10)
    done = world.store.get_request(request.id)
    assert done is not None and done.status is S.LIVE
    assert "deploy_failed" not in actions(world, request.id)
    assert len(world.qc.calls_to("live/create")) == 1


def test_a_replica_taking_over_a_create_in_flight_waits_for_quantconnect(world: World) -> None:
    """Defect 1, the owner dies mid-create: the successor settles through live/read and never fails it."""
    request = world.request()
    dying = world.replica("replica-dying", lease_seconds=20)
    world.qc.hold("live/create")  # QuantConnect acts on it only when released
    impatient = make_client(world.qc, timeout=0.3)
    try:
        world.deployer(store=dying, qc=impatient).deploy(request.id)
    finally:
        impatient.close()
    world.clock.advance(30)  # the dying replica stopped beating
    successor = world.deployer(store=world.replica("replica-successor"))

    early = successor.deploy(request.id)  # QuantConnect does not show it yet
    assert early is not None and early.status is S.DEPLOYING and early.owner == "replica-successor"
    assert locked_by(world, request.project_id) == request.id

    world.qc.release_held()
    world.clock.advance(5)
    done = successor.deploy(request.id)
    assert done is not None and done.status is S.LIVE
    assert "deploy_failed" not in actions(world, request.id)
    assert len(world.qc.calls_to("live/create")) == 1


def test_a_failure_of_an_earlier_stage_never_overwrites_deploying(world: World) -> None:
    """Defect 2: a late compile/node failure (another worker's) used to fail a request already deploying."""
    request = world.request()
    world.qc.drop_connection("live/create", create_first=False)
    deployer = world.deployer()
    settling = deployer.deploy(request.id)
    assert settling is not None and settling.is_settling

    from bot.deploy_stages import Failure

    late = deployer.stages.fail(request.id, S.COMPILING, Failure("No live node", ["all busy"]), "node")
    assert late is not None and late.status is S.DEPLOYING
    other = world.deployer(store=world.replica("replica-other"))
    assert (
        other.stages.fail(request.id, S.COMPILING, Failure("Build failed", ["x"]), "compile").status
        is S.DEPLOYING
    )  # type: ignore[union-attr]
    assert "deploy_failed" not in actions(world, request.id)


def test_a_database_error_after_create_keeps_the_request_deploying_until_settled(world: World) -> None:
    """Defect 2: a database error after live/create returned used to fail a request that went live."""
    request = world.request()
    real = world.store.start_deployment
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    world.store.start_deployment = flaky  # type: ignore[method-assign]
    deployer = world.deployer()
    future = deployer.submit(request.id)
    assert future is not None
    future.result(10)
    waiting = world.store.get_request(request.id)
    assert waiting is not None and waiting.status is S.DEPLOYING and waiting.next_check_at is not None
    assert len(world.qc.deployments(request.project_id)) == 1

    world.clock.advance(10)
    assert deployer.resume() == [request.id]
    eventually(lambda: world.store.get_request(request.id).status is S.LIVE, timeout=10)  # type: ignore[union-attr]
    assert "deploy_failed" not in actions(world, request.id)
    assert len(world.qc.calls_to("live/create")) == 1


def test_a_create_that_appears_long_after_its_timeout_goes_live(world: World) -> None:
    """Defect 3: QuantConnect acting after the client gave up used to leave a failed, unwatched request."""
    request = world.request()
    world.qc.hold("live/create")  # QuantConnect sits on the create until released, long after the timeout
    impatient = make_client(world.qc, timeout=0.2)
    try:
        deployer = world.deployer(qc=impatient)
        first = deployer.deploy(request.id)
        assert first is not None and first.is_settling
        for _ in range(5):  # five minutes of checks: QuantConnect shows nothing yet
            world.clock.advance(60)
            assert deployer.settle(request.id).status is S.DEPLOYING  # type: ignore[union-attr]
        world.qc.release_held()
        world.clock.advance(60)
        done = deployer.settle(request.id)
    finally:
        impatient.close()
    assert done is not None and done.status is S.LIVE and done.deploy_id
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.lease_owner == world.store.replica_id  # watched
    assert locked_by(world, request.project_id) == request.id
    assert len(world.qc.calls_to("live/create")) == 1


def test_a_request_whose_worker_died_is_resumed_by_recovery(world: World) -> None:
    """Defect 4: a request left compiling by a dead worker used to wait for some process to restart."""
    request = world.request()
    dead = world.replica("replica-dead", lease_seconds=20)
    assert dead.claim_request(request.id, world.clock()) is not None
    dead.transition(
        request.id,
        from_statuses={S.APPROVED},
        to=S.COMPILING,
        actor="bot",
        action="compile_started",
        now=world.clock(),
        owned=True,
    )
    survivor = world.deployer()
    recovery = Recovery(survivor, interval=0.05, heal_interval=3600)
    assert recovery.run_pass() == []  # the dead replica's lease still lives
    world.clock.advance(21)
    recovery.start()
    try:
        eventually(lambda: world.store.get_request(request.id).status is S.LIVE, timeout=10)  # type: ignore[union-attr]
    finally:
        recovery.stop()
    assert len(world.qc.calls_to("live/create")) == 1


def test_a_failure_the_database_refused_is_recorded_on_the_next_round(world: World) -> None:
    """Defect 4: a database outage while recording a failure used to strand the request holding its lock."""
    request = world.request()
    world.qc.build_error(request.project_id, ["Build Error: CS1002"], times=2)
    real = world.store.transition
    refused = {"n": 0}

    def down_for_failures(*args: object, **kwargs: object) -> object:
        if kwargs.get("to") is S.FAILED and refused["n"] < 2:
            refused["n"] += 1
            raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    world.store.transition = down_for_failures  # type: ignore[method-assign]
    deployer = world.deployer()
    deployer.submit(request.id).result(10)  # type: ignore[union-attr]
    stuck = world.store.get_request(request.id)
    assert stuck is not None and stuck.status is S.COMPILING and stuck.owner == world.store.replica_id

    assert deployer.resume() == [request.id]  # ours, and no worker runs it
    eventually(lambda: world.store.get_request(request.id).status is S.FAILED, timeout=10)  # type: ignore[union-attr]
    assert locked_by(world, request.project_id) is None
    assert world.qc.calls_to("live/create") == []


def test_a_stopping_replica_hands_a_compile_back(world: World) -> None:
    request = world.request()
    world.qc.compile_reads = 10_000  # the build never finishes while we watch
    deployer = world.deployer()
    deployer.submit(request.id)
    eventually(lambda: world.store.get_request(request.id).status is S.COMPILING, timeout=10)  # type: ignore[union-attr]
    deployer.shutdown(wait=True, timeout=10)
    handed = world.store.get_request(request.id)
    assert handed is not None and handed.status is S.COMPILING and handed.owner is None

    world.qc.compile_reads = 1
    successor = world.deployer(store=world.replica("replica-next"))
    assert successor.resume() == [request.id]  # at once: no lease to wait for
    eventually(lambda: world.store.get_request(request.id).status is S.LIVE, timeout=10)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["Running", "InQueue"])
def test_a_failed_request_quantconnect_shows_running_heals_to_live(world: World, status: str) -> None:
    """Self-healing: a deployment that shows up after the settle window brings its request back to live.

    Still queued counts too: it is on its way to trading and needs its Stop button (the model test found a
    late deployment that stayed InQueue and was never healed while healing only listed Running ones).
    """
    request = world.request()
    world.qc.drop_connection("live/create", create_first=False)
    deployer = world.deployer()
    deployer.deploy(request.id)
    world.clock.advance(deployer.stages.settle_window.total_seconds() + 1)
    failed = deployer.settle(request.id)
    assert failed is not None and failed.status is S.FAILED
    assert locked_by(world, request.project_id) is None
    assert deployer.heal() == []

    # QuantConnect shows a deployment after all (here: created late, as a stuck queue would).
    compile_id = world.client.create_compile(request.project_id).compile_id
    world.client.wait_for_compile(request.project_id, compile_id, first_delay=0.01)
    body = world.qc.calls_to("live/create")[0].body | {"compileId": compile_id}
    world.client.create_live(body)
    world.qc.set_status(request.project_id, status)

    assert deployer.heal() == [request.id]
    healed = world.store.get_request(request.id)
    assert healed is not None and healed.status is S.LIVE
    assert healed.deploy_id == world.qc.deployments(request.project_id)[-1].deploy_id
    assert locked_by(world, request.project_id) == request.id
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.is_active
    assert any(f"({status}) after all" in text for text in world.notifier.texts(request.id))
    assert deployer.heal() == []  # once


def test_a_request_the_watcher_failed_heals_when_its_deployment_runs_again(world: World) -> None:
    from bot.watcher import Watcher

    request = world.request()
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is S.LIVE
    watcher = Watcher(world.store, world.client, world.notifier, world.settings, world.clock)
    world.qc.set_status(request.project_id, "RuntimeError", "Boom")
    watcher.run_once(world.clock.advance(1))
    assert world.store.get_request(request.id).status is S.FAILED  # type: ignore[union-attr]

    world.qc.set_status(request.project_id, "Running")  # QuantConnect restarted it (automatic redeploy)
    assert world.deployer().heal() == [request.id]
    assert world.store.get_request(request.id).status is S.LIVE  # type: ignore[union-attr]
    watcher.run_once(world.clock.advance(1))
    assert world.store.get_deployment(request.id).status == "Running"  # type: ignore[union-attr]
