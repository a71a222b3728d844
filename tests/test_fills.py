"""Following a running deployment's orders: batches, paging, open orders, outages, replicas and restarts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bot.blocks.common import MESSAGE_BLOCK_LIMIT, SECTION_TEXT_LIMIT
from bot.blocks.fills import MAX_LINES, fills_message
from bot.fills import FillFollower
from bot.quantconnect.orders import LiveOrder
from bot.read_budget import FILLS, ReadBudget
from bot.store import DeployRequest, RequestStatus, Store
from bot.watcher import Watcher
from tests.fakes.fake_live_orders import CANCELED, FILLED, SUBMITTED
from tests.fakes.qc_schema import validate_against
from tests.support.fills import counted, fill_messages, listed_ids
from tests.support.outbox import outbox_messages
from tests.support.world import World, make_world

INTERVAL = 60.0


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    """A world on each database backend (the due query orders by need in SQL)."""
    yield from make_world(store_url=store_url)


def running(world: World, project: str = "Momentum") -> DeployRequest:
    request = world.request(project=project)
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is RequestStatus.LIVE
    watcher = Watcher(world.store, world.client, world.notifier, world.settings, world.clock)
    for _ in range(3):
        watcher.run_once(world.clock.advance(1))
    deployment = world.store.get_deployment(request.id)
    assert deployment is not None and deployment.status == "Running"
    return done


def follower(world: World, store: Store | None = None) -> FillFollower:
    return FillFollower(store or world.store, world.client, world.clock, every_seconds=INTERVAL)


def messages(world: World, request_id: str) -> list[str]:
    return fill_messages(m.payload for m in outbox_messages(world.store, request_id) if m.kind == "thread")


def test_fills_are_batched_one_message_per_interval(world: World) -> None:
    request = running(world)
    fills = follower(world)
    assert fills.run_once(world.clock()) == 1
    assert messages(world, request.id) == []  # no orders yet: nothing said
    world.qc.orders.add(request.project_id, 3, symbol="SPY")
    world.qc.orders.add(request.project_id, 2, symbol="QQQ", quantity=-5)
    assert fills.run_once(world.clock.advance(1)) == 0  # not due before the interval
    assert fills.run_once(world.clock.advance(INTERVAL)) == 1
    [first] = messages(world, request.id)
    assert listed_ids([first]) == [1, 2, 3, 4, 5]
    assert "5 fills for Momentum" in first and "Sell 5 *QQQ* @ 412.5 USD · Market · Filled" in first
    world.qc.orders.add(request.project_id, 1)
    fills.run_once(world.clock.advance(INTERVAL))
    fills.run_once(world.clock.advance(INTERVAL))  # nothing new: no message
    assert listed_ids(messages(world, request.id)) == [1, 2, 3, 4, 5, 6]
    cursor = world.store.get_fill_cursor(request.id)
    assert cursor is not None and cursor.next_index == 6 and cursor.reported == 6
    assert [e.action for e in world.store.events(request_id=request.id)].count("orders_reported") == 2


def test_a_quiet_deployment_is_read_less_often_until_an_order_comes(world: World) -> None:
    request = running(world)
    fills = FillFollower(world.store, world.client, world.clock, every_seconds=INTERVAL, idle_max_seconds=240)
    reads_at = []
    for _ in range(12):
        before = len(world.qc.calls_to("live/orders/read"))
        fills.run_once(world.clock.advance(INTERVAL))
        if len(world.qc.calls_to("live/orders/read")) > before:
            reads_at.append(world.clock())
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(reads_at)]
    assert gaps == [120.0, 240.0, 240.0]
    world.qc.orders.add(request.project_id, 1)
    fills.run_once(world.clock.advance(240))
    assert listed_ids(messages(world, request.id)) == [1]
    assert world.store.get_fill_cursor(request.id).idle == 0  # type: ignore[union-attr]


def test_a_burst_is_paged_and_summarised_within_slacks_limits(world: World) -> None:
    request = running(world)
    world.qc.orders.add(request.project_id, 2500)
    fills = follower(world)
    fills.run_once(world.clock())
    pages = [c.body for c in world.qc.calls_to("live/orders/read")]
    assert [(p["start"], p["end"]) for p in pages] == [(0, 1000), (1000, 2000), (2000, 3000)]
    [message] = messages(world, request.id)
    assert counted([message]) == 2500 and f"…and {2500 - MAX_LINES} more" in message
    assert listed_ids([message]) == list(range(1, MAX_LINES + 1))
    assert world.store.get_fill_cursor(request.id).next_index == 2500  # type: ignore[union-attr]


def test_an_open_order_is_reported_once_when_it_fills(world: World) -> None:
    request = running(world)
    [open_index] = world.qc.orders.add(request.project_id, 1, status=SUBMITTED)
    world.qc.orders.add(request.project_id, 2)
    fills = follower(world)
    fills.run_once(world.clock())
    assert listed_ids(messages(world, request.id)) == [2, 3]
    world.qc.orders.set_status(request.project_id, open_index, FILLED)
    [canceled] = world.qc.orders.add(request.project_id, 1, status=SUBMITTED)
    fills.run_once(world.clock.advance(INTERVAL))
    world.qc.orders.set_status(request.project_id, canceled, CANCELED)
    fills.run_once(world.clock.advance(INTERVAL))
    fills.run_once(world.clock.advance(INTERVAL))
    texts = messages(world, request.id)
    assert listed_ids(texts) == [2, 3, 1, 4]
    assert "Canceled" in texts[-1] and "0 fills, 1 canceled" in texts[-1]


def test_an_outage_backs_off_then_fills_the_gap_once(world: World) -> None:
    request = running(world)
    fills = follower(world)
    world.qc.orders.add(request.project_id, 4)
    world.qc.fail("live/orders/read", status=503, times=6)  # the client retries once per read
    fills.run_once(world.clock())
    fills.run_once(world.clock.advance(INTERVAL * 2 + 1))
    assert messages(world, request.id) == []
    cursor = world.store.get_fill_cursor(request.id)
    assert cursor is not None and cursor.failures == 2 and cursor.next_index == 0
    # Backed off: not due one interval later.
    assert fills.run_once(world.clock.advance(INTERVAL)) == 0
    world.qc.orders.add(request.project_id, 2)
    world.qc.clear_faults()
    fills.run_once(world.clock.advance(INTERVAL * 8))
    assert listed_ids(messages(world, request.id)) == [1, 2, 3, 4, 5, 6]


def test_a_loading_snapshot_is_read_again_later(world: World) -> None:
    request = running(world)
    world.qc.orders.add(request.project_id, 2)
    world.qc.orders.loading(request.project_id)
    fills = follower(world)
    fills.run_once(world.clock())
    assert messages(world, request.id) == []
    fills.run_once(world.clock.advance(INTERVAL))
    assert listed_ids(messages(world, request.id)) == [1, 2]


def test_a_stale_cursor_or_another_replicas_deployment_posts_nothing(world: World) -> None:
    request = running(world)
    world.qc.orders.add(request.project_id, 3)
    fills = follower(world)
    [stale] = world.store.due_fill_cursors(world.clock())
    assert fills.follow(stale, world.clock()) is True
    # The same read again (a second thread, a late retry): the compare-and-set refuses it.
    assert fills.follow(stale, world.clock()) is False
    assert listed_ids(messages(world, request.id)) == [1, 2, 3]
    # Another replica does not follow a deployment it does not watch.
    other = world.replica("replica-other")
    assert other.due_fill_cursors(world.clock.advance(INTERVAL)) == []
    world.qc.orders.add(request.project_id, 1)
    [cursor] = world.store.due_fill_cursors(world.clock())
    assert follower(world, other).follow(cursor, world.clock()) is False
    assert listed_ids(messages(world, request.id)) == [1, 2, 3]


def test_the_message_escapes_quantconnect_text_and_stays_within_limits() -> None:
    orders = [
        LiveOrder.model_validate(
            {"id": i, "symbol": {"value": "<!channel> & co"}, "quantity": 1, "price": 1.5, "status": 3}
        )
        for i in range(1, 1001)
    ]
    text, blocks = fills_message("Alpha <b>", orders, [(7, 8)])
    assert "<!channel>" not in str(blocks) and "&lt;!channel&gt; &amp; co" in str(blocks)
    assert "Alpha &lt;b&gt;" in text
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    assert all(len(b.get("text", {}).get("text", "")) <= SECTION_TEXT_LIMIT for b in blocks)
    assert counted(fill_messages([{"text": text, "blocks": blocks}])) == 1000


def test_the_fake_answers_as_the_openapi_file_says(world: World) -> None:
    project_id = world.qc.add_project("Spec")
    world.qc.orders.add(project_id, 2)
    answer = world.qc.orders.read({"projectId": project_id, "start": 0, "end": 100})
    assert validate_against("LiveOrdersResponse", {**answer, "success": True, "errors": []}) == []
    page = world.client.read_live_orders(project_id, 0, 100)
    assert [order.id for order in page.orders] == [1, 2] and page.orders[0].ticker == "SPY"


# -- reads on evidence: the runtime statistics' volume, and the QuantConnect read budget -----------------


def note_statistics(world: World, request_id: str, watcher: Watcher) -> None:
    """One live/read of the deployment, as the watcher makes it (it notes the volume it shows)."""
    deployment = world.store.get_deployment(request_id)
    assert deployment is not None
    watcher.poll(deployment, world.clock())


def orders_reads(world: World) -> int:
    return len(world.qc.calls_to("live/orders/read"))


def trading_hourly(world: World) -> tuple[DeployRequest, Watcher, FillFollower]:
    """A running deployment whose statistics show a volume, its watcher, and a follower that reads a quiet
    deployment hourly."""
    request = running(world)
    world.qc.runtime_statistics[request.project_id] = {"Equity": "$100,000.00", "Volume": "$0.00"}
    watcher = Watcher(world.store, world.client, world.notifier, world.settings, world.clock)
    fills = FillFollower(
        world.store, world.client, world.clock, every_seconds=INTERVAL, idle_max_seconds=3600
    )
    return request, watcher, fills


def test_a_deployment_whose_volume_stays_is_quiet_until_it_moves(world: World) -> None:
    request, watcher, fills = trading_hourly(world)
    note_statistics(world, request.id, watcher)
    fills.run_once(world.clock())
    # Reads go on (doubling) until the snapshot is surely newer than the volume, then stop.
    for _ in range(20):
        fills.run_once(world.clock.advance(INTERVAL))
        note_statistics(world, request.id, watcher)
    cursor = world.store.get_fill_cursor(request.id)
    assert cursor is not None and cursor.next_read_at is None and cursor.volume == "$0.00"
    quiet = orders_reads(world)
    for _ in range(120):  # two hours of passes and statistics reads: the volume does not move
        fills.run_once(world.clock.advance(INTERVAL))
        note_statistics(world, request.id, watcher)
    assert orders_reads(world) - quiet == 2  # a quiet deployment is read once per FILLS_IDLE_MAX_SECONDS
    # Three fills move the volume: the next statistics read makes the orders due at once.
    world.qc.orders.add(request.project_id, 3)
    note_statistics(world, request.id, watcher)
    assert fills.run_once(world.clock.advance(1)) == 1
    assert listed_ids(messages(world, request.id)) == [1, 2, 3]
    assert world.store.get_fill_cursor(request.id).volume == "$12,375.00"  # type: ignore[union-attr]


def test_a_volume_ahead_of_the_orders_snapshot_keeps_the_reads_going_until_it_shows(world: World) -> None:
    request, watcher, fills = trading_hourly(world)
    note_statistics(world, request.id, watcher)
    for _ in range(20):
        fills.run_once(world.clock.advance(INTERVAL))
    assert world.store.get_fill_cursor(request.id).next_read_at is None  # type: ignore[union-attr]
    # The statistics show a fill that QuantConnect's orders snapshot (refreshed every ~10 minutes) lacks.
    world.qc.runtime_statistics[request.project_id]["Volume"] = "$4,125.00"
    note_statistics(world, request.id, watcher)
    at_evidence = orders_reads(world)
    for _ in range(7):
        fills.run_once(world.clock.advance(INTERVAL))
    assert messages(world, request.id) == []
    cursor = world.store.get_fill_cursor(request.id)
    assert cursor is not None and cursor.next_read_at is not None  # still read: the snapshot may be old
    world.qc.orders.add(request.project_id, 1)  # the snapshot catches up
    for _ in range(6):
        fills.run_once(world.clock.advance(INTERVAL))
    assert listed_ids(messages(world, request.id)) == [1]
    for _ in range(30):
        fills.run_once(world.clock.advance(INTERVAL))
    assert world.store.get_fill_cursor(request.id).next_read_at is None  # type: ignore[union-attr]
    assert listed_ids(messages(world, request.id)) == [1]
    # At once, once the snapshot surely shows the move (11 minutes on), and one more after the report.
    assert orders_reads(world) - at_evidence == 3


def test_a_volume_noted_during_a_read_leaves_that_read_without_effect(world: World) -> None:
    request = running(world)
    fills = follower(world)
    world.qc.orders.add(request.project_id, 2)
    [cursor] = world.store.due_fill_cursors(world.clock())
    assert world.store.note_volume(request.id, "$8,250.00", world.clock()) is True
    # The read began before the volume was noted: its cursor is stale, nothing is said or moved.
    assert fills.follow(cursor, world.clock()) is False
    assert messages(world, request.id) == []
    assert fills.run_once(world.clock.advance(1)) == 1
    assert listed_ids(messages(world, request.id)) == [1, 2]
    assert world.store.note_volume(request.id, "$8,250.00", world.clock()) is True  # unchanged: no write
    assert world.store.get_fill_cursor(request.id).volume == "$8,250.00"  # type: ignore[union-attr]


def test_under_a_tight_budget_reads_go_where_the_volume_moved(world: World) -> None:
    requests = [running(world, project=f"Quiet {index}") for index in range(6)]
    watcher = Watcher(world.store, world.client, world.notifier, world.settings, world.clock)
    for request in requests:
        world.qc.runtime_statistics[request.project_id] = {"Equity": "$100,000.00", "Volume": "$0.00"}
        note_statistics(world, request.id, watcher)
    fills = FillFollower(world.store, world.client, world.clock, every_seconds=INTERVAL, idle_max_seconds=300)
    for _ in range(40):  # every deployment read until quiet (no budget yet)
        fills.run_once(world.clock.advance(INTERVAL))
    assert all(world.store.get_fill_cursor(r.id).next_read_at is None for r in requests)  # type: ignore[union-attr]
    # Now one read a minute for fills, and all six quiet ones overdue: the one whose volume moved goes first.
    fills.budget = ReadBudget(2).share(FILLS)
    traded = requests[4]
    world.qc.orders.add(traded.project_id, 2)
    note_statistics(world, traded.id, watcher)
    read_projects = []
    for _ in range(150):
        before = len(world.qc.calls_to("live/orders/read"))
        fills.run_once(world.clock.advance(1))
        read_projects += [c.body["projectId"] for c in world.qc.calls_to("live/orders/read")[before:]]
    assert len(read_projects) <= 150 / 30  # 2 a minute, the statistics' unspent half included
    assert read_projects[0] == traded.project_id
    assert listed_ids(messages(world, traded.id)) == [1, 2]
    # What is left of the budget reads the quiet ones in turn, each once.
    quiet = [project for project in read_projects if project != traded.project_id]
    assert len(quiet) == len(set(quiet)) >= 1


def test_orders_reads_stay_within_the_read_budget(world: World) -> None:
    requests = [running(world, project=f"Budget {index}") for index in range(10)]
    for request in requests:
        world.qc.orders.add(request.project_id, 1)
    budget = ReadBudget(3).share(FILLS)
    fills = FillFollower(world.store, world.client, world.clock, every_seconds=INTERVAL, budget=budget)
    start = orders_reads(world)
    for _ in range(130):  # 130 one-second passes
        fills.run_once(world.clock.advance(1))
    # Nothing at once; half of 3 a minute for 129 s, and the statistics' unspent half flowing over once it
    # is full (after its 1.5, a minute in): 3.2 + 1.7 calls' worth, 4 whole reads.
    assert orders_reads(world) - start == 4
    reported = [r for r in requests if messages(world, r.id)]
    assert len(reported) == 4  # each read reported its deployment's fill, once
    for _ in range(240):
        fills.run_once(world.clock.advance(1))
    assert all(listed_ids(messages(world, r.id)) == [1] for r in requests)
