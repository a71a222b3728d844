"""Two replicas (two stores with their own ids) on one database, as store tests use them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from bot.store import Store


def two_replicas(store_url: str, now: datetime, lease: float) -> Iterator[tuple[Store, Store]]:
    """Yield replica-a (which migrates) and replica-b, both with a live lease at `now`; dispose both after."""
    first = Store(store_url, replica_id="replica-a")
    second = Store(store_url, replica_id="replica-b", migrate=False)
    first.heartbeat(now, lease)
    second.heartbeat(now, lease)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()
