"""ProjectCatalog: QuantConnect projects, live nodes and Lean versions, cached for the deploy modal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.clock import utc_now
from bot.errors import BotError
from bot.lookups import Deadline, Lookups, LookupsBusy
from bot.numbers import parse_id
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.errors import RequestRefused
from bot.quantconnect.models import LeanVersion, Node, Project

log = logging.getLogger("bot.projects")

T = TypeVar("T")

DEFAULT_NODE_TTL_SECONDS = 15.0
# Long enough that a burst of keystrokes meets one failed load, short enough that a recovery shows soon.
DEFAULT_FAILURE_TTL_SECONDS = 10.0
_PROJECTS = ("projects", 0)
_VERSIONS = ("lean-versions", 0)
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


@dataclass(frozen=True)
class _Failure:
    error: BotError
    at: datetime


class ProjectCatalog:
    """The account's projects, read once per TTL and searched locally; thread-safe.

    Every read of QuantConnect runs on the look-up pool with one load in flight per key (the project list,
    one project, one project's nodes); callers wait for it up to their own deadline. A stale list is
    answered at once while one refresh runs, and a failed load is remembered for `failure_ttl_seconds`, so
    that type-ahead keystrokes while QuantConnect is down get the same answer at once instead of each
    repeating the load.
    """

    def __init__(
        self,
        qc: QuantConnectClient,
        ttl_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        *,
        node_ttl_seconds: float = DEFAULT_NODE_TTL_SECONDS,
        failure_ttl_seconds: float = DEFAULT_FAILURE_TTL_SECONDS,
        start_thread: Callable[[Callable[[], None]], None] | None = None,
        lookups: Lookups | None = None,
    ) -> None:
        self.qc = qc
        self.ttl_seconds = ttl_seconds
        self.node_ttl_seconds = node_ttl_seconds
        self.failure_ttl_seconds = failure_ttl_seconds
        self.lookups = lookups or Lookups()
        self._clock = clock
        # Tests pass a hook to run the background refresh by hand; by default it is a load on the pool.
        self._start_thread = start_thread
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._extra: dict[int, Project] = {}
        self._refreshing = False
        self._nodes: dict[int, _Nodes] = {}
        self._versions: _Versions | None = None
        self._failures: dict[tuple[str, int], _Failure] = {}

    # ---- projects ------------------------------------------------------------------------------

    def projects(self, *, timeout: float | None = None) -> tuple[Project, ...]:
        """Every project, from the cache when it has one (stale ones refresh in the background).

        A cold cache waits for the shared load at most `timeout` seconds (DeadlineExceeded after).
        """
        return self._projects(Deadline.after(timeout))

    def _projects(self, deadline: Deadline) -> tuple[Project, ...]:
        snapshot = self._snapshot
        if snapshot is None:
            self._raise_recent_failure(_PROJECTS)
            return self.lookups.run(_PROJECTS, self._load_projects, deadline, "QuantConnect")
        if self._age(snapshot.read_at) >= self.ttl_seconds and self._recent_failure(_PROJECTS) is None:
            self._refresh_in_background()
        return snapshot.projects

    def refresh(self) -> tuple[Project, ...]:
        """Read every project from QuantConnect now (joining a read in flight) and replace the cache."""
        return self.lookups.run(_PROJECTS, self._load_projects, Deadline.after(None), "QuantConnect")

    def search(self, text: str, limit: int = 100, *, timeout: float | None = None) -> list[Project]:
        """Projects whose name contains `text` (or whose id starts with it), best matches first."""
        wanted = text.strip().lower()
        projects = self.projects(timeout=timeout)
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

    def get(self, project_id: int, *, timeout: float | None = None) -> Project | None:
        """The project with this id, from the cache or one projects/read for it; None if it does not exist."""
        return self._get(project_id, Deadline.after(timeout))

    def _get(self, project_id: int, deadline: Deadline) -> Project | None:
        for project in self._projects(deadline):
            if project.project_id == project_id:
                return project
        with self._lock:
            if project_id in self._extra:
                return self._extra[project_id]
        # Created after the cache was filled: ask for this one project rather than reloading all of them.
        key = ("project", project_id)
        self._raise_recent_failure(key)
        return self.lookups.run(key, lambda: self._load_one(project_id), deadline, "QuantConnect")

    def find(self, name_or_id: str, *, timeout: float | None = None) -> Project:
        """The one project with this id, exact name, or unambiguous partial name; raises ProjectNotFound."""
        deadline = Deadline.after(timeout)
        asked = name_or_id.strip()
        if not asked:
            raise ProjectNotFound(asked)
        project_id = parse_id(asked)
        if project_id is not None:
            by_id = self._get(project_id, deadline)
            if by_id is not None:
                return by_id
        lowered = asked.lower()
        projects = self._projects(deadline)
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

    def nodes(
        self, project_id: int, *, max_age_seconds: float | None = None, timeout: float | None = None
    ) -> tuple[Node, ...]:
        """The project's live nodes, read again once older than the node TTL (busy flags change often)."""
        limit = self.node_ttl_seconds if max_age_seconds is None else max_age_seconds
        with self._lock:
            cached = self._nodes.get(project_id)
        if cached is not None and self._age(cached.read_at) < limit:
            return cached.nodes
        key = ("nodes", project_id)
        self._raise_recent_failure(key)
        return self.lookups.run(
            key, lambda: self._load_nodes(project_id), Deadline.after(timeout), "QuantConnect"
        )

    # ---- loads (run on the look-up pool, never waiting on another look-up) -------------------------

    def _load_projects(self) -> tuple[Project, ...]:
        projects = tuple(self._remembering(_PROJECTS, self.qc.read_projects))
        with self._lock:
            self._snapshot = _Snapshot(projects, self._clock())
            self._extra.clear()
        return projects

    def _load_one(self, project_id: int) -> Project | None:
        try:
            found = self._remembering(("project", project_id), lambda: self.qc.read_projects(project_id))
        except RequestRefused:
            return None
        match = next((p for p in found if p.project_id == project_id), None)
        if match is not None:
            with self._lock:
                self._extra[project_id] = match
        return match

    def _load_nodes(self, project_id: int) -> tuple[Node, ...]:
        nodes = tuple(self._remembering(("nodes", project_id), lambda: self.qc.read_nodes(project_id)).live)
        with self._lock:
            self._nodes[project_id] = _Nodes(nodes, self._clock())
        return nodes

    # ---- Lean versions -------------------------------------------------------------------------

    def lean_versions(self, *, timeout: float | None = None) -> tuple[LeanVersion, ...]:
        """QuantConnect's Lean versions, newest first, read again once older than the TTL.

        Many modals opening at once share one lean/versions/read (waiting at most `timeout` seconds); a
        failed read is remembered briefly, then asked again, and raises the client's QuantConnectError.
        """
        cached = self._versions
        if cached is not None and self._age(cached.read_at) < self.ttl_seconds:
            return cached.versions
        self._raise_recent_failure(_VERSIONS)
        return self.lookups.run(_VERSIONS, self._load_versions, Deadline.after(timeout), "QuantConnect")

    def _load_versions(self) -> tuple[LeanVersion, ...]:
        read = self._remembering(_VERSIONS, self.qc.read_lean_versions)
        versions = tuple(sorted(read, key=lambda v: v.id, reverse=True))
        self._versions = _Versions(versions, self._clock())
        return versions

    def _remembering(self, key: tuple[str, int], load: Callable[[], T]) -> T:
        """Run a QuantConnect read; remember a failure briefly so the same read is not repeated at once."""
        try:
            result = load()
        except RequestRefused:
            # QuantConnect answered (e.g. no such project): a fact, not an outage to wait out.
            raise
        except BotError as exc:
            with self._lock:
                self._failures[key] = _Failure(exc, self._clock())
            raise
        with self._lock:
            self._failures.pop(key, None)
        return result

    # ---- internals -----------------------------------------------------------------------------

    def _age(self, read_at: datetime) -> float:
        return (self._clock() - read_at).total_seconds()

    def _recent_failure(self, key: tuple[str, int]) -> BotError | None:
        with self._lock:
            failure = self._failures.get(key)
        if failure is None or self._age(failure.at) >= self.failure_ttl_seconds:
            return None
        return failure.error

    def _raise_recent_failure(self, key: tuple[str, int]) -> None:
        error = self._recent_failure(key)
        if error is not None:
            raise error

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        if self._start_thread is not None:
            self._start_thread(self._background_refresh)
            return
        try:
            self.lookups.start(_PROJECTS, self._background_refresh)
        except LookupsBusy:
            # Answered from the stale list meanwhile; the next request past the TTL tries again.
            with self._lock:
                self._refreshing = False

    def _background_refresh(self) -> tuple[Project, ...] | None:
        try:
            return self._load_projects()
        except Exception as exc:
            # Keep answering from the stale list; the next request past the failure TTL tries again.
            log.warning("refreshing the project list failed: %s", exc)
            return None
        finally:
            with self._lock:
                self._refreshing = False


def _words(name: str) -> list[str]:
    return [word for word in name.replace("-", " ").replace("_", " ").replace("/", " ").split() if word]
