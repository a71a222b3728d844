"""Races the store must win: many threads (and two processes) acting on the same rows at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from bot.store import ProjectLocked, RequestStatus, Store
from tests.support.requests import NOW, new_request

S = RequestStatus
T = TypeVar("T")
WORKERS = 8


def race(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, released together by a barrier; re-raises the first error."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("needed", [1, 2])
def test_concurrent_approvals_approve_exactly_once(store: Store, needed: int) -> None:
    request = store.create_request(new_request(approvals_needed=needed), now=NOW)

    outcomes = race([lambda u=f"U-{i}": store.add_approval(request.id, u, now=NOW) for i in range(WORKERS)])

    assert sum(o.became_approved for o in outcomes) == 1
    assert sum(o.counted for o in outcomes) == needed
    assert len(store.approvals(request.id)) == needed
    assert store.get_request(request.id).status is S.APPROVED
    approved_events = [e for e in store.events(request_id=request.id) if e.action == "approved"]
    assert len(approved_events) == needed


def test_same_user_approving_concurrently_counts_once(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=2), now=NOW)

    outcomes = race([lambda: store.add_approval(request.id, "U-A", now=NOW) for _ in range(WORKERS)])

    assert sum(o.counted for o in outcomes) == 1
    assert store.approvals(request.id) == ["U-A"]
    assert store.get_request(request.id).status is S.PENDING


def test_hammered_transition_succeeds_exactly_once(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)

    def start_compiling(worker: int) -> bool:
        moved = store.transition(
            request.id,
            from_statuses={S.APPROVED},
            to=S.COMPILING,
            actor=f"worker-{worker}",
            action="compiling",
            now=NOW,
            compile_id=f"c-{worker}",
        )
        return moved is not None

    results = race([lambda w=w: start_compiling(w) for w in range(WORKERS)])

    assert results.count(True) == 1
    final = store.get_request(request.id)
    assert final.status is S.COMPILING and final.revision == 2
    compiling = [e for e in store.events(request_id=request.id) if e.action == "compiling"]
    assert len(compiling) == 1 and final.compile_id == f"c-{compiling[0].actor.removeprefix('worker-')}"


def test_concurrent_requests_for_one_project_take_one_lock(store: Store) -> None:
    def ask(user: str) -> str:
        try:
            return store.create_request(new_request(requester_id=user), now=NOW).id
        except ProjectLocked as locked:
            return f"locked-by:{locked.holder_request_id}"

    results = race([lambda u=f"U-{i}": ask(u) for i in range(WORKERS)])

    winners = [r for r in results if not r.startswith("locked-by:")]
    assert len(winners) == 1
    assert all(r == f"locked-by:{winners[0]}" for r in results if r not in winners)
    assert [r.id for r in store.list_requests()] == winners


def test_redelivered_submission_creates_one_request(store: Store) -> None:
    ids = race(
        [lambda: store.create_request(new_request(dedupe_key="V-1"), now=NOW).id for _ in range(WORKERS)]
    )

    assert len(set(ids)) == 1
    assert len(store.list_requests()) == 1
    assert [e.action for e in store.events()] == ["requested"]


def test_status_seen_by_many_watchers_is_reported_once(store: Store) -> None:
    request = store.create_request(new_request(approvals_needed=0), now=NOW)
    store.start_deployment(request.id, 101, "L-1", "InQueue", now=NOW)

    reported = race(
        [lambda: store.record_status(request.id, "Running", "ok", now=NOW) for _ in range(WORKERS)]
    )

    assert reported.count(True) == 1
    assert [e.action for e in store.events(request_id=request.id)].count("status:Running") == 1


def test_a_request_is_claimed_by_exactly_one_replica(store_url: str) -> None:
    first = Store(store_url)
    replicas = [first] + [Store(store_url, migrate=False) for _ in range(WORKERS - 1)]
    try:
        for replica in replicas:
            replica.heartbeat(NOW, 30)
        request = first.create_request(new_request(approvals_needed=0), now=NOW)

        claims = race([lambda r=replica: r.claim_request(request.id, NOW) for replica in replicas])

        winners = [replica.replica_id for replica, claim in zip(replicas, claims, strict=True) if claim]
        assert len(winners) == 1
        assert first.get_request(request.id).owner == winners[0]  # type: ignore[union-attr]
    finally:
        for replica in replicas:
            replica.dispose()


_PROCESS_SCRIPT = """
import json, sys
from datetime import datetime
from bot.store import RequestStatus, Store

url, name, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
ids = json.loads(sys.stdin.read())
store = Store(url)
won = [
    rid for rid in ids
    if store.transition(rid, from_statuses={RequestStatus.APPROVED}, to=RequestStatus.COMPILING,
                        actor=name, action="compiling", now=now) is not None
]
store.dispose()
print(json.dumps(won))
"""


def test_two_processes_share_one_database(store: Store, store_url: str) -> None:
    ids = [store.create_request(new_request(project_id=p, approvals_needed=0), now=NOW).id for p in range(30)]
    repo_root = Path(__file__).resolve().parent.parent

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_SCRIPT, store_url, f"proc-{n}", NOW.isoformat()],
            cwd=repo_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [process.communicate(json.dumps(ids), timeout=60) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    won = [set(json.loads(out)) for out, _ in outputs]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(ids)
    assert {r.status for r in store.list_requests(limit=100)} == {S.COMPILING}


def test_reads_do_not_wait_for_a_writer(store: Store) -> None:
    """A transaction holding the write lock does not hold up reads, which see the last committed state."""
    request = store.create_request(new_request(), now=NOW)
    with store.engine.begin() as writer:
        # On SQLite this takes the write lock (BEGIN IMMEDIATE) and keeps it until the block ends.
        writer.execute(sa.text("UPDATE requests SET reason = 'changing' WHERE id = :id"), {"id": request.id})

        seen = store.get_request(request.id)
        listed = store.list_requests(statuses=[S.PENDING])

        assert seen is not None and seen.reason == request.reason
        assert [r.id for r in listed] == [request.id]
        assert store.approvals(request.id) == []
