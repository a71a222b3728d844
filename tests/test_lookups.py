"""Bounded look-ups: the worker pool, one load in flight per key, the catalog's negative cache, and the
project type-ahead against a hanging QuantConnect through the running bot."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.lookups import LOOKUP_THREADS, Deadline, DeadlineExceeded, Lookups, LookupsBusy, WorkerPool
from bot.projects import DEFAULT_FAILURE_TTL_SECONDS, ProjectCatalog, ProjectNotFound
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import QuantConnectError
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.bot import REQUESTER, running_bot
from tests.support.clocks import ManualClock
from tests.support.waiting import eventually


def pool_threads(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix + "-"))


# -- the pool ------------------------------------------------------------------------------------------


def test_pool_runs_on_at_most_its_workers_and_refuses_past_its_queue() -> None:
    pool = WorkerPool("bounded-test", workers=3, max_pending=5, idle_seconds=0.2)
    gate = threading.Event()
    futures = [pool.submit(gate.wait) for _ in range(5)]
    with pytest.raises(LookupsBusy, match="try again in a moment"):
        pool.submit(gate.wait)
    assert pool.thread_count == 3 and pool_threads("bounded-test") == 3
    gate.set()
    assert all(f.result(timeout=5) for f in futures)
    assert pool.submit(lambda: 42).result(timeout=5) == 42, "room again once work finished"
    # Idle workers end by themselves: nothing has to shut the pool down.
    eventually(lambda: pool_threads("bounded-test") == 0, timeout=5, what="idle workers to end")
    assert pool.thread_count == 0
    assert pool.submit(lambda: "again").result(timeout=5) == "again"


def test_work_whose_caller_gave_up_before_it_started_is_not_run() -> None:
    pool = WorkerPool("cancel-test", workers=1, max_pending=4, idle_seconds=0.2)
    gate = threading.Event()
    ran: list[str] = []
    blocker = pool.submit(gate.wait)
    queued = pool.submit(lambda: ran.append("late"))
    assert queued.cancel()
    gate.set()
    blocker.result(timeout=5)
    assert pool.submit(lambda: ran.append("next")).result(timeout=5) is None
    assert ran == ["next"]


def test_one_load_in_flight_per_key_and_waiters_keep_their_own_deadline() -> None:
    lookups = Lookups(WorkerPool("flight-test", workers=2, max_pending=8, idle_seconds=0.2))
    gate = threading.Event()
    loads: list[str] = []

    def load() -> str:
        loads.append("load")
        gate.wait(5)
        return "projects"

    first = lookups.start("projects", load)
    assert lookups.start("projects", load) is first
    with pytest.raises(DeadlineExceeded, match=r"QuantConnect did not answer within 0\.1 seconds"):
        lookups.run("projects", load, Deadline.after(0.1), "QuantConnect")
    gate.set()
    assert lookups.run("projects", load, Deadline.after(5), "QuantConnect") == "projects"
    assert loads == ["load"]
    eventually(lambda: not lookups.in_flight("projects"), timeout=5, what="the flight to land")
    assert lookups.run("projects", load, Deadline.after(5), "QuantConnect") == "projects"
    assert loads == ["load", "load"], "a landed load is not reused: caching is the catalog's business"


# -- the project catalog -------------------------------------------------------------------------------


@pytest.fixture
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        yield fake


@pytest.fixture
def client(qc: FakeQuantConnect) -> Iterator[QuantConnectClient]:
    with QuantConnectClient(
        qc.user_id, qc.api_token, base_url=qc.base_url, timeout=5, max_retries=0, sleep=lambda _: None
    ) as api:
        yield api


def test_a_cold_catalog_waits_for_one_shared_load_within_each_callers_deadline(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    qc.add_project("Momentum")
    qc.delay("projects/read", 1.0)
    catalog = ProjectCatalog(client, 60, ManualClock())
    for _ in range(5):
        with pytest.raises(DeadlineExceeded):
            catalog.search("mom", timeout=0.05)
    assert [p.name for p in catalog.search("mom", timeout=5)] == ["Momentum"]
    assert len(qc.calls_to("projects/read")) == 1


def test_a_failed_load_is_remembered_briefly_then_tried_again(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    qc.add_project("Momentum")
    clock = ManualClock()
    catalog = ProjectCatalog(client, 60, clock)
    qc.fail("projects/read", status=503)
    for _ in range(10):
        with pytest.raises(QuantConnectError, match="HTTP 503"):
            catalog.search("mom", timeout=5)
    assert len(qc.calls_to("projects/read")) == 1, "keystrokes within the failure TTL repeat nothing"
    clock.now += timedelta(seconds=DEFAULT_FAILURE_TTL_SECONDS)
    assert [p.name for p in catalog.search("mom", timeout=5)] == ["Momentum"]
    assert len(qc.calls_to("projects/read")) == 2


def test_odd_ids_are_names_not_crashes(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    qc.add_project("Momentum")
    catalog = ProjectCatalog(client, 60, ManualClock())
    for text in ("²", "①", "٣", "9" * 30, "-5", "0"):
        with pytest.raises(ProjectNotFound, match="No QuantConnect project is named"):
            catalog.find(text, timeout=5)
    assert all(call.body == {} for call in qc.calls_to("projects/read")), "no id read for odd digits"


# -- through the running bot ---------------------------------------------------------------------------

_NUMBERED = re.compile(r"[-_ ]?\d+$")


def _prefix(name: str) -> str:
    base = name.split(" (", 1)[0]
    return _NUMBERED.sub("", base)


def test_hundred_keystrokes_against_a_hanging_quantconnect_leave_a_bounded_number_of_threads(
    tmp_path: Path,
) -> None:
    with running_bot(tmp_path) as bot:
        bot.qc.add_project("Typeahead Target")
        bot.qc.delay("projects/read", 30, times=10)  # hangs; the client gives up after QC_TIMEOUT_SECONDS
        bot.sender.command("deploy", user_id=REQUESTER)
        view = bot.slack.wait_for("views.open").response["view"]
        before = Counter(_prefix(t.name) for t in threading.enumerate())
        peak: Counter[str] = Counter()
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                now = Counter(_prefix(t.name) for t in threading.enumerate())
                for name, count in now.items():
                    peak[name] = max(peak[name], count)
                sampling.wait(0.01)

        sampler = threading.Thread(target=sample, name="thread-sampler", daemon=True)
        sampler.start()

        def keystroke(index: int) -> int:
            typed = "typeahead target"[: 1 + index % 16]
            response = bot.sender.suggest("project_select", "project", typed, view, user_id=REQUESTER)
            assert response.status_code == 200
            return len(response.json()["options"])

        with ThreadPoolExecutor(max_workers=20, thread_name_prefix="keystroke") as typing:
            answered = list(typing.map(keystroke, range(100)))
        sampling.set()
        sampler.join(5)

        assert answered == [0] * 100, "QuantConnect hangs: nothing to list, but every keystroke answered"
        # One load in flight for the project list, however many keystrokes asked for it.
        assert len(bot.qc.calls_to("projects/read")) == 1
        # Other bots of the test run may still have idle look-up workers: count what this run added.
        assert peak["lookup"] - before["lookup"] <= LOOKUP_THREADS
        assert bot.services.lookups.pool.thread_count <= LOOKUP_THREADS
        assert not {"project-search", "modal-lookup", "project-catalog-refresh"} & set(peak)
        grown = {name: peak[name] - before[name] for name in peak if peak[name] > before[name]}
        grown.pop("keystroke", None)  # the test's own typists
        grown.pop("thread-sampler", None)
        # Bounded pools only: look-up workers, Bolt listeners serving at most the HTTP threads, and the
        # fakes' request threads (one hanging QuantConnect read, Slack calls in passing).
        assert sum(grown.values()) <= LOOKUP_THREADS + 8 + 6, grown
