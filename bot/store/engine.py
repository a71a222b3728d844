"""Build a SQLAlchemy engine from DATABASE_URL, tuned so threads and processes can share the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from bot.store.errors import StoreError

DEFAULT_DATABASE_URL = "sqlite:///qc-bot.sqlite3"

# How long a writer waits for another writer's lock before SQLite reports "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Every listener, waitress and worker thread may hold a connection at once; SQLite connections are cheap,
# and waiting in the pool for one of SQLAlchemy's default 15 added latency to acks under load.
SQLITE_POOL_SIZE = 8
SQLITE_MAX_OVERFLOW = 56
# Execution option of an engine whose transactions only read (see `read_only`).
READ_ONLY_OPTION = "bot_read_only"


def normalize_url(url: str) -> URL:
    """Parse a database URL, sending every PostgreSQL spelling to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Each pooled connection would see its own empty database.
        raise StoreError("DATABASE_URL must name a SQLite file (in-memory databases are not shared).")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        backend = parsed.get_backend_name()
        raise StoreError(f"Unsupported DATABASE_URL backend {backend!r}: use sqlite or postgresql.")
    return parsed


def create_engine(url: str) -> Engine:
    """Create the engine: SQLite in WAL mode with immediate transactions, or PostgreSQL via psycopg."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


def read_only(engine: Engine) -> Engine:
    """The same engine and pool for transactions that only read: on SQLite they take no write lock."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def _sqlite_engine(url: URL) -> Engine:
    # Pooled connections move between threads, one thread at a time.
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_MAX_OVERFLOW,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite, which would BEGIN only before the first write and
        # so let a read-then-write operation read outside its transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy timeout instead
        # of failing with SQLITE_BUSY when a read transaction later tries to write. A transaction that only
        # reads needs no lock in WAL mode: it sees a consistent snapshot and never waits on writers (it
        # used to queue behind them, sleeping in SQLite's busy handler).
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
