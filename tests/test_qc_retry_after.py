"""The QuantConnect client waits out Retry-After on 429 and 503, jitters its backoff, reads live/list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.quantconnect import QuantConnectClient
from bot.quantconnect.errors import LiveCreateUncertain, Unavailable
from bot.quantconnect.live_list import LiveSummary
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.clocks import SleepingClock
from tests.support.qc_bodies import ready_body


@pytest.fixture
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        yield fake


def client_for(qc: FakeQuantConnect, clock: SleepingClock, **kwargs: object) -> QuantConnectClient:
    return QuantConnectClient(
        qc.user_id,
        qc.api_token,
        base_url=qc.base_url,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_are_waited_out_before_the_retry(qc: FakeQuantConnect, status: int) -> None:
    project_id = qc.add_project("Momentum")
    clock = SleepingClock()
    qc.fail("live/read", status=status, retry_after=7)
    with client_for(qc, clock) as client:
        assert client.read_live(project_id).status == "Undefined"
    assert len(qc.calls_to("live/read")) == 2
    (slept,) = clock.sleeps
    # Never sooner than QuantConnect asked; a little later at random, so replicas told the same spread out.
    assert 7 <= slept <= 7 + client.backoff_base


def test_retry_after_as_an_http_date_is_honoured(qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("Momentum")
    clock = SleepingClock()
    when = datetime.fromtimestamp(int(clock.now) + 12, UTC)
    qc.fail("projects/read", status=503, retry_after=format_datetime(when, usegmt=True))
    with client_for(qc, clock, rand=lambda: 0.0) as client:
        assert [p.project_id for p in client.read_projects()] == [project_id]
    (slept,) = clock.sleeps
    assert 11 <= slept <= 12


def test_a_retry_after_longer_than_the_cap_is_left_to_the_caller(qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("Momentum")
    clock = SleepingClock()
    qc.fail("live/list", status=429, retry_after=300)
    with client_for(qc, clock, max_retry_after=30) as client, pytest.raises(Unavailable) as caught:
        client.live_summaries()
    # No worker thread sleeps five minutes inside a call: the caller gets the wait and schedules it.
    assert caught.value.retry_after == 300
    assert clock.sleeps == [] and len(qc.calls_to("live/list")) == 1
    assert project_id


def test_backoff_without_retry_after_is_exponential_with_jitter(qc: FakeQuantConnect) -> None:
    qc.add_project("Momentum")
    draws = iter([0.0, 1.0, 0.5])
    clock = SleepingClock()
    qc.fail("projects/read", status=500, times=3)
    with client_for(qc, clock, rand=lambda: next(draws)) as client:
        client.read_projects()
    # 0.5, 1, 2 s, each plus up to half again at random (here: nothing, half, a quarter).
    assert clock.sleeps == [0.5, 1.5, 2.5]


def test_two_clients_back_off_apart(qc: FakeQuantConnect) -> None:
    qc.add_project("Momentum")
    delays = []
    for seed in (0.1, 0.9):
        clock = SleepingClock()
        qc.fail("projects/read", status=503, times=1)
        with client_for(qc, clock, rand=lambda seed=seed: seed) as client:
            client.read_projects()
        delays.append(clock.sleeps[0])
    assert delays[0] != delays[1]


def test_live_create_is_never_retried_even_with_retry_after(qc: FakeQuantConnect) -> None:
    project_id = qc.add_project("Momentum")
    clock = SleepingClock()
    with client_for(qc, clock) as client:
        body = ready_body(client, project_id)
        qc.fail("live/create", status=503, retry_after=1)
        with pytest.raises(LiveCreateUncertain):
            client.create_live(body)
    assert len(qc.calls_to("live/create")) == 1


def test_live_summaries_read_every_deployment_in_one_call(qc: FakeQuantConnect) -> None:
    clock = SleepingClock()
    first, second = qc.add_project("Alpha"), qc.add_project("Beta")
    with client_for(qc, clock) as client:
        for project_id in (first, second):
            client.create_live(ready_body(client, project_id))
        qc.set_status(first, "Running")
        qc.set_equity(first, 1234.5)
        qc.set_status(second, "RuntimeError", "Division by zero")
        qc.clear_calls()
        everything = {item.project_id: item for item in client.live_summaries()}
        running = client.live_summaries("Running")
    assert len(qc.calls_to("live/list")) == 2
    assert [call.body for call in qc.calls_to("live/list")] == [{}, {"status": "Running"}]
    assert isinstance(everything[first], LiveSummary)
    assert everything[first].status == "Running" and everything[first].equity == 1234.5
    assert everything[second].status == "RuntimeError" and everything[second].error == "Division by zero"
    assert [item.project_id for item in running] == [first]


def test_unreadable_list_items_are_skipped_not_fatal_and_a_missing_deploy_id_is_kept() -> None:
    from bot.quantconnect.live_list import parse_live_list

    payload = {
        "live": [
            {"projectId": 1, "deployId": "L-1", "status": "Running", "equity": "12.5", "error": ""},
            {"projectId": "2", "deployId": "L-2", "status": "Running"},
            {"projectId": 3, "deployId": "", "status": "Running"},
            {"projectId": 4, "deployId": "L-4", "status": "", "equity": "NaN"},
            "junk",
        ]
    }
    assert parse_live_list(payload) == [
        LiveSummary(1, "L-1", "Running", None, 12.5),
        # Kept for stop-all (it stops by project); the watcher never matches it.
        LiveSummary(3, None, "Running", None, None),
        LiveSummary(4, "L-4", "Undefined", None, None),
    ]


def test_retry_after_in_the_past_means_at_once(qc: FakeQuantConnect) -> None:
    qc.add_project("Momentum")
    clock = SleepingClock()
    past = datetime.fromtimestamp(int(clock.now), UTC) - timedelta(minutes=5)
    qc.fail("projects/read", status=503, retry_after=format_datetime(past, usegmt=True))
    with client_for(qc, clock, rand=lambda: 0.0) as client:
        client.read_projects()
    assert clock.sleeps == [0.0]
