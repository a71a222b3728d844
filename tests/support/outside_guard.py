"""An audit hook that refuses, and remembers, every file read beside the checkout during the tests.

A test or fake that reads a folder beside the checkout passes on a machine that has that folder and fails in a
user's clone.
The hook sees every `open`, `os.listdir` and `os.scandir` of the process, however the path was spelt.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path
from typing import Any

_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})


class OutsideReadGuard:
    """Flags paths under the checkout's parent folder that are not inside the checkout itself."""

    def __init__(self, repo_root: Path) -> None:
        self.repo = os.path.normcase(str(repo_root.resolve()))
        self.parent = os.path.dirname(self.repo)
        # Legitimate neighbours when the clone sits in a temporary or system folder.
        self.allowed = tuple(
            os.path.normcase(os.path.realpath(p))
            for p in {tempfile.gettempdir(), sys.prefix, sys.base_prefix, *sysconfig.get_paths().values()}
        )
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def is_outside(self, raw: Any) -> bool:
        """True for a path beside the checkout (under its parent folder, not under the checkout)."""
        if isinstance(raw, int) or raw is None:
            return False
        try:
            path = os.path.normcase(os.path.abspath(os.fsdecode(raw)))
        except (TypeError, ValueError):
            return False
        if not _under(path, self.parent) or path == self.parent:
            return False
        if _under(path, self.repo) or path == self.repo:
            return False
        return not any(path == allowed or _under(path, allowed) for allowed in self.allowed)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in _EVENTS or not args or not self.is_outside(args[0]):
            return
        path = os.fsdecode(args[0])
        with self._lock:
            self.seen.add(path)
        raise PermissionError(f"tests must not read outside the repository: {path}")

    def install(self) -> None:
        """Add the audit hook for the rest of the process (audit hooks cannot be removed)."""
        sys.addaudithook(self._hook)


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)
