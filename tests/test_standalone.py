"""The repository stands alone: nothing in it reads beside the checkout, and a copy passes its tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.outside_guard import OutsideReadGuard
from tests.support.paths import DATA_DIR, REPO_ROOT

# Files of the project itself (not the virtualenv, caches or local databases).
_SKIPPED_DIRS = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "build",
    "dist",
}
_CODE_SUFFIXES = {".py", ".sh", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".md"}
# How code spells a path beside the checkout.
_OUTSIDE_PATTERNS = (
    re.compile(r"\.\./shared"),
    re.compile(r"""parent\s*/\s*["']shared"""),
    re.compile(r"REPO_ROOT\.parent"),
    re.compile(r"ROOT\.parent\.parent"),
    re.compile(r"parents\[[2-9]\]"),
)
# The standalone copy runs the tests that read the reference files.
_DATA_TESTS = ("tests/test_manifest.py", "tests/test_brokerages_models.py", "tests/test_fake_quantconnect.py")


def _project_files() -> list[Path]:
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(REPO_ROOT):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not d.endswith(".egg-info")]
        found.extend(Path(directory) / name for name in filenames)
    return found


def test_no_code_spells_a_path_beside_the_checkout() -> None:
    this_file = Path(__file__).resolve()
    offenders = []
    for path in _project_files():
        if path.suffix not in _CODE_SUFFIXES or path.resolve() == this_file or DATA_DIR in path.parents:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in _OUTSIDE_PATTERNS:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{line}: {match.group(0)}")
    assert offenders == []


def test_every_reference_file_is_inside_the_repository() -> None:
    for relative in (
        "quantconnect/QuantConnect-Platform-2.0.0.yaml",
        "quantconnect/seeds/live-create-current.txt",
        "quantconnect/README.md",
        "slack/manifest-schema/manifest.schema.json",
        "slack/manifest-schema/schemas/manifest.schema.2.0.0.json",
        "slack/manifest-schema/LICENSE",
        "slack/manifest-schema/README.md",
    ):
        assert (DATA_DIR / relative).is_file(), relative


def test_the_guard_refuses_a_read_beside_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "clone"
    neighbour = tmp_path / "shared" / "file.txt"
    guard = OutsideReadGuard(checkout)
    guard.parent = os.path.normcase(str(tmp_path.resolve()))  # tmp_path itself is an allowed temp folder
    guard.allowed = ()
    assert guard.is_outside(str(neighbour))
    assert guard.is_outside(checkout / ".." / "shared" / "file.txt")
    assert not guard.is_outside(checkout / "tests" / "data" / "x.yaml")
    assert not guard.is_outside("/usr/lib/python3/os.py")
    assert not guard.is_outside(3)


def test_a_copy_of_the_repository_alone_passes_the_tests_that_read_reference_files(tmp_path: Path) -> None:
    # The copy sits alone in an empty folder: nothing beside it, like a fresh clone.
    clone = tmp_path / "empty" / "clone"
    for path in _project_files():
        target = clone / path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [sys.executable, "-c", "import bot, tests; print(bot.__file__); print(tests.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(Path(line).is_relative_to(clone) for line in where.stdout.split()), where.stdout
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *_DATA_TESTS],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
