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
from functools import cache
from pathlib import Path

import psycopg
import pytest

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
            _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
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


@cache
def _test_database() -> str:
    # One database per test process, emptied before each test: much cheaper than CREATE DATABASE per test.
    base = server_url()
    name = f"qcbot_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_libpq(base), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        # A TEST_DATABASE_URL role without CREATEDB: use (and empty) its own database instead.
        return normalize_url(base).render_as_string(hide_password=False)
    atexit.register(_drop_database, base, name)
    return normalize_url(base).set(database=name).render_as_string(hide_password=False)


def _drop_database(base: str, name: str) -> None:
    with psycopg.connect(_libpq(base), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database() -> str:
    """URL of an empty PostgreSQL database (the public schema dropped and recreated); skips if none."""
    try:
        url = _test_database()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return url


BACKENDS = ("sqlite", "postgresql")


def database_url(backend: str, tmp_path: Path) -> str:
    """A URL of an empty database for one test: a SQLite file in tmp_path, or the emptied PostgreSQL one."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return fresh_database()
