"""LiveOps: stop / liquidate with policy and audit, project resolution, /qc status, and the reply builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.blocks.common import MESSAGE_BLOCK_LIMIT
from bot.blocks.live import liquidate_confirm_message, status_message, status_row_text
from bot.ids import Action
from bot.live_ops import LiveOps, UnknownProject
from bot.live_report import LiveRow, LiveTarget, StatusReport
from bot.policy import Policy
from bot.store import DeployRequest, RequestStatus
from bot.watcher import Watcher
from tests.support.world import World, make_client, make_world

S = RequestStatus
APPROVER = "UAPPROVER"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def ops(world: World, qc: object | None = None) -> LiveOps:
    # No approver groups configured: the policy never needs Slack.
    policy = Policy(world.settings.policy, None, world.clock)  # type: ignore[arg-type]
    return LiveOps(world.store, qc or world.client, policy, world.notifier, world.clock)  # type: ignore[arg-type]


def running(world: World, project: str = "Momentum") -> DeployRequest:
    request = world.request(project=project)
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is S.LIVE
    Watcher(world.store, world.client, world.notifier, world.settings, world.clock).run_once(
        world.clock.advance(1)
    )
    return done


def test_approver_stops_by_request_id_and_the_watcher_reports_stopped(world: World) -> None:
    request = running(world)
    result = ops(world).stop(request.id, APPROVER)
    assert result.ok, result.message
    assert "Stopping Momentum" in result.message
    assert world.qc.deployments(request.project_id)[-1].status == "Stopped"
    event = world.store.events(request_id=request.id)[-1]
    assert (event.actor, event.action) == (APPROVER, "stop")
    assert any(f"<@{APPROVER}> stopped" in t for t in world.notifier.texts(request.id))
    # The stop asked for a poll now, so the card shows Stopped on the watcher's next pass.
    Watcher(world.store, world.client, world.notifier, world.settings, world.clock).run_once(world.clock())
    assert world.store.get_request(request.id).status is S.ENDED  # type: ignore[union-attr]


def test_non_approver_is_refused_and_nothing_is_sent(world: World) -> None:
    request = running(world)
    result = ops(world).stop(request.id, "USOMEONE")
    assert not result.ok and "approvers" in result.message
    assert world.qc.calls_to("live/update/stop") == []
    assert world.store.events()[-1].action == "stop_refused"
    assert ops(world).liquidate("Momentum", "USOMEONE").ok is False
    assert world.qc.calls_to("live/update/liquidate") == []


def test_liquidate_by_project_name_and_by_id(world: World) -> None:
    first = running(world, "Alpha One")
    second = running(world, "Beta")
    assert ops(world).liquidate("alpha one", APPROVER).ok
    assert world.qc.deployments(first.project_id)[-1].status == "Liquidated"
    assert ops(world).liquidate(str(second.project_id), APPROVER).ok
    assert world.qc.deployments(second.project_id)[-1].status == "Liquidated"
    assert [e.action for e in world.store.events(request_id=first.id)][-1] == "liquidate"


def test_project_known_only_to_quantconnect_is_found_by_name(world: World) -> None:
    project_id = world.qc.add_project("Outside Bot")
    target = ops(world).resolve("outside bot")
    assert (target.project_id, target.project_name, target.request) == (project_id, "Outside Bot", None)


def test_unknown_and_ambiguous_projects_are_explained(world: World) -> None:
    world.qc.add_project("Mean Reversion A")
    world.qc.add_project("Mean Reversion B")
    with pytest.raises(UnknownProject, match="can't find a project called 'Nope'"):
        ops(world).resolve("Nope")
    with pytest.raises(UnknownProject, match="matches several projects"):
        ops(world).resolve("Mean Reversion")
    result = ops(world).stop("Nope", APPROVER)
    assert not result.ok and "Nope" in result.message


def test_stopping_a_project_with_nothing_running_reports_quantconnect(world: World) -> None:
    world.qc.add_project("Idle")
    result = ops(world).stop("Idle", APPROVER)
    assert not result.ok and "no live algorithm running" in result.message
    check = ops(world).check("liquidate", "Idle", APPROVER)
    assert not check.ok and "Nothing runs on Idle" in check.message


def test_status_lists_running_algorithms_with_who_asked(world: World) -> None:
    request = running(world)
    for _ in range(3):  # walk the fake to Running
        world.client.read_live(request.project_id)
    report = ops(world).status()
    (row,) = report.rows
    assert (row.project_name, row.status, row.requester_id, row.request_id) == (
        "Momentum",
        "Running",
        "UREQ",
        request.id,
    )
    assert f"/project/{request.project_id}/live|live page>" in status_row_text(row)
    one = ops(world).status("Momentum")
    assert one.project is not None and one.rows[0].deploy_id == request.deploy_id


def test_status_falls_back_to_the_store_when_quantconnect_is_down(world: World) -> None:
    request = running(world)
    fragile = make_client(world.qc, max_retries=0)
    try:
        world.qc.fail("live/list", status=503)
        report = ops(world, fragile).status()
    finally:
        fragile.close()
    assert report.problems and "HTTP 503" in report.problems[0]
    assert [row.request_id for row in report.rows] == [request.id]


def test_status_message_fits_slack_limits() -> None:
    now = datetime.now(UTC)
    rows = [
        LiveRow(i, f"Project {i}", "Running", "InteractiveBrokers", now, "UREQ", f"r-{i}") for i in range(120)
    ]
    text, blocks = status_message(StatusReport(rows, ["QuantConnect is slow"]))
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    assert "120 project(s)" in text
    assert "more" in blocks[-1]["elements"][0]["text"]
    _, empty = status_message(StatusReport([]))
    assert "Nothing is running" in empty[-1]["text"]["text"]


def test_liquidate_confirmation_has_a_confirm_dialog(world: World) -> None:
    request = running(world)
    target = LiveTarget(request.project_id, request.project_name, world.store.get_request(request.id))
    _, blocks = liquidate_confirm_message(target, "Momentum is Running.")
    (button,) = blocks[-1]["elements"]
    assert button["action_id"] == Action.LIQUIDATE.value and button["value"] == request.id
    assert button["confirm"]["confirm"]["text"] == "Liquidate"
    outside = LiveTarget(4242, "Outside", None)
    _, blocks = liquidate_confirm_message(outside, "Outside is Running.")
    assert blocks[-1]["elements"][0]["value"] == "4242"
