"""A throwaway PostgreSQL for tests: TEST_DATABASE_URL if given, else a server started from local binaries."""

from __future__ import annotations

import atexit
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.store import normalize_url

# Debian's layout; the CI installs the `postgresql` package, which puts the server binaries here.
_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(Exception):
    """No TEST_DATABASE_URL and no usable PostgreSQL binaries; carries the reason to skip with."""


def _bin_dir() -> Path:
    candidates = sorted(
        (Path(p) for p in glob.glob(_BIN_GLOB) if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found ({_BIN_GLOB}/initdb); set TEST_DATABASE_URL "
            "or install Debian's postgresql package"
        )
    return candidates[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _start_server() -> str:
    bin_dir = _bin_dir()
    base = Path(tempfile.mkdtemp(prefix="qc-bot-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_server_user(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        **run,
    )
    # fsync off: a test server's data is thrown away, so durability only costs time.
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off"
    pg_ctl = str(bin_dir / "pg_ctl")
    subprocess.run(
        _as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]),
        **run,
    )

    def stop() -> None:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), check=False
        )
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


@cache
def _server() -> str | PostgresUnavailable:
    # Caches a failure too, so a missing server costs one attempt per session, not one per test.
    try:
        return os.environ.get("TEST_DATABASE_URL") or _start_server()
    except subprocess.CalledProcessError as error:
        return PostgresUnavailable(f"could not start PostgreSQL: {error.stderr or error}")
    except (PostgresUnavailable, OSError) as error:
        return PostgresUnavailable(str(error))


def server_url() -> str:
    """URL of a PostgreSQL server to create test databases on (started once per test process)."""
    server = _server()
    if isinstance(server, PostgresUnavailable):
        raise server
    return server


def _libpq(url: str) -> str:
    return normalize_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database() -> str:
    """A new empty database on the test server; falls back to emptying the given one without CREATEDB."""
    try:
        base = server_url()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    name = f"qcbot_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_libpq(base), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        with psycopg.connect(_libpq(base), autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
        return str(normalize_url(base).render_as_string(hide_password=False))
    return normalize_url(base).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by fresh_database (leaves a TEST_DATABASE_URL database alone)."""
    name = make_url(url).database
    if not name or not name.startswith("qcbot_test_"):
        return
    with psycopg.connect(_libpq(server_url()), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ("sqlite", "postgresql")


def database_for(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield a URL for one test (a SQLite file in tmp_path or a fresh PostgreSQL database), then drop it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url = fresh_database()
    yield url
    drop_database(url)
