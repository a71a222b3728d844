"""Shared pytest fixtures, and the guard that keeps every test inside the checkout."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.support import pg
from tests.support.outside_guard import OutsideReadGuard
from tests.support.paths import REPO_ROOT

# Any read of a file beside the checkout fails the run: a user's clone has nothing beside it.
OUTSIDE_READS = OutsideReadGuard(REPO_ROOT)
OUTSIDE_READS.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when anything read a path outside the checkout, even where the read was swallowed."""
    if OUTSIDE_READS.seen:
        listed = "\n  ".join(sorted(OUTSIDE_READS.seen))
        print(f"\nRead outside the repository (a clone has nothing there):\n  {listed}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(params=pg.BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database per test on each backend."""
    return pg.database_url(request.param, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on a fresh database."""
    opened = Store(store_url)
    yield opened
    opened.dispose()
