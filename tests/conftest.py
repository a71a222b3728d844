"""Shared pytest fixtures."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests import pg

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared/ folder beside the checkout (holds the OpenAPI file and Slack's manifest schema)."""
    for candidate in (REPO_ROOT.parent / "shared", REPO_ROOT / "shared"):
        if candidate.exists():
            return candidate
    raise RuntimeError("shared/ folder not found beside the checkout")


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path to ../shared."""
    return shared_dir()


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
