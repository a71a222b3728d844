"""The store's engine, its read and write transactions, its schema, and the replica it speaks for."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime

import sqlalchemy as sa

from bot.store import migrations
from bot.store.engine import DEFAULT_DATABASE_URL, create_engine, read_only


def new_replica_id() -> str:
    """A name for this process, unique across replicas and restarts: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def aware(value: datetime, name: str = "now") -> datetime:
    """`value`, refusing a naive datetime (every stored time is UTC)."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


class StoreBase:
    """Engine, transactions and schema shared by every part of the store; one transaction per call."""

    def __init__(
        self, url: str = DEFAULT_DATABASE_URL, *, migrate: bool = True, replica_id: str | None = None
    ) -> None:
        self.engine = create_engine(url)
        # The process this store acts for: owner of the work it claims and of the messages it queues.
        self.replica_id = replica_id or new_replica_id()
        # Pure reads run here: on SQLite they then never queue behind writers for the write lock.
        self._reader = read_only(self.engine)
        # SQLite has one writer at a time, and its busy handler polls with sleeps of up to 100 ms, so
        # writers queued on it under load waited long after the lock was free. This process's writers
        # take turns on a lock that wakes the next one at once; other processes still use the busy wait.
        self._write_turn: AbstractContextManager[object] = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )
        # Called (after commit) whenever Slack messages were queued in the outbox, e.g. to wake their sender.
        self.on_queued: Callable[[], object] | None = None
        if migrate:
            self.migrate()

    def _queued(self, count: int) -> None:
        """Tell the listener that `count` messages were just committed to the outbox."""
        if count and self.on_queued is not None:
            self.on_queued()

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction, after this process's earlier SQLite writers have finished theirs."""
        with self._write_turn, self.engine.begin() as connection:
            yield connection

    def migrate(self) -> int:
        """Create or upgrade the schema; safe to call from several processes at once. Returns the version."""
        return migrations.migrate(self.engine)

    def schema_current(self) -> bool:
        """True when the database answers and carries every migration step (for a health check)."""
        return migrations.is_current(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
