"""Real bot processes for tests: `python -m bot --http` on a free port, healthy before the test goes on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.waiting import eventually


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def bot_process(env: dict[str, str], workdir: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot --http` on a free port, healthy before the block runs; killed if still running after."""
    port = free_port()
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--http", "--port", str(port)],
        cwd=workdir,  # no .env there: the environment below is the whole configuration
        env={**os.environ, **env, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: _healthy(port), timeout=30, what=f"{name} to answer /healthz")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
