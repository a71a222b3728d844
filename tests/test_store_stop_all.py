"""The stop-all claim on both backends: one at a time across replicas, free once finished, and taken over
when the replica running it dies (its lease runs out), as any work in flight."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.store import Store
from tests.support.replicas import two_replicas
from tests.support.requests import NOW

LEASE = 20.0


@pytest.fixture
def replicas(store_url: str) -> Iterator[tuple[Store, Store]]:
    yield from two_replicas(store_url, NOW, LEASE)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_one_stop_all_at_a_time_and_free_once_finished(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    assert a.claim_stop_all("UAPPROVER1", "stop", NOW).claimed
    refused = b.claim_stop_all("UAPPROVER2", "liquidate", later(1))
    assert (refused.claimed, refused.started_by, refused.mode, refused.started_at) == (
        False,
        "UAPPROVER1",
        "stop",
        NOW,
    )
    assert not a.claim_stop_all("UAPPROVER1", "stop", later(2)).claimed, "the same replica cannot start two"
    assert not b.finish_stop_all("UAPPROVER2", {}, later(3)), "only the owner finishes it"
    assert a.finish_stop_all("UAPPROVER1", {"done": 3}, later(4))
    assert b.claim_stop_all("UAPPROVER2", "liquidate", later(5)).claimed
    actions = [e.action for e in a.events()]
    assert actions.count("stop_all_started") == 2 and actions.count("stop_all_finished") == 2


def test_a_dead_replicas_stop_all_is_taken_over_after_its_lease(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    assert a.claim_stop_all("UAPPROVER1", "stop", NOW).claimed
    b.heartbeat(later(LEASE - 1), LEASE)
    assert not b.claim_stop_all("UAPPROVER2", "stop", later(LEASE - 1)).claimed  # a may still be working
    b.heartbeat(later(LEASE + 1), LEASE)
    taken = b.claim_stop_all("UAPPROVER2", "stop", later(LEASE + 1))
    assert taken.claimed and taken.started_by == "UAPPROVER2"
    assert not a.finish_stop_all("UAPPROVER1", {}, later(LEASE + 2)), "the dead replica no longer owns it"
