"""ProjectCatalog against the fake QuantConnect over real HTTP: caching, background refresh, look-ups."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from bot.projects import DEFAULT_FAILURE_TTL_SECONDS, ProjectCatalog, ProjectNotFound
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import QuantConnectError
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.clocks import ManualClock


class ManualThreads:
    """Collects background work so a test can prove the answer did not wait for it, then run it."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, target: Callable[[], None]) -> None:
        self.pending.append(target)

    def run_all(self) -> None:
        while self.pending:
            self.pending.pop(0)()


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


def _catalog(
    client: QuantConnectClient, clock: ManualClock, threads: ManualThreads | None = None
) -> ProjectCatalog:
    return ProjectCatalog(client, 60, clock, node_ttl_seconds=10, start_thread=threads)


def test_many_searches_within_the_ttl_make_one_projects_read(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    for name in ("Momentum", "Mean Reversion", "Pairs Trading", "momentum-crypto"):
        qc.add_project(name)
    clock = ManualClock()
    catalog = _catalog(client, clock)
    for text in ("", "mom", "pairs", "zzz", "Mean", "rev", "trad"):
        catalog.search(text)
        clock.advance(5)
    assert len(qc.calls_to("projects/read")) == 1
    assert [p.name for p in catalog.search("mom")] == ["Momentum", "momentum-crypto"]
    assert [p.name for p in catalog.search("trad")] == ["Pairs Trading"]
    assert [p.name for p in catalog.search("")] == [
        "Mean Reversion",
        "Momentum",
        "momentum-crypto",
        "Pairs Trading",
    ]
    assert catalog.search("", limit=2) and len(catalog.search("", limit=2)) == 2


def test_search_by_id_prefix_and_ranking(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    first = qc.add_project("Alpha", project_id=5551)
    qc.add_project("Beta alpha", project_id=7771)
    qc.add_project("Gammalpha", project_id=8881)
    catalog = _catalog(client, ManualClock())
    assert [p.project_id for p in catalog.search("555")] == [first]
    # exact name, then a word starting with it, then anywhere in the name
    assert [p.name for p in catalog.search("alpha")] == ["Alpha", "Beta alpha", "Gammalpha"]


def test_stale_cache_answers_at_once_and_refreshes_in_the_background(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    qc.add_project("Momentum")
    clock, threads = ManualClock(), ManualThreads()
    catalog = _catalog(client, clock, threads)
    assert [p.name for p in catalog.search("")] == ["Momentum"]
    qc.add_project("Breakout")
    clock.advance(61)
    # Past the TTL: the stale list comes back without waiting, and exactly one refresh is queued.
    assert [p.name for p in catalog.search("")] == ["Momentum"]
    assert [p.name for p in catalog.search("")] == ["Momentum"]
    assert len(threads.pending) == 1
    assert len(qc.calls_to("projects/read")) == 1
    threads.run_all()
    assert len(qc.calls_to("projects/read")) == 2
    assert [p.name for p in catalog.search("")] == ["Breakout", "Momentum"]
    assert not threads.pending


def test_real_background_thread_refreshes(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    qc.add_project("Momentum")
    clock = ManualClock()
    catalog = ProjectCatalog(client, 60, clock)
    catalog.search("")
    qc.add_project("Breakout")
    clock.advance(120)
    catalog.search("")
    deadline = threading.Event()
    for _ in range(200):
        if any(p.name == "Breakout" for p in catalog.search("")):
            break
        deadline.wait(0.01)
    assert [p.name for p in catalog.search("")] == ["Breakout", "Momentum"]


def test_failed_background_refresh_keeps_the_stale_list(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    qc.add_project("Momentum")
    clock, threads = ManualClock(), ManualThreads()
    catalog = _catalog(client, clock, threads)
    catalog.search("")
    clock.advance(61)
    qc.fail("projects/read", status=503)
    catalog.search("")
    threads.run_all()
    assert [p.name for p in catalog.search("")] == ["Momentum"]
    # The failure is remembered briefly: stale answers meanwhile start no new read.
    assert not threads.pending
    clock.advance(DEFAULT_FAILURE_TTL_SECONDS)
    catalog.search("")
    threads.run_all()  # the next stale request after the failure TTL tries again, and succeeds
    assert len(qc.calls_to("projects/read")) == 3


def test_first_load_failure_is_a_plain_error(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    qc.fail("projects/read", status=500)
    catalog = _catalog(client, ManualClock())
    with pytest.raises(QuantConnectError, match="projects/read"):
        catalog.search("x")


def test_concurrent_first_requests_share_one_read(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    qc.add_project("Momentum")
    qc.delay("projects/read", 0.2)
    catalog = _catalog(client, ManualClock())
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(len(catalog.search("")))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == [1] * 8
    assert len(qc.calls_to("projects/read")) == 1


def test_get_reads_one_new_project_without_reloading_all(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    qc.add_project("Momentum")
    catalog = _catalog(client, ManualClock())
    catalog.search("")
    new_id = qc.add_project("Created just now")
    project = catalog.get(new_id)
    assert project is not None and project.name == "Created just now"
    calls = qc.calls_to("projects/read")
    assert len(calls) == 2 and calls[1].body == {"projectId": new_id}
    assert catalog.get(new_id) is project
    assert len(qc.calls_to("projects/read")) == 2
    assert catalog.get(999_999) is None


def test_find_by_id_exact_name_and_unique_part(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    momentum = qc.add_project("Momentum")
    qc.add_project("Momentum v2")
    qc.add_project("Pairs Trading")
    catalog = _catalog(client, ManualClock())
    assert catalog.find(str(momentum)).project_id == momentum
    assert catalog.find(" momentum ").project_id == momentum
    assert catalog.find("pairs").name == "Pairs Trading"
    with pytest.raises(ProjectNotFound, match=r"Several projects match \"mom\""):
        catalog.find("mom")
    with pytest.raises(ProjectNotFound, match='No QuantConnect project is named "Nope"'):
        catalog.find("Nope")


def test_nodes_are_cached_for_the_node_ttl(qc: FakeQuantConnect, client: QuantConnectClient) -> None:
    project_id = qc.add_project("Momentum")
    clock = ManualClock()
    catalog = _catalog(client, clock)
    nodes = catalog.nodes(project_id)
    assert [n.name for n in nodes] == ["Live CPU 1", "Live CPU 2", "Live GPU"]
    catalog.nodes(project_id)
    assert len(qc.calls_to("projects/nodes/read")) == 1
    qc.all_nodes_busy(project_id, used_by="Jane")
    clock.advance(11)
    assert all(n.busy and n.used_by == "Jane" for n in catalog.nodes(project_id))
    catalog.nodes(project_id, max_age_seconds=0)
    assert len(qc.calls_to("projects/nodes/read")) == 3


def test_lean_versions_are_cached_for_the_ttl_newest_first(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    clock = ManualClock()
    catalog = _catalog(client, clock)
    first = catalog.lean_versions()
    assert [v.id for v in first] == sorted((v["id"] for v in qc.lean_versions), reverse=True)
    clock.advance(59)
    assert catalog.lean_versions() == first
    assert len(qc.calls_to("lean/versions/read")) == 1
    qc.lean_versions.append({**qc.lean_versions[-1], "id": 17300})
    clock.advance(2)
    assert catalog.lean_versions()[0].id == 17300
    assert len(qc.calls_to("lean/versions/read")) == 2


def test_a_failed_lean_versions_read_is_raised_and_not_cached(
    qc: FakeQuantConnect, client: QuantConnectClient
) -> None:
    catalog = _catalog(client, ManualClock())
    qc.refuse("lean/versions/read", ["Lean versions are unavailable"])
    with pytest.raises(QuantConnectError) as caught:
        catalog.lean_versions()
    assert "Lean versions are unavailable" in caught.value.user_message
    assert catalog.lean_versions()[0].id == max(v["id"] for v in qc.lean_versions)
