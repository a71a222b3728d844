"""Model-based test of the deploy state machine: random interleavings, the invariants after every step.

Hypothesis drives real services (request service, deployer, watcher, recovery) of several replicas that share
one real store (SQLite, and PostgreSQL when available) and the fake QuantConnect over HTTP. Rules: submit,
approve (duplicate and concurrent clicks, on any replica), reject, cancel, expire, replica start and graceful
stop, replica crash (now, or at a deploy stage), QuantConnect faults (timeout, 5xx, `success:false`, dropped
connections, a create that appears late, status changes, restarts), database errors at each write, time.
OAuth brokerages (Alpaca with an `auth=quantconnect` profile): QuantConnect's authorization is missing, given,
or withdrawn at any point, or never given before the request's time to live runs out.

After every step:
- at most one live/create per request, and an OAuth request's carries QuantConnect's token;
- an OAuth request's requester gets the authorization link by DM at most once;
- a request whose deployment runs on QuantConnect is deploying (settling) or live, never failed or ended
  (a deployment that appears after its request was failed is healed by the next recovery round);
- every live request's deployment is watched (a row to poll) and its card offers Stop and Liquidate;
- a project lock is held exactly while its request is not final;
- work a dead replica held is taken over once its lease expired: after a recovery round no in-flight request
  belongs to a replica whose lease has expired.
At the end (faults off, time moved past every lease and settle window): every request is final or live.

CI runs a bounded, fixed set of examples; a long local run explores fresh ones:
    QC_MODEL_EXAMPLES=3000 .venv/bin/python -m pytest tests/test_deploy_model.py -p no:cacheprovider
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.blocks.card import request_card
from bot.config import PolicySettings
from bot.deployer import Deployer
from bot.forms import DeployForm
from bot.ids import Action
from bot.policy import Policy
from bot.quantconnect.client import QuantConnectClient
from bot.requests import RequestService
from bot.secrets import CredentialProfiles, EnvSecretStore
from bot.statuses import IN_FLIGHT, LIVE_TERMINAL, OPEN, RequestStatus
from bot.store import DeployRequest, Store
from bot.store import tables as store_tables
from bot.watcher import Watcher
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION, FakeQuantConnect
from tests.support import pg
from tests.support.clocks import ManualClock
from tests.support.examples import example_profiles, profile_env
from tests.support.world import RecordingNotifier, make_client, make_settings

S = RequestStatus
EXAMPLES = int(os.environ.get("QC_MODEL_EXAMPLES", "200"))
# The default run (CI's) walks the same examples every time, so a red CI names a change, not a lucky draw;
# a long run (QC_MODEL_EXAMPLES set) explores fresh ones and prints the blob that reproduces a failure.
EXPLORE = "QC_MODEL_EXAMPLES" in os.environ
STEPS = int(os.environ.get("QC_MODEL_STEPS", "30"))
LEASE = 20.0
APPROVERS = ("UAPPROVER1", "UAPPROVER2")
REQUESTER = "UREQUESTER"
CRASH_STAGES = ("authorize", "compile", "create_before", "create_after", "record")
DB_WRITES = (
    "transition",
    "start_deployment",
    "schedule_check",
    "record_status",
    "claim_request",
)
# An Alpaca profile whose trading token QuantConnect's authorization supplies (live/auth0/read).
OAUTH_PROFILE = "alpaca-qc"
OAUTH_TOKEN = "model-alpaca-token-5c1e"
REQUEST_TTL_MINUTES = 30  # shorter than the final settling (4 x 700 s), so a wait never outlives the run


class SimulatedCrash(BaseException):
    """The process dies here: nothing after this line runs, no `except Exception` sees it."""


class SyncExecutor(Executor):
    """Runs each submitted deploy at once, in the caller's thread, so every step is deterministic."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class CrashingClient:
    """A replica's QuantConnect client that can be told to die at one point of a deployment."""

    def __init__(self, client: QuantConnectClient) -> None:
        self._client = client
        self.crash_at: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def arm(self, stage: str) -> None:
        self.crash_at = stage

    def maybe_crash(self, stage: str) -> None:
        if self.crash_at == stage:
            self.crash_at = None
            raise SimulatedCrash(stage)

    def read_authorization(self, brokerage: str) -> Any:
        self.maybe_crash("authorize")
        return self._client.read_authorization(brokerage)

    def create_compile(self, project_id: int) -> Any:
        self.maybe_crash("compile")
        return self._client.create_compile(project_id)

    def create_live(self, body: dict[str, Any]) -> Any:
        self.maybe_crash("create_before")
        try:
            return self._client.create_live(body)
        finally:
            self.maybe_crash("create_after")


@dataclass
class Replica:
    """One bot process: its store (replica id and lease), client, deployer, watcher and request service."""

    name: str
    store: Store
    client: CrashingClient
    deployer: Deployer
    watcher: Watcher
    requests: RequestService
    alive: bool = True
    db_faults: set[str] = field(default_factory=set)


def wipe(url: str) -> None:
    """Empty every table (one database serves all the examples of a test)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            for table in reversed(store_tables.metadata.sorted_tables):
                if sa.inspect(connection).has_table(table.name) and table.name != "schema_version":
                    connection.execute(table.delete())
    finally:
        engine.dispose()


class DeployModel(RuleBasedStateMachine):
    """The deploy state machine of several replicas against the fake QuantConnect."""

    requests = Bundle("requests")

    def __init__(self, url: str, qc: FakeQuantConnect) -> None:
        super().__init__()
        self.url = url
        self.qc = qc
        qc.clear_faults()
        qc.release_held()
        wipe(url)
        self.clock = ManualClock()
        # QuantConnect's clock and ours agree (within the deployer's skew allowance), as in production: the
        # fake stamps deployments, and checks auth, on the model's time.
        qc._clock = self.epoch
        self.settings = make_settings(
            qc_timeout_seconds=0.15,
            policy=PolicySettings(
                approver_user_ids=frozenset(APPROVERS),
                approvals_paper=0,
                approvals_live=1,
                request_ttl_minutes=REQUEST_TTL_MINUTES,
            ),
        )
        qc.auth0.expire("alpaca")
        oauth = {OAUTH_PROFILE: ("AlpacaBrokerage", {"auth": "quantconnect"})}
        self.profiles = CredentialProfiles(
            EnvSecretStore(environ=profile_env({**example_profiles(), **oauth}))
        )
        self.replicas: list[Replica] = []
        self.tracked: dict[str, int] = {}  # request id -> its project (one project per request)
        self.healing_due: set[str] = set()  # failed requests whose deployment appeared after they failed
        self.counter = 0

    def epoch(self) -> float:
        """The model's time as a unix timestamp (for the fake and the client's auth header)."""
        return self.clock().timestamp()

    # -- replicas ------------------------------------------------------------------------------------

    def _start(self) -> Replica:
        self.counter += 1
        name = f"replica-{self.counter}"
        store = Store(self.url, replica_id=name, migrate=self.counter == 1)
        store.heartbeat(self.clock(), LEASE)
        client = CrashingClient(
            make_client(self.qc, timeout=0.15, max_retries=0, backoff_base=0.0, clock=self.epoch)
        )
        notifier = RecordingNotifier(store)
        deployer = Deployer(
            store,
            client,  # type: ignore[arg-type]
            self.profiles,
            notifier,
            self.settings,
            self.clock,
            max_workers=1,
            compile_first_delay=0.001,
            compile_max_delay=0.001,
        )
        deployer._executor = SyncExecutor()  # type: ignore[assignment]
        watcher = Watcher(store, client, notifier, self.settings, self.clock)  # type: ignore[arg-type]
        service = RequestService(
            store,
            Policy(self.settings.policy, None, self.clock),  # type: ignore[arg-type]
            self.profiles,
            notifier,  # type: ignore[arg-type]
            deployer.submit,
            self.settings,
            self.clock,
        )
        replica = Replica(name, store, client, deployer, watcher, service)
        self.replicas.append(replica)
        return replica

    def _alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    def _act(self, replica: Replica, action: Callable[[], object]) -> None:
        """Run an action of a replica: a simulated crash kills it, an injected database error is an outage."""
        try:
            action()
        except SimulatedCrash:
            replica.alive = False
        except sa.exc.OperationalError:
            pass  # the injected outage: the click or step failed, as it would against a dead database

    def _pick(self, index: int) -> Replica:
        alive = self._alive()
        return alive[index % len(alive)]

    @initialize()
    def first_replica(self) -> None:
        self._start()

    def teardown(self) -> None:
        try:
            self._settle_everything()
        finally:
            self.qc.release_held()
            for replica in self.replicas:
                replica.client.close()
                replica.store.dispose()

    # -- rules: people ---------------------------------------------------------------------------------

    @precondition(lambda self: self._alive())
    @rule(
        target=requests,
        kind=st.sampled_from(["paper", "ib", "oauth-paper", "oauth-live"]),
        who=st.integers(0, 9),
    )
    def submit(self, kind: str, who: int) -> str:
        replica = self._pick(who)
        self.counter += 1
        name = f"Model {self.counter}"
        project_id = self.qc.add_project(name)
        model_key, profile, chosen = {
            "paper": ("QuantConnectSettings", "quantconnect", {}),
            "ib": (
                "InteractiveBrokersSettings",
                "interactivebrokers",
                {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"},
            ),
            "oauth-paper": ("AlpacaBrokerageSettings", OAUTH_PROFILE, {"alpaca-environment": "paper"}),
            "oauth-live": ("AlpacaBrokerageSettings", OAUTH_PROFILE, {"alpaca-environment": "live"}),
        }[kind]
        form = DeployForm(
            model_key=model_key,
            profile=profile,
            project_id=project_id,
            project_name=name,
            version_id=str(FAKE_LEAN_VERSION),
            settings=chosen,
            reason="model",
        )
        created: list[DeployRequest] = []
        self._act(replica, lambda: created.append(replica.requests.create(form, requester_id=REQUESTER)))
        if not created:
            return ""
        request = created[0]
        self.tracked[request.id] = project_id
        if request.status is S.APPROVED:
            self._act(replica, lambda: replica.deployer.submit(request.id))
        return request.id

    @precondition(lambda self: self._alive())
    @rule(request_id=requests, who=st.integers(0, 9), user=st.sampled_from(APPROVERS))
    def approve(self, request_id: str, who: int, user: str) -> None:
        if request_id:
            replica = self._pick(who)
            self._act(replica, lambda: replica.requests.approve(request_id, user))

    @precondition(lambda self: self._alive())
    @rule(request_id=requests, first=st.integers(0, 9), second=st.integers(0, 9), same_user=st.booleans())
    def approve_twice_at_once(self, request_id: str, first: int, second: int, same_user: bool) -> None:
        """Two clicks (the same one redelivered, or two approvers) reach two replicas at the same time."""
        if not request_id:
            return
        clicks = [(self._pick(first), APPROVERS[0]), (self._pick(second), APPROVERS[0 if same_user else 1])]
        barrier = threading.Barrier(2)

        def click(replica: Replica, user: str) -> None:
            barrier.wait()
            self._act(replica, lambda: replica.requests.approve(request_id, user))

        threads = [threading.Thread(target=click, args=pair) for pair in clicks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    @precondition(lambda self: self._alive())
    @rule(request_id=consumes(requests), reject=st.booleans(), who=st.integers(0, 9))
    def reject_or_cancel(self, request_id: str, reject: bool, who: int) -> None:
        if request_id:
            replica = self._pick(who)
            if reject:
                self._act(replica, lambda: replica.requests.reject(request_id, APPROVERS[1], "no"))
            else:
                self._act(replica, lambda: replica.requests.cancel(request_id, REQUESTER))

    # -- rules: replicas ---------------------------------------------------------------------------------

    @precondition(lambda self: len(self._alive()) < 3)
    @rule()
    def start_replica(self) -> None:
        replica = self._start()
        self._act(replica, replica.deployer.resume)

    @precondition(lambda self: len(self._alive()) > 1)
    @rule(who=st.integers(0, 9))
    def stop_replica(self, who: int) -> None:
        """A graceful stop (SIGTERM): running work finishes or goes back, the lease goes."""
        replica = self._pick(who)
        replica.deployer.shutdown(wait=True, timeout=10)
        replica.watcher.stop()
        replica.store.retire()
        replica.alive = False

    @precondition(lambda self: len(self._alive()) > 1)
    @rule(who=st.integers(0, 9))
    def kill_replica(self, who: int) -> None:
        """kill -9: nothing is handed back, the lease simply stops being renewed."""
        self._pick(who).alive = False

    @precondition(lambda self: self._alive())
    @rule(who=st.integers(0, 9), stage=st.sampled_from(CRASH_STAGES))
    def arm_crash(self, who: int, stage: str) -> None:
        replica = self._pick(who)
        if stage == "record":
            real = replica.store.start_deployment

            def crash_on_record(*args: Any, **kwargs: Any) -> Any:
                replica.store.start_deployment = real  # type: ignore[method-assign]
                raise SimulatedCrash("record")

            replica.store.start_deployment = crash_on_record  # type: ignore[method-assign]
        else:
            replica.client.arm(stage)

    @precondition(lambda self: self._alive())
    @rule(who=st.integers(0, 9), write=st.sampled_from(DB_WRITES))
    def arm_database_error(self, who: int, write: str) -> None:
        """The next such write of this replica fails as if the database dropped the connection."""
        replica = self._pick(who)
        if write in replica.db_faults:
            return
        real = getattr(replica.store, write)

        def fail_once(*args: Any, **kwargs: Any) -> Any:
            setattr(replica.store, write, real)
            replica.db_faults.discard(write)
            raise sa.exc.OperationalError(write, {}, Exception("server closed the connection"))

        setattr(replica.store, write, fail_once)
        replica.db_faults.add(write)

    # -- rules: QuantConnect -----------------------------------------------------------------------------

    @rule(
        fault=st.sampled_from(
            ["hold", "create_500", "create_refused", "drop_after_create", "drop_before_create", "read_502"]
        )
    )
    def quantconnect_fault(self, fault: str) -> None:
        """The next call of that kind goes wrong the way QuantConnect's do."""
        if fault == "hold":
            self.qc.hold("live/create")  # the client times out; QuantConnect acts only when released
        elif fault == "create_500":
            self.qc.fail("live/create", status=500)
        elif fault == "create_refused":
            self.qc.refuse("live/create", ["Brokerage login failed"])
        elif fault == "drop_after_create":
            self.qc.drop_connection("live/create", create_first=True)
        elif fault == "drop_before_create":
            self.qc.drop_connection("live/create", create_first=False)
        else:
            self.qc.fail("live/read", status=502)

    @rule(given=st.booleans(), after_reads=st.integers(0, 2))
    def quantconnect_authorization_changes(self, given: bool, after_reads: int) -> None:
        """The requester authorizes Alpaca on QuantConnect (seen after some reads), or it runs out."""
        if given:
            self.qc.auth0.grant("alpaca", {"alpaca-access-token": OAUTH_TOKEN}, after_reads=after_reads)
        else:
            self.qc.auth0.expire("alpaca")

    @rule()
    def quantconnect_acts_on_held_requests(self) -> None:
        self.qc.release_held()
        self._note_late_deployments()

    @rule(request_id=requests, status=st.sampled_from(["Running", "RuntimeError", "Stopped", "DeployError"]))
    def deployment_changes(self, request_id: str, status: str) -> None:
        """QuantConnect moves a deployment on, or restarts a crashed one (automatic redeploy)."""
        project_id = self.tracked.get(request_id)
        latest = self.qc.deployments(project_id)[-1:] if project_id else []
        if not latest:
            return
        if latest[0].status in LIVE_TERMINAL and not (
            latest[0].status == "RuntimeError" and status == "Running"
        ):
            return  # ended for good
        self.qc.set_status(project_id, status)  # type: ignore[arg-type]
        self._note_late_deployments()

    # -- rules: time -------------------------------------------------------------------------------------

    @precondition(lambda self: self._alive())
    @rule(seconds=st.sampled_from([1, 5, 25, 700]))
    def time_passes(self, seconds: int) -> None:
        """Time moves on: live replicas beat, recover (take over, settle, heal), watch and expire."""
        now = self.clock.advance(seconds)
        for replica in self._alive():
            self._act(replica, lambda r=replica: r.store.heartbeat(now, LEASE))
        for replica in self._alive():
            self._act(replica, replica.deployer.resume)
            self._act(replica, replica.deployer.heal)
            self._act(replica, lambda r=replica: r.watcher.run_once(now))
            self._act(replica, lambda r=replica: r.store.expire_due(now))
        self.healing_due = {r for r in self.healing_due if self._status(r) is S.FAILED}
        if self._alive() and not any(r.db_faults for r in self.replicas):
            self._check_no_orphan()

    # -- invariants --------------------------------------------------------------------------------------

    def _status(self, request_id: str) -> RequestStatus | None:
        request = self.replicas[0].store.get_request(request_id)
        return None if request is None else request.status

    def _running_on_quantconnect(self, request_id: str) -> bool:
        deployments = self.qc.deployments(self.tracked[request_id])
        return bool(deployments) and deployments[-1].status not in LIVE_TERMINAL

    def _note_late_deployments(self) -> None:
        for request_id in self.tracked:
            if self._running_on_quantconnect(request_id) and self._status(request_id) is S.FAILED:
                self.healing_due.add(request_id)

    def _check_no_orphan(self) -> None:
        store = self.replicas[0].store
        now = self.clock()
        alive = {r.id for r in store.replicas(now) if r.alive}
        for request_id in self.tracked:
            request = store.get_request(request_id)
            if request is not None and request.status in IN_FLIGHT:
                assert request.owner in alive, f"{request_id} ({request.status}) left to {request.owner}"

    @invariant()
    def at_most_one_create_per_request(self) -> None:
        creates: dict[int, int] = {}
        for call in self.qc.calls_to("live/create"):
            project_id = call.body.get("projectId") if isinstance(call.body, dict) else None
            creates[project_id] = creates.get(project_id, 0) + 1  # type: ignore[index]
        for request_id, project_id in self.tracked.items():
            assert creates.get(project_id, 0) <= 1, f"{request_id} sent live/create twice"

    @invariant()
    def an_oauth_create_carries_the_token_and_its_link_went_out_once(self) -> None:
        for call in self.qc.calls_to("live/create"):
            brokerage = call.body.get("brokerage", {}) if isinstance(call.body, dict) else {}
            if brokerage.get("id") == "AlpacaBrokerage":
                assert brokerage.get("alpaca-access-token") == OAUTH_TOKEN, "live/create without the token"
        with self.replicas[0].store._reader.begin() as connection:
            dms = connection.execute(
                sa.select(store_tables.outbox.c.request_id, sa.func.count())
                .where(store_tables.outbox.c.kind == "dm")
                .group_by(store_tables.outbox.c.request_id)
            ).all()
        assert all(count == 1 for _, count in dms), f"an authorization link went out twice: {dms}"

    @invariant()
    def a_lock_is_held_exactly_while_the_request_is_open(self) -> None:
        store = self.replicas[0].store
        for request_id, project_id in self.tracked.items():
            request = store.get_request(request_id)
            holder = store.open_request_for_project(project_id)
            if request is None:
                continue
            if request.status in OPEN:
                assert holder is not None and holder.id == request_id, f"{request_id} open without its lock"
            else:
                assert holder is None, f"{request_id} ({request.status}) still holds its project"

    @invariant()
    def a_running_deployment_is_live_watched_and_stoppable(self) -> None:
        store = self.replicas[0].store
        for request_id in self.tracked:
            request = store.get_request(request_id)
            if request is None or not self._running_on_quantconnect(request_id):
                continue
            if request.status is S.FAILED and request_id in self.healing_due:
                continue  # appeared after it failed: the next recovery round heals it
            assert request.status in (S.DEPLOYING, S.LIVE), f"{request_id} runs but is {request.status}"
            if request.status is S.LIVE:
                deployment = store.get_deployment(request_id)
                assert deployment is not None, f"{request_id} runs unwatched"
                _, blocks = request_card(
                    request, approvals=[], deployment=deployment, model_name="model", now=self.clock()
                )
                buttons = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
                if deployment.is_active:
                    assert {Action.STOP.value, Action.LIQUIDATE.value} <= buttons, f"{request_id} no Stop"

    def _settle_everything(self) -> None:
        """Faults off, QuantConnect catches up, time passes every lease and window: all must settle."""
        self.qc.clear_faults()
        self.qc.release_held()
        for replica in self.replicas:
            replica.client.crash_at = None
            # Injected crashes and outages are instance attributes over the store's own methods.
            for name in ("start_deployment", *DB_WRITES):
                replica.store.__dict__.pop(name, None)
            replica.db_faults.clear()
        for _ in range(4):
            if not self._alive():
                self._start()
            self._note_late_deployments()
            self.time_passes(700)
        store = self.replicas[0].store
        for request_id in self.tracked:
            request = store.get_request(request_id)
            assert request is not None
            assert request.status not in IN_FLIGHT, f"{request_id} never settled ({request.status})"
            if self._running_on_quantconnect(request_id):
                assert request.status is S.LIVE, f"{request_id} runs but ended {request.status}"
        self.a_lock_is_held_exactly_while_the_request_is_open()
        self.at_most_one_create_per_request()


@pytest.fixture(scope="module")
def quantconnect() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as qc:
        yield qc
        qc._clock = time.time


@pytest.mark.timeout(7200)  # a long local run (QC_MODEL_EXAMPLES) takes as long as it takes
@pytest.mark.parametrize("backend", pg.BACKENDS)
def test_the_deploy_state_machine_keeps_its_invariants(
    backend: str, tmp_path: Path, quantconnect: FakeQuantConnect
) -> None:
    url = pg.database_url(backend, tmp_path)
    examples = EXAMPLES if backend == "sqlite" else max(1, EXAMPLES // 2)
    run_state_machine_as_test(
        lambda: DeployModel(url, quantconnect),
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=not EXPLORE,
            print_blob=True,
        ),
    )
