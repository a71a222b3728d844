"""Shared pytest fixtures."""

from pathlib import Path

import pytest

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
