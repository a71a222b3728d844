"""A fake QuantConnect API v2: a real HTTP server on 127.0.0.1 with the real auth scheme and spec checks.

Usage::

    with FakeQuantConnect() as qc:                       # listens on 127.0.0.1, a free port
        project_id = qc.add_project("Momentum")          # comes with two free CPU live nodes and one GPU node
        client = QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url)
        ...
        assert len(qc.calls_to("live/create")) == 1     # every request is recorded (endpoint, body, headers)

State (thread-safe, in memory):
- projects: `add_project(name, project_id=None, default_nodes=True, lean_version_id=FAKE_LEAN_VERSION) -> int`
  (`lean_version_id=None`: projects/read leaves `leanVersionId` out); nodes:
  `add_node(project_id, name, *, node_id=None, has_gpu=False, busy=False, used_by=None) -> str`,
  `nodes(project_id)`, `all_nodes_busy(project_id, used_by=...)`.
- compiles: compile/create answers InQueue; compile/read answers BuildSuccess from the `compile_reads`-th read
  on (constructor argument or attribute, default 1). `build_error(project_id, logs, times=1)` makes the next
  compile(s) of the project end in BuildError with those logs.
- deployments: live/create validates the body with `qc_schema.validate_live_create`, then checks the compile
  (a BuildSuccess compile of that project), the node (a free live node of that project) and that nothing else
  runs on the project; any problem answers `success: false` naming it and creates nothing. A deployment
  walks `status_walk` (default InQueue -> LoggingIn -> Initializing -> Running), one step each time the fake
  shows it: a live/read of it, or a live/list of its project without a status filter; a step a live/list
  showed is shown again (not stepped on) by the next live/read and by further lists until a live/read, as a
  watcher confirms it.
  `set_status(project_id, status, message=None)` pins a status;
  `deploy_error_after(project_id, reads, message)` and `runtime_error_after(...)` end the current (or next)
  deployment after that many reads. live/update/stop -> Stopped, live/update/liquidate -> Liquidated;
  terminal statuses free the node. live/read of a project never deployed answers status "Undefined".
  live/list takes the spec's filters (`status`: Running, Stopped, RuntimeError or Liquidated; `projectId`)
  and, as the OpenAPI file has no paging parameters, lists every deployment in one answer, newest first,
  with `equity` (`set_equity(project_id, value)`, default 100000). `hide_from_list(project_id)` leaves the
  latest deployment out of live/list answers (as a lagging list would) while live/read still shows it.
  `legacy_create_response = True` answers live/create in the older flat shape. `deployments(project_id)`
  returns snapshots of what was created.
- Lean versions: lean/versions/read answers `lean_versions` (a list of LeanVersion objects as the spec shapes
  them, newest last as QuantConnect lists them; default FAKE_LEAN_VERSIONS).
- live/auth0/authorize and live/auth0/read (brokerage authorization for OAuth brokerages): see
  tests/fakes/fake_qc_auth0.py; `auth0.grant(brokerage, tokens, after_reads=0)`, `auth0.expire(brokerage)`.
- auth: exactly QuantConnect's scheme (Basic base64(user:sha256(token:ts)) + Timestamp, 7200 s window).
  Missing / malformed / stale -> HTTP 401 with a WWW-Authenticate header; unknown user -> 200
  "UserID not valid"; wrong hash -> 200 "Hash doesn't match. ...".

Failure injection, consumed first-in first-out by the next calls of that endpoint (endpoint names have no
leading slash, e.g. "live/create"):
- `fail(endpoint, status=500, times=1, retry_after=None)`: answer that HTTP status (with a Retry-After header
  when `retry_after` is given, as QuantConnect's servers may on 429 and 503).
- `delay(endpoint, seconds, times=1)`: sleep first, then handle normally (a delayed live/create still deploys,
  which is how a client timeout on a create that really happened is simulated). `stop()` interrupts the sleep.
- `refuse(endpoint, errors, times=1)`: answer `{"success": false, "errors": errors}` with HTTP 200.
- `drop_connection(endpoint, times=1, create_first=True)`: close the socket without answering; for live/create
  with `create_first` the request is handled (deploying) before the socket is closed.
- `hold(endpoint, times=1)`: keep the request unanswered until `release_held()` (or stop()), then handle it:
  a held live/create deploys only when released, as a create QuantConnect acts on after the client gave up.
`wait_idle(timeout)` blocks until no request is being handled (e.g. until a delayed create has finished).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from bot.statuses import LIVE_TERMINAL
from tests.fakes.fake_live_orders import FakeLiveOrders, OrderRefused
from tests.fakes.fake_qc_auth0 import FakeAuth0
from tests.fakes.qc_schema import validate_live_create

AUTH_WINDOW_SECONDS = 7200
DEFAULT_STATUS_WALK = ("InQueue", "LoggingIn", "Initializing", "Running")
LIST_STATUS_FILTERS = ("Running", "Stopped", "RuntimeError", "Liquidated")
FAKE_LEAN_VERSION = 17202
# lean/versions/read as QuantConnect answers it (LeanVersion of the OpenAPI file), oldest first; the newest is
# not FAKE_LEAN_VERSION, so "the project's version" and "the newest" can be told apart.
FAKE_LEAN_VERSIONS: tuple[dict[str, Any], ...] = tuple(
    {
        "id": version_id,
        "created": f"2025-{month:02d}-14 17:03:21",
        "description": f"Lean {version_id}: engine and data fixes",
        "leanHash": hashlib.sha1(f"lean-{version_id}".encode()).hexdigest(),
        "leanCloudHash": hashlib.sha1(f"cloud-{version_id}".encode()).hexdigest(),
        "name": "master",
        "ref": "refs/heads/master",
        "public": True,
    }
    for month, version_id in enumerate((17171, 17188, 17202, 17215, 17230), start=1)
)
_UNAUTHORIZED = "Key is missing, invalid, or timestamp is too old for hash"


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake received: endpoint (e.g. "live/create"), parsed JSON body, lower-cased headers."""

    endpoint: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeNode:
    """A node of a project; `busy`/`used_by` change as deployments start and stop."""

    id: str
    name: str
    sku: str
    has_gpu: bool = False
    busy: bool = False
    used_by: str | None = None
    project_name: str | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The node as projects/nodes/read shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "sku": self.sku,
            "description": self.description,
            "busy": self.busy,
            "usedBy": self.used_by or "",
            "projectName": self.project_name or "",
            "hasGpu": 1 if self.has_gpu else 0,
            "cpu": 4 if self.has_gpu else 1,
            "ram": 8.0 if self.has_gpu else 0.5,
            "speed": 2.4,
            "active": False,
        }


@dataclass
class FakeCompile:
    """A compile job and how it will end."""

    compile_id: str
    project_id: int
    reads_needed: int
    final_state: str
    final_logs: list[str]
    reads: int = 0

    @property
    def state(self) -> str:
        """InQueue until enough reads happened, then the final state."""
        return self.final_state if self.reads >= self.reads_needed else "InQueue"


@dataclass
class FakeDeployment:
    """A live deployment and its scripted future."""

    deploy_id: str
    project_id: int
    node_id: str
    brokerage: str
    launched: datetime
    body: dict[str, Any]
    status: str
    stopped: datetime | None = None
    message: str | None = None
    reads: int = 0
    pinned: bool = False
    outcome: tuple[int, str, str] | None = None
    equity: float = 100000.0
    hidden: bool = False
    # The last look at it was a live/list that stepped it: the next live/read shows that same step.
    listed: bool = False

    @property
    def active(self) -> bool:
        """True while the algorithm occupies its node."""
        return self.status not in LIVE_TERMINAL


@dataclass
class FakeProject:
    """A project with its nodes, deployments and scripted failures."""

    project_id: int
    name: str
    lean_version_id: int | None = FAKE_LEAN_VERSION
    nodes: list[FakeNode] = field(default_factory=list)
    deployments: list[FakeDeployment] = field(default_factory=list)
    build_errors: deque[list[str]] = field(default_factory=deque)
    outcome: tuple[int, str, str] | None = None
    # The live portfolio as QuantConnect's last snapshot holds it (refreshed about every 10 minutes):
    # {symbol id: (quantity, average price)} and {currency: amount}; None until a snapshot was taken.
    portfolio: tuple[dict[str, tuple[float, float]], dict[str, float]] | None = None

    def latest(self) -> FakeDeployment | None:
        """The most recent deployment, the one live/read reports."""
        return self.deployments[-1] if self.deployments else None

    def active(self) -> FakeDeployment | None:
        """The deployment still occupying a node, if any."""
        latest = self.latest()
        return latest if latest is not None and latest.active else None


@dataclass(frozen=True)
class _Fault:
    kind: str
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    errors: tuple[str, ...] = ()
    create_first: bool = True


class _Refusal(Exception):
    """Raised inside handlers to answer `success: false` with these errors."""

    def __init__(self, *errors: str) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _ok(**payload: Any) -> _Answer:
    return _Answer(200, {**payload, "success": True, "errors": []})


def _qc_time(moment: datetime | None) -> str | None:
    """QuantConnect's timestamp style: UTC without an offset."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else None


class FakeQuantConnect:
    """In-memory QuantConnect API v2 behind a real HTTP server on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        user_id: str = "424242",
        api_token: str | None = None,
        compile_reads: int = 1,
        status_walk: Sequence[str] = DEFAULT_STATUS_WALK,
        legacy_create_response: bool = False,
        user_name: str = "Bot Account",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user_id = user_id
        self.api_token = api_token or secrets.token_hex(32)
        self.compile_reads = compile_reads
        self.status_walk = tuple(status_walk)
        self.legacy_create_response = legacy_create_response
        self.user_name = user_name
        self._clock = clock
        self.calls: list[RecordedCall] = []
        self.auth0 = FakeAuth0()
        self.lean_versions: list[dict[str, Any]] = [dict(version) for version in FAKE_LEAN_VERSIONS]
        # live/orders/read: tests add orders with `qc.orders.add(project_id, n)` (fake_live_orders.py).
        self.orders = FakeLiveOrders()
        # live/read's runtimeStatistics per project (RuntimeStatistics in the OpenAPI file); none unless set.
        self.runtime_statistics: dict[int, dict[str, str]] = {}
        self._lock = threading.RLock()
        self._projects: dict[int, FakeProject] = {}
        self._compiles: dict[str, FakeCompile] = {}
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._halt_refusals: dict[int, str] = {}
        self._next_project_id = 1000
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._release = threading.Event()
        self._held = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a daemon thread; sets `base_url`."""
        if self._server is not None:
            return
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-quantconnect", daemon=True
        )
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/v2/"

    def stop(self) -> None:
        """Stop serving; wakes any delayed request so shutdown is prompt."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is being handled; False if that did not happen within `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    # ---- arranging state ------------------------------------------------------------------------

    def add_project(
        self,
        name: str,
        project_id: int | None = None,
        *,
        default_nodes: bool = True,
        lean_version_id: int | None = FAKE_LEAN_VERSION,
    ) -> int:
        """Create a project (by default with two free CPU live nodes and one GPU node); returns its id."""
        with self._lock:
            if project_id is None:
                self._next_project_id += 1
                project_id = self._next_project_id
            if project_id in self._projects:
                raise ValueError(f"project {project_id} already exists in the fake")
            self._projects[project_id] = FakeProject(project_id, name, lean_version_id)
        if default_nodes:
            self.add_node(project_id, "Live CPU 1", sku="L-MICRO")
            self.add_node(project_id, "Live CPU 2", sku="L1-1")
            self.add_node(project_id, "Live GPU", sku="L4-12-GPU", has_gpu=True)
        return project_id

    def add_node(
        self,
        project_id: int,
        name: str,
        *,
        node_id: str | None = None,
        sku: str = "L-MICRO",
        has_gpu: bool = False,
        busy: bool = False,
        used_by: str | None = None,
        project_name: str | None = None,
    ) -> str:
        """Add a live node to the project; returns its id."""
        node_id = node_id or f"LN-{uuid.uuid4().hex}"
        node = FakeNode(
            id=node_id,
            name=name,
            sku=sku,
            has_gpu=has_gpu,
            busy=busy,
            used_by=used_by if busy else None,
            project_name=project_name if busy else None,
            description=f"{sku} live node" + (" with GPU" if has_gpu else ""),
        )
        with self._lock:
            self._project(project_id).nodes.append(node)
        return node_id

    def nodes(self, project_id: int) -> list[FakeNode]:
        """Snapshots of the project's live nodes."""
        with self._lock:
            return [replace(node) for node in self._project(project_id).nodes]

    def all_nodes_busy(self, project_id: int, used_by: str = "Another Trader") -> None:
        """Mark every live node of the project busy, used by `used_by` on another project."""
        with self._lock:
            for node in self._project(project_id).nodes:
                node.busy, node.used_by, node.project_name = True, used_by, "Another project"

    def deployments(self, project_id: int) -> list[FakeDeployment]:
        """Snapshots of the project's deployments, oldest first."""
        with self._lock:
            return [replace(d) for d in self._project(project_id).deployments]

    def remove_project(self, project_id: int) -> None:
        """Delete a project (and its deployments): QuantConnect no longer knows it."""
        with self._lock:
            del self._projects[project_id]

    def refuse_halt(self, project_id: int, error: str) -> None:
        """The next stop or liquidate of this project is refused with `error` (the others go through)."""
        with self._lock:
            self._halt_refusals[project_id] = error

    def set_equity(self, project_id: int, equity: float) -> None:
        """The equity live/list reports for the project's latest deployment."""
        with self._lock:
            deployment = self._project(project_id).latest()
            if deployment is None:
                raise ValueError(f"project {project_id} has no deployment in the fake")
            deployment.equity = equity

    def set_portfolio(
        self,
        project_id: int,
        holdings: dict[str, tuple[float, float]] | None = None,
        cash: dict[str, float] | None = None,
    ) -> None:
        """Take a portfolio snapshot: {symbol id: (quantity, average price)} and {currency: amount}."""
        with self._lock:
            self._projects[project_id].portfolio = (dict(holdings or {}), dict(cash or {}))

    def build_error(self, project_id: int, logs: Sequence[str], times: int = 1) -> None:
        """The next `times` compiles of the project end in BuildError with `logs`."""
        with self._lock:
            for _ in range(times):
                self._project(project_id).build_errors.append(list(logs))

    def set_status(self, project_id: int, status: str, message: str | None = None) -> None:
        """Pin the latest deployment's status (and error message); terminal statuses free its node."""
        with self._lock:
            project = self._project(project_id)
            deployment = project.latest()
            if deployment is None:
                raise ValueError(f"project {project_id} has no deployment in the fake")
            deployment.pinned = True
            self._set(project, deployment, status, message)

    def hide_from_list(self, project_id: int, hidden: bool = True) -> None:
        """Leave the project's latest deployment out of live/list answers (live/read still shows it)."""
        with self._lock:
            deployment = self._project(project_id).latest()
            if deployment is None:
                raise ValueError(f"project {project_id} has no deployment in the fake")
            deployment.hidden = hidden

    def deploy_error_after(self, project_id: int, reads: int, message: str) -> None:
        """The current (or next) deployment turns DeployError with `message` on its `reads`-th live/read."""
        self._script(project_id, (reads, "DeployError", message))

    def runtime_error_after(self, project_id: int, reads: int, message: str) -> None:
        """The current (or next) deployment turns RuntimeError with `message` on its `reads`-th live/read."""
        self._script(project_id, (reads, "RuntimeError", message))

    def _script(self, project_id: int, outcome: tuple[int, str, str]) -> None:
        with self._lock:
            project = self._project(project_id)
            active = project.active()
            if active is not None:
                active.reads, active.outcome = 0, outcome
            else:
                project.outcome = outcome

    # ---- failure injection ----------------------------------------------------------------------

    def fail(
        self, endpoint: str, status: int = 500, times: int = 1, retry_after: float | str | None = None
    ) -> None:
        """The next `times` calls of `endpoint` answer HTTP `status` (with Retry-After when given)."""
        header = None if retry_after is None else str(retry_after)
        self._add_fault(endpoint, _Fault("fail", status=status, retry_after=header), times)

    def delay(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `endpoint` sleep `seconds` before being handled normally."""
        self._add_fault(endpoint, _Fault("delay", seconds=seconds), times)

    def refuse(self, endpoint: str, errors: Sequence[str], times: int = 1) -> None:
        """The next `times` calls of `endpoint` answer HTTP 200 `success: false` with `errors`."""
        self._add_fault(endpoint, _Fault("refuse", errors=tuple(errors)), times)

    def hold(self, endpoint: str, times: int = 1) -> None:
        """The next `times` calls of `endpoint` wait, unanswered, until release_held(); then run normally."""
        self._add_fault(endpoint, _Fault("hold"), times)

    def release_held(self, timeout: float = 5.0) -> None:
        """Let every held request go on, and wait until they have been handled."""
        with self._lock:
            release, self._release = self._release, threading.Event()
        release.set()
        with self._idle:
            self._idle.wait_for(lambda: self._held == 0, timeout=timeout)
        self.wait_idle(timeout)

    def _wait_for_release(self) -> bool:
        """Block a held request until released; True when the server is stopping instead."""
        with self._lock:
            release = self._release
        with self._idle:
            self._held += 1
        try:
            while not release.wait(0.05):
                if self._stopping.is_set():
                    return True
            return False
        finally:
            with self._idle:
                self._held -= 1
                self._idle.notify_all()

    def drop_connection(self, endpoint: str, times: int = 1, create_first: bool = True) -> None:
        """The next `times` calls of `endpoint` close the socket unanswered (live/create may deploy first)."""
        self._add_fault(endpoint, _Fault("drop", create_first=create_first), times)

    def clear_faults(self) -> None:
        """Forget every injected fault not yet used (held requests stay held until released)."""
        with self._lock:
            self._faults.clear()

    def _add_fault(self, endpoint: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults[endpoint.strip("/")].extend([fault] * times)

    # ---- recorded calls -------------------------------------------------------------------------

    def calls_to(self, endpoint: str) -> list[RecordedCall]:
        """The recorded calls of one endpoint, oldest first."""
        endpoint = endpoint.strip("/")
        with self._lock:
            return [call for call in self.calls if call.endpoint == endpoint]

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self.calls.clear()

    # ---- request handling (called by _Handler threads) ------------------------------------------

    def _begin(self, endpoint: str, body: Any, headers: dict[str, str]) -> _Fault | None:
        with self._idle:
            self._in_flight += 1
        with self._lock:
            self.calls.append(RecordedCall(endpoint, body, headers))
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    def _end(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the server is shutting down."""
        return self._stopping.wait(seconds)

    def _answer(self, endpoint: str, body: Any, headers: dict[str, str]) -> _Answer:
        """Authenticate, then dispatch to the endpoint's handler."""
        denied = self._check_auth(headers)
        if denied is not None:
            return denied
        handler = self._routes().get(endpoint)
        if handler is None:
            return _Answer(404, {"success": False, "errors": [f"Unknown endpoint: {endpoint}"]})
        if not isinstance(body, dict):
            return _Answer(200, {"success": False, "errors": ["The request body must be a JSON object."]})
        try:
            with self._lock:
                return handler(body)
        except _Refusal as refusal:
            return _Answer(200, {"success": False, "errors": refusal.errors})

    def _check_auth(self, headers: dict[str, str]) -> _Answer | None:
        unauthorized = _Answer(
            401,
            {"success": False, "errors": [_UNAUTHORIZED]},
            {"WWW-Authenticate": 'Basic realm="QuantConnect API"'},
        )
        authorization, stamp = headers.get("authorization", ""), headers.get("timestamp", "")
        if not authorization.startswith("Basic ") or not stamp:
            return unauthorized
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
            timestamp = int(stamp)
        except ValueError:
            return unauthorized
        user_id, sep, given_hash = decoded.partition(":")
        if not sep or abs(self._clock() - timestamp) > AUTH_WINDOW_SECONDS:
            return unauthorized
        if user_id != self.user_id:
            return _Answer(200, {"success": False, "errors": ["UserID not valid"]})
        expected = hashlib.sha256(f"{self.api_token}:{stamp}".encode()).hexdigest()
        if not hmac.compare_digest(given_hash.encode(), expected.encode()):
            return _Answer(200, {"success": False, "errors": ["Hash doesn't match. Check the API token."]})
        return None

    def _routes(self) -> dict[str, Callable[[dict[str, Any]], _Answer]]:
        return {
            "authenticate": lambda body: _ok(),
            "projects/read": self._projects_read,
            "projects/nodes/read": self._nodes_read,
            "lean/versions/read": lambda body: _ok(versions=[dict(v) for v in self.lean_versions]),
            "compile/create": self._compile_create,
            "compile/read": self._compile_read,
            "live/create": self._live_create,
            "live/read": self._live_read,
            "live/list": self._live_list,
            "live/orders/read": self._live_orders_read,
            "live/portfolio/read": self._portfolio_read,
            "live/update/stop": lambda body: self._halt(body, "Stopped"),
            "live/update/liquidate": lambda body: self._halt(body, "Liquidated"),
            "live/auth0/authorize": lambda body: _Answer(*self.auth0.authorize(body)),
            "live/auth0/read": lambda body: _Answer(*self.auth0.read(body)),
        }

    def _project(self, project_id: Any) -> FakeProject:
        if isinstance(project_id, bool) or not isinstance(project_id, int):
            raise _Refusal("projectId: required, an integer")
        project = self._projects.get(project_id)
        if project is None:
            raise _Refusal(f"Project {project_id} not found")
        return project

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _projects_read(self, body: dict[str, Any]) -> _Answer:
        chosen = [self._project(body["projectId"])] if "projectId" in body else list(self._projects.values())
        created = _qc_time(self._now())
        projects = [
            {
                "projectId": p.project_id,
                "organizationId": "5cad178b20a1d52567b534553413b691",
                "name": p.name,
                "modified": created,
                "created": created,
                "ownerId": int(self.user_id) if self.user_id.isdigit() else 0,
                "language": "Py",
                **({"leanVersionId": p.lean_version_id} if p.lean_version_id is not None else {}),
            }
            for p in chosen
        ]
        return _ok(projects=projects, versions=[])

    def _nodes_read(self, body: dict[str, Any]) -> _Answer:
        project = self._project(body.get("projectId"))
        nodes = {"backtest": [], "research": [], "live": [node.to_json() for node in project.nodes]}
        return _ok(nodes=nodes, autoSelectNode=False)

    def _compile_create(self, body: dict[str, Any]) -> _Answer:
        project = self._project(body.get("projectId"))
        compile_id = f"{uuid.uuid4().hex}-{uuid.uuid4().hex}"
        if project.build_errors:
            final_state, logs = "BuildError", project.build_errors.popleft()
        else:
            final_state = "BuildSuccess"
            logs = [f"Build Request Successful for Project ID: {project.project_id}, CompileID: {compile_id}"]
        self._compiles[compile_id] = FakeCompile(
            compile_id, project.project_id, max(self.compile_reads, 1), final_state, logs
        )
        return _ok(
            compileId=compile_id,
            state="InQueue",
            projectId=project.project_id,
            signature="",
            signatureOrder=[],
            parameters=[],
        )

    def _compile_read(self, body: dict[str, Any]) -> _Answer:
        project = self._project(body.get("projectId"))
        job = self._compiles.get(body.get("compileId", ""))
        if job is None or job.project_id != project.project_id:
            raise _Refusal(f"Compile {body.get('compileId')} not found for project {project.project_id}")
        job.reads += 1
        logs = job.final_logs if job.state != "InQueue" else []
        return _ok(compileId=job.compile_id, state=job.state, logs=logs)

    def _live_create(self, body: dict[str, Any]) -> _Answer:
        problems = validate_live_create(body)
        if problems:
            raise _Refusal(*problems)
        project = self._project(body["projectId"])
        job = self._compiles.get(body["compileId"])
        if job is None or job.project_id != project.project_id:
            raise _Refusal(
                f"compileId: compile {body['compileId']} not found for project {project.project_id}"
            )
        if job.state != "BuildSuccess":
            raise _Refusal(f"compileId: compile {job.compile_id} is {job.state}, not BuildSuccess")
        node = next((n for n in project.nodes if n.id == body["nodeId"]), None)
        if node is None:
            raise _Refusal(f"nodeId: {body['nodeId']} is not a live node of project {project.project_id}")
        if node.busy:
            raise _Refusal(f"nodeId: node {node.name} is busy, used by {node.used_by or 'another user'}")
        running = project.active()
        if running is not None:
            raise _Refusal(
                f"Project {project.project_id} already runs deployment {running.deploy_id}; stop it first"
            )
        brokerage_id = str(body["brokerage"]["id"])
        deployment = FakeDeployment(
            deploy_id=f"L-{uuid.uuid4().hex}",
            project_id=project.project_id,
            node_id=node.id,
            brokerage=brokerage_id.removesuffix("Brokerage") or brokerage_id,
            launched=self._now(),
            body=body,
            status=self.status_walk[0],
            outcome=project.outcome,
        )
        project.outcome = None
        project.deployments.append(deployment)
        node.busy, node.used_by, node.project_name = True, self.user_name, project.name
        version = body["versionId"] if str(body["versionId"]).isdigit() else str(FAKE_LEAN_VERSION)
        if self.legacy_create_response:
            return _ok(
                responseCode="200 OK",
                versionId=str(version),
                projectId=project.project_id,
                deployId=deployment.deploy_id,
                source="api-v2",
                queueHandler="fake-queue",
            )
        live = {**self._live_json(deployment), "projectId": project.project_id, "success": True, "errors": []}
        return _ok(live=live)

    def _live_json(self, deployment: FakeDeployment) -> dict[str, Any]:
        """The fields live/read reports (the spec's LiveAlgorithmResults has no projectId)."""
        return {
            "deployId": deployment.deploy_id,
            "status": deployment.status,
            "launched": _qc_time(deployment.launched),
            "stopped": _qc_time(deployment.stopped),
            "brokerage": deployment.brokerage,
            "message": deployment.message or "",
            "projectName": self._projects[deployment.project_id].name,
            "subscription": "Strategy Equity",
            "runtimeStatistics": (
                self._statistics_of(deployment.project_id) if deployment.status == "Running" else {}
            ),
        }

    def _statistics_of(self, project_id: int) -> dict[str, str]:
        """A running deployment's runtime statistics as a test set them; "Volume" moves with its fills."""
        statistics = dict(self.runtime_statistics.get(project_id, {}))
        traded = self.orders.traded_value(project_id)
        if statistics and traded:
            statistics["Volume"] = f"${traded:,.2f}"
        return statistics

    def _advance(self, project: FakeProject, deployment: FakeDeployment) -> None:
        """One live/read step along the status walk or towards the scripted outcome."""
        if deployment.pinned or not deployment.active:
            return
        deployment.reads += 1
        outcome = deployment.outcome
        if outcome is not None and deployment.reads >= outcome[0]:
            self._set(project, deployment, outcome[1], outcome[2])
            return
        deployment.status = self.status_walk[min(deployment.reads, len(self.status_walk) - 1)]

    def _set(
        self, project: FakeProject, deployment: FakeDeployment, status: str, message: str | None
    ) -> None:
        deployment.status = status
        if message is not None:
            deployment.message = message
        if status in LIVE_TERMINAL:
            deployment.stopped = deployment.stopped or self._now()
            for node in project.nodes:
                if node.id == deployment.node_id:
                    node.busy, node.used_by, node.project_name = False, None, None

    def _live_read(self, body: dict[str, Any]) -> _Answer:
        project = self._project(body.get("projectId"))
        deploy_id = body.get("deployId")
        if deploy_id is not None:
            deployment = next((d for d in project.deployments if d.deploy_id == deploy_id), None)
            if deployment is None:
                raise _Refusal(f"Deployment {deploy_id} not found for project {project.project_id}")
        else:
            deployment = project.latest()
        if deployment is None:
            return _ok(deployId="", status="Undefined", launched=None, stopped=None, brokerage="", message="")
        if deployment.listed:
            deployment.listed = False
        else:
            self._advance(project, deployment)
        return _ok(**self._live_json(deployment))

    def _live_list(self, body: dict[str, Any]) -> _Answer:
        status = body.get("status")
        if status is not None and status not in LIST_STATUS_FILTERS:
            raise _Refusal("status: must be one of " + ", ".join(LIST_STATUS_FILTERS))
        if "projectId" in body:
            projects = [self._project(body["projectId"])]
        else:
            projects = list(self._projects.values())
        for project in projects:
            for deployment in project.deployments:
                # One step per step confirmed: a step a list showed waits for a live/read of it. A list
                # filtered by status (self-healing, /qc status) only looks: it moves nothing on.
                if status is None and deployment.active and not deployment.pinned and not deployment.listed:
                    self._advance(project, deployment)
                    deployment.listed = True
        items = [
            {
                "projectId": d.project_id,
                "deployId": d.deploy_id,
                "status": d.status,
                "launched": _qc_time(d.launched),
                "stopped": _qc_time(d.stopped),
                "brokerage": d.brokerage,
                "subscription": "Strategy Equity",
                "description": p.name,
                "error": d.message or "",
                "equity": d.equity,
            }
            for p in projects
            for d in p.deployments
            if (status is None or d.status == status) and not d.hidden
        ]
        items.sort(key=lambda item: item["launched"] or "", reverse=True)
        return _ok(live=items)

    def _live_orders_read(self, body: dict[str, Any]) -> _Answer:
        self._project(body.get("projectId"))
        try:
            return _ok(**self.orders.read(body))
        except OrderRefused as refused:
            raise _Refusal(*refused.errors) from None

    def _portfolio_read(self, body: dict[str, Any]) -> _Answer:
        """The spec's LivePortfolioResponse: holdings keyed by symbol id, cash keyed by currency."""
        project = self._project(body.get("projectId"))
        if project.latest() is None:
            raise _Refusal(f"Project {project.project_id} has no live algorithm")
        holdings, cash = project.portfolio or ({}, {})
        return _ok(
            portfolio={
                "holdings": {
                    symbol_id: {"a": price, "q": quantity, "p": price, "v": price * quantity, "u": 0, "up": 0}
                    for symbol_id, (quantity, price) in holdings.items()
                },
                "cash": {
                    currency: {
                        "symbol": currency,
                        "amount": amount,
                        "conversionRate": 1,
                        "currencySymbol": "$" if currency == "USD" else "",
                        "valueInAccountCurrency": amount,
                    }
                    for currency, amount in cash.items()
                },
            }
        )

    def _halt(self, body: dict[str, Any], status: str) -> _Answer:
        project = self._project(body.get("projectId"))
        refusal = self._halt_refusals.pop(project.project_id, None)
        if refusal is not None:
            raise _Refusal(refusal)
        deployment = project.active()
        if deployment is None:
            raise _Refusal(f"Project {project.project_id} has no live algorithm running")
        deployment.pinned = True
        self._set(project, deployment, status, None)
        return _ok()


class _Handler(BaseHTTPRequestHandler):
    """Parses one request, applies injected faults, writes the fake's answer."""

    server: ThreadingHTTPServer
    # Kept-alive connections, as QuantConnect's own servers keep them; every answer carries Content-Length.
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle would hold the body back until the
    # client's delayed ACK (40 ms) on every kept-alive exchange.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._write(_Answer(405, {"success": False, "errors": ["Use POST"]}))

    def do_POST(self) -> None:
        fake: FakeQuantConnect = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if fake._stopping.is_set():
            # A kept-alive connection outlives stop(): a stopped fake answers nothing, like a server gone.
            self._drop()
            return
        path = self.path.split("?", 1)[0]
        endpoint = path.removeprefix("/api/v2/").strip("/")
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        headers = {key.lower(): value for key, value in self.headers.items()}
        fault = fake._begin(endpoint, body, headers)
        try:
            self._serve(fake, fault, endpoint, body, headers)
        finally:
            fake._end()

    def _serve(
        self, fake: FakeQuantConnect, fault: _Fault | None, endpoint: str, body: Any, headers: dict[str, str]
    ) -> None:
        if fault is not None and fault.kind == "fail":
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            self._write(
                _Answer(fault.status, {"success": False, "errors": ["Internal server error"]}, headers)
            )
            return
        if fault is not None and fault.kind == "refuse":
            self._write(_Answer(200, {"success": False, "errors": list(fault.errors)}))
            return
        if fault is not None and fault.kind == "drop":
            if fault.create_first and endpoint == "live/create":
                fake._answer(endpoint, body, headers)
            self._drop()
            return
        if fault is not None and fault.kind == "delay" and fake._sleep(fault.seconds):
            self._drop()
            return
        if fault is not None and fault.kind == "hold" and fake._wait_for_release():
            self._drop()
            return
        self._write(fake._answer(endpoint, body, headers))

    def _write(self, answer: _Answer) -> None:
        data = json.dumps(answer.payload).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up (timeout) and closed its end; nothing left to tell it.
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
