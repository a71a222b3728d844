"""ProjectCatalog: QuantConnect projects, live nodes and Lean versions, cached for the deploy modal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import BotError
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import RequestRefused
from bot.quantconnect.models import LeanVersion, Node, Project
from bot.services import utc_now

log = logging.getLogger("bot.projects")

DEFAULT_NODE_TTL_SECONDS = 15.0
MAX_LISTED_MATCHES = 5


class ProjectNotFound(BotError):
    """No project of the account answers to the name or id a person gave."""

    def __init__(self, asked: str, candidates: Sequence[Project] = ()) -> None:
        self.asked = asked
        self.candidates: list[Project] = list(candidates)
        if self.candidates:
            names = ", ".join(f"{p.name} ({p.project_id})" for p in self.candidates[:MAX_LISTED_MATCHES])
            more = " …" if len(self.candidates) > MAX_LISTED_MATCHES else ""
            message = f'Several projects match "{asked}": {names}{more}. Choose one from the list.'
        else:
            message = f'No QuantConnect project is named "{asked}" or has that id. Choose one from the list.'
        super().__init__(message)


@dataclass(frozen=True)
class _Snapshot:
    """Projects as one projects/read returned them, with the time they were read."""

    projects: tuple[Project, ...]
    read_at: datetime


@dataclass(frozen=True)
class _Nodes:
    nodes: tuple[Node, ...]
    read_at: datetime


@dataclass(frozen=True)
class _Versions:
    versions: tuple[LeanVersion, ...]
    read_at: datetime


class ProjectCatalog:
    """The account's projects, read once per TTL and searched locally; thread-safe.

    A stale list is still answered at once while one background thread refreshes it, so a type-ahead
    request never waits on QuantConnect except for the very first read.
    """

    def __init__(
        self,
        qc: QuantConnectClient,
        ttl_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        *,
        node_ttl_seconds: float = DEFAULT_NODE_TTL_SECONDS,
        start_thread: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.qc = qc
        self.ttl_seconds = ttl_seconds
        self.node_ttl_seconds = node_ttl_seconds
        self._clock = clock
        self._start_thread = start_thread or _daemon_thread
        self._lock = threading.Lock()
        # Serialises foreground loads so that many first requests make one projects/read, not many.
        self._load_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._extra: dict[int, Project] = {}
        self._refreshing = False
        self._nodes: dict[int, _Nodes] = {}
        self._versions: _Versions | None = None
        self._versions_lock = threading.Lock()

    # ---- projects ------------------------------------------------------------------------------

    def projects(self) -> tuple[Project, ...]:
        """Every project, from the cache when it has one (stale ones refresh in the background)."""
        snapshot = self._snapshot
        if snapshot is None:
            return self._load_blocking()
        if self._age(snapshot.read_at) >= self.ttl_seconds:
            self._refresh_in_background()
        return snapshot.projects

    def refresh(self) -> tuple[Project, ...]:
        """Read every project from QuantConnect now and replace the cache."""
        projects = tuple(self.qc.read_projects())
        with self._lock:
            self._snapshot = _Snapshot(projects, self._clock())
            self._extra.clear()
        return projects

    def search(self, text: str, limit: int = 100) -> list[Project]:
        """Projects whose name contains `text` (or whose id starts with it), best matches first."""
        wanted = text.strip().lower()
        projects = self.projects()
        if not wanted:
            return sorted(projects, key=lambda p: p.name.lower())[:limit]
        ranked: list[tuple[int, str, Project]] = []
        for project in projects:
            name = project.name.lower()
            if name == wanted or str(project.project_id) == wanted:
                rank = 0
            elif name.startswith(wanted) or str(project.project_id).startswith(wanted):
                rank = 1
            elif any(word.startswith(wanted) for word in _words(name)):
                rank = 2
            elif wanted in name:
                rank = 3
            else:
                continue
            ranked.append((rank, name, project))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [project for _, _, project in ranked[:limit]]

    def get(self, project_id: int) -> Project | None:
        """The project with this id, from the cache or one projects/read for it; None if it does not exist."""
        for project in self.projects():
            if project.project_id == project_id:
                return project
        with self._lock:
            if project_id in self._extra:
                return self._extra[project_id]
        # Created after the cache was filled: ask for this one project rather than reloading all of them.
        try:
            found = self.qc.read_projects(project_id)
        except RequestRefused:
            return None
        match = next((p for p in found if p.project_id == project_id), None)
        if match is not None:
            with self._lock:
                self._extra[project_id] = match
        return match

    def find(self, name_or_id: str) -> Project:
        """The one project with this id, exact name, or unambiguous partial name; raises ProjectNotFound."""
        asked = name_or_id.strip()
        if not asked:
            raise ProjectNotFound(asked)
        if asked.isdigit():
            by_id = self.get(int(asked))
            if by_id is not None:
                return by_id
        lowered = asked.lower()
        projects = self.projects()
        exact = [p for p in projects if p.name.lower() == lowered]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            raise ProjectNotFound(asked, exact)
        partial = self.search(asked)
        if len(partial) == 1:
            return partial[0]
        raise ProjectNotFound(asked, partial)

    # ---- live nodes ----------------------------------------------------------------------------

    def nodes(self, project_id: int, *, max_age_seconds: float | None = None) -> tuple[Node, ...]:
        """The project's live nodes, read again once older than the node TTL (busy flags change often)."""
        limit = self.node_ttl_seconds if max_age_seconds is None else max_age_seconds
        with self._lock:
            cached = self._nodes.get(project_id)
        if cached is not None and self._age(cached.read_at) < limit:
            return cached.nodes
        nodes = tuple(self.qc.read_nodes(project_id).live)
        with self._lock:
            self._nodes[project_id] = _Nodes(nodes, self._clock())
        return nodes

    # ---- Lean versions -------------------------------------------------------------------------

    def lean_versions(self) -> tuple[LeanVersion, ...]:
        """QuantConnect's Lean versions, newest first, read again once older than the TTL.

        A failed read is not cached (the next modal asks again) and raises the client's QuantConnectError.
        """
        with self._versions_lock:  # many modals opening at once make one lean/versions/read, not many
            cached = self._versions
            if cached is not None and self._age(cached.read_at) < self.ttl_seconds:
                return cached.versions
            versions = tuple(sorted(self.qc.read_lean_versions(), key=lambda v: v.id, reverse=True))
            self._versions = _Versions(versions, self._clock())
            return versions

    # ---- internals -----------------------------------------------------------------------------

    def _age(self, read_at: datetime) -> float:
        return (self._clock() - read_at).total_seconds()

    def _load_blocking(self) -> tuple[Project, ...]:
        with self._load_lock:
            snapshot = self._snapshot
            if snapshot is not None:  # another thread loaded it while this one waited
                return snapshot.projects
            return self.refresh()

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        self._start_thread(self._background_refresh)

    def _background_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:
            # Keep answering from the stale list; the next request past the TTL tries again.
            log.warning("refreshing the project list failed: %s", exc)
        finally:
            with self._lock:
                self._refreshing = False


def _words(name: str) -> list[str]:
    return [word for word in name.replace("-", " ").replace("_", " ").replace("/", " ").split() if word]


def _daemon_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="project-catalog-refresh", daemon=True).start()
