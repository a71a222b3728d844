"""Bench plumbing: fakes with arrival times, a bare Bolt app, a bounded load generator, CPU/RSS sampling.

Benches run from the repository root (`python bench/<name>.py`); they import the test fakes and harness, so
the repository root goes on sys.path here. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import logging
import math
import multiprocessing
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
from slack_bolt import Ack, App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot.quantconnect.errors import QuantConnectError  # noqa: E402
from bot.server import BotWsgiApp, make_server  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.models import DeployRequest, NewRequest, RequestStatus  # noqa: E402
from tests.fakes.fake_quantconnect import (  # noqa: E402
    FakeDeployment,
    FakeQuantConnect,
    _Fault,
)
from tests.fakes.slack_requests import sign  # noqa: E402
from tests.support.bot import DEPLOY_CHANNEL, REQUESTER  # noqa: E402

SERVER_THREADS = 8


# ---- time limits ------------------------------------------------------------------------------------


def quiet_logs() -> None:
    """Warnings only: waitress reports every queued task, which would drown the table."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def hard_cap(seconds: float) -> None:
    """Abort the whole process (with every thread's traceback) if the bench runs longer than `seconds`."""
    faulthandler.dump_traceback_later(seconds, exit=True)


def cancel_hard_cap() -> None:
    """Disarm `hard_cap` once the bench has finished."""
    faulthandler.cancel_dump_traceback_later()


# ---- statistics -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(latencies: Sequence[float], wall_seconds: float, errors: int = 0) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds and throughput in requests per second."""
    count = len(latencies)
    return {
        "n": count,
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (max(latencies) * 1000) if latencies else math.nan,
        "mean_ms": (sum(latencies) / count * 1000) if count else math.nan,
        "throughput_rps": count / wall_seconds if wall_seconds > 0 else math.nan,
    }


# ---- load generation --------------------------------------------------------------------------------


@dataclass
class SignedRequest:
    """One Slack request body to POST signed to an app's /slack/events; signed at send time like Slack."""

    body: bytes
    content_type: str = "application/x-www-form-urlencoded"


@dataclass
class LoadResult:
    """Latencies (seconds) of the requests that were answered, plus what went wrong."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    wall_seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """Latency percentiles and throughput; non-200 answers and transport errors count as errors."""
        bad = len(self.errors) + sum(1 for status in self.statuses if status != 200)
        return {**summarize(self.latencies, self.wall_seconds, bad), "skipped": self.skipped}


def run_load(
    url: str,
    signing_secret: str,
    requests: Sequence[SignedRequest],
    *,
    concurrency: int,
    deadline: float,
    timeout: float = 10.0,
) -> LoadResult:
    """POST every request (signed) with `concurrency` workers; requests not started by `deadline` are skipped.

    Only the HTTP round trip is timed: the body is built beforehand and signing costs microseconds.
    """
    result = LoadResult()
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    endpoint = url.rstrip("/") + "/slack/events"
    with httpx.Client(timeout=timeout, limits=limits) as client:

        def send(request: SignedRequest) -> None:
            if time.monotonic() > deadline:
                with lock:
                    result.skipped += 1
                return
            headers = sign(signing_secret, request.body, content_type=request.content_type)
            started = time.perf_counter()
            try:
                response = client.post(endpoint, content=request.body, headers=headers)
            except httpx.HTTPError as exc:
                with lock:
                    result.errors.append(type(exc).__name__)
                return
            elapsed = time.perf_counter() - started
            with lock:
                result.latencies.append(elapsed)
                result.statuses.append(response.status_code)
                result.bodies.append(response.text)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
            list(pool.map(send, requests))
        result.wall_seconds = time.perf_counter() - started
    return result


class LoadDriver:
    """Runs `run_load` in a child process of its own, reused across phases.

    The fakes the bot calls (views.open, views.update, projects/read, ...) are served by this process. With
    the load generator in here too, its clock ran while its threads waited for the GIL held by the fake
    servers: during the bot's command phase this process used 95% of a core while the bot used 25%, so
    the bot's acks were timed slow by the benchmark itself (the bare app calls no fake, so it was not).
    """

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def run(
        self,
        url: str,
        signing_secret: str,
        requests: Sequence[SignedRequest],
        *,
        concurrency: int,
        deadline: float,
    ) -> LoadResult:
        """`run_load` in the child; `deadline` is time.monotonic, which is the same clock in every process."""
        future = self._pool.submit(
            run_load, url, signing_secret, list(requests), concurrency=concurrency, deadline=deadline
        )
        return future.result()

    def close(self) -> None:
        """Stop the child process."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---- fakes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """When (time.perf_counter) a request reached the fake QuantConnect server, and what it was."""

    endpoint: str
    at: float
    body: Any


class TimedFakeQuantConnect(FakeQuantConnect):
    """FakeQuantConnect that also records each request's arrival time and can seed live deployments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: list[Arrival] = []
        self._arrival_lock = threading.Condition()

    def _begin(self, endpoint: str, body: Any, headers: dict[str, str]) -> _Fault | None:
        at = time.perf_counter()
        with self._arrival_lock:
            self.arrivals.append(Arrival(endpoint, at, body))
            self._arrival_lock.notify_all()
        return super()._begin(endpoint, body, headers)

    def wait_for_arrival(
        self, endpoint: str, project_id: int, since: float, timeout: float
    ) -> Arrival | None:
        """The first request to `endpoint` for `project_id` after `since`, waiting up to `timeout`."""

        def found() -> Arrival | None:
            return next(
                (
                    a
                    for a in reversed(self.arrivals)
                    if a.endpoint == endpoint
                    and a.at >= since
                    and isinstance(a.body, dict)
                    and a.body.get("projectId") == project_id
                ),
                None,
            )

        with self._arrival_lock:
            if self._arrival_lock.wait_for(found, timeout=timeout):
                return found()
        return None

    def arrivals_of(self, endpoint: str, since: float = 0.0) -> list[Arrival]:
        """Arrivals at `endpoint` from perf_counter time `since` on."""
        with self._arrival_lock:
            return [a for a in self.arrivals if a.endpoint == endpoint and a.at >= since]

    def count(self, endpoint: str, since: float = 0.0) -> int:
        """How many requests reached `endpoint` since `since`."""
        return len(self.arrivals_of(endpoint, since))

    def seed_live(self, project_id: int, status: str = "Running", brokerage: str = "Tradier") -> str:
        """Put a deployment on the project's first node as if live/create had run; returns its deploy id."""
        with self._lock:
            project = self._projects[project_id]
            node = project.nodes[0]
            deployment = FakeDeployment(
                deploy_id=f"L-bench-{project_id}",
                project_id=project_id,
                node_id=node.id,
                brokerage=brokerage,
                launched=datetime.now(UTC),
                body={},
                status=status,
                pinned=True,  # stays put until the bench changes it: no walk along the default statuses
            )
            project.deployments.append(deployment)
            node.busy, node.used_by, node.project_name = True, self.user_name, project.name
            return deployment.deploy_id


# ---- the bare Bolt app ------------------------------------------------------------------------------


_BARE_MODAL = {
    "type": "modal",
    "callback_id": "bare",
    "title": {"type": "plain_text", "text": "Deploy"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "A bare modal"}}],
}
_BARE_CARD = [{"type": "section", "text": {"type": "mrkdwn", "text": "A bare card"}}]


class SameCalls:
    """After its ack, the bare app makes the Slack and QuantConnect calls the bot makes for that request.

    Counted from the fakes during an ack_latency run (per request): `/qc deploy` views.open on the listener,
    then projects/nodes/read and views.update on two after-ack threads; a brokerage change views.update; a
    submission chat.postMessage (the card), chat.getPermalink and chat.postEphemeral on two announcer
    threads; an approval, on four deploy threads, compile/create, compile/read, projects/nodes/read,
    live/read and live/create (refused: the bare body names no compile, which costs the same round trip),
    then the card's chat.update and two thread replies. Slack writes are paced per channel like the bot's
    (SLACK_CHANNEL_INTERVAL_SECONDS). Same transports as the bot (pooled http.client for Slack, the bot's
    QuantConnect client); none of the bot's own work (store, policy, masking, Block Kit building).
    Not mirrored: the watcher's calls for the deployments the approvals start (they are not per request).
    """

    def __init__(self, slack_api_url: str, bot_token: str, environ: Mapping[str, str]) -> None:
        from bot.quantconnect.client import QuantConnectClient
        from bot.slack_transport import PooledWebClient

        self.slack = PooledWebClient(token=bot_token, base_url=slack_api_url, timeout=15)
        self.qc = QuantConnectClient(
            environ["QC_USER_ID"], environ["QC_API_TOKEN"], base_url=environ["QC_API_URL"], timeout=30
        )
        self.channel = environ.get("DEPLOY_CHANNEL_ID", "CDEPLOY")
        self.project_id = int(environ["BARE_PROJECT_ID"])
        self.pace_seconds = float(environ.get("SLACK_CHANNEL_INTERVAL_SECONDS", "1"))
        self.after_ack = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bare-after-ack")
        self.announcer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bare-announcer")
        self.deploys = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bare-deploy")
        self._pace_lock = threading.Lock()
        self._next_slot = 0.0
        self._scratch: str | None = None
        self._triggers = 0

    def _pace(self) -> None:
        with self._pace_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.pace_seconds
        if slot > now:
            time.sleep(slot - now)

    def _open(self, trigger_id: str) -> str:
        # Never the bot's trigger: a trigger works once, and the bot gets the same bodies after this app.
        opened = self.slack.views_open(trigger_id=f"{trigger_id}-bare", view=_BARE_MODAL)
        return str(opened["view"]["id"])

    def command(self, body: Mapping[str, Any]) -> None:
        """`/qc deploy <project>`: open a modal now, fill it in after the ack."""
        words = str(body.get("text") or "").split()
        if not words or words[0] != "deploy":
            return  # /qc help: answered in the ack, nothing after it
        project_id = int(words[1]) if len(words) > 1 and words[1].isdigit() else self.project_id
        view_id = self._open(str(body.get("trigger_id")))

        def fill_in() -> None:
            self.qc.read_nodes(project_id)
            self.slack.views_update(view_id=view_id, view=_BARE_MODAL)

        self.after_ack.submit(fill_in)

    def brokerage(self) -> None:
        """A brokerage change: the modal rebuilt and sent (to this app's own view, not the bot's)."""
        with self._pace_lock:
            if self._scratch is None:
                self._triggers += 1
                self._scratch = self._open(f"bare-scratch-{self._triggers}")
            view_id = self._scratch
        self.slack.views_update(view_id=view_id, view=_BARE_MODAL)

    def submission(self, user_id: str) -> None:
        """A submission: the card posted (paced), its permalink, an ephemeral with the link."""

        def announce() -> None:
            self._pace()
            posted = self.slack.chat_postMessage(channel=self.channel, text="A bare card", blocks=_BARE_CARD)
            self.slack.chat_getPermalink(channel=self.channel, message_ts=str(posted["ts"]))
            self.slack.chat_postEphemeral(channel=self.channel, user=user_id, text="Posted")

        self.announcer.submit(announce)

    def approval(self, channel: str, message_ts: str | None) -> None:
        """An approval: a deployment's QuantConnect calls, then the card update and two replies (paced)."""

        def deploy() -> None:
            compiled = self.qc.create_compile(self.project_id)
            self.qc.read_compile(self.project_id, compiled.compile_id)
            self.qc.read_nodes(self.project_id)
            self.qc.read_live(self.project_id)
            with contextlib.suppress(QuantConnectError):  # refused by the fake, as intended
                self.qc.create_live({"projectId": self.project_id})
            if message_ts:
                self._pace()
                self.slack.chat_update(channel=channel, ts=message_ts, text="A bare card", blocks=_BARE_CARD)
                for text in ("Compiling", "Deploying"):
                    self._pace()
                    self.slack.chat_postMessage(channel=channel, thread_ts=message_ts, text=text)

        self.deploys.submit(deploy)


def bare_bolt_server(
    signing_secret: str,
    slack_api_url: str,
    bot_token: str,
    port: int = 0,
    *,
    same_calls: SameCalls | None = None,
) -> Any:
    """A Bolt app whose listeners ack(), on waitress exactly like the bot (bound, not yet running).

    It gets the same (valid) bot token as the bot, so Bolt's one-time auth.test succeeds and is cached.
    With `same_calls`, each listener then makes the Slack and QuantConnect calls the bot makes for that
    request (SameCalls), so that a comparison with the bot isolates the bot's own work.
    """
    app = App(
        client=WebClient(token=bot_token, base_url=slack_api_url),
        signing_secret=signing_secret,
        request_verification_enabled=True,
        token_verification_enabled=False,
        process_before_response=False,
        logger=logging.getLogger("bench.bare"),
    )

    @app.command("/qc")
    def command(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if same_calls is not None:
            same_calls.command(body)

    @app.view("deploy")
    def submission(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if same_calls is not None:
            same_calls.submission(str(body.get("user", {}).get("id") or ""))

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if same_calls is not None:
            channel = str((body.get("channel") or {}).get("id") or same_calls.channel)
            same_calls.approval(channel, (body.get("message") or {}).get("ts"))

    @app.action("brokerage_select")
    def brokerage(ack: Ack) -> None:
        ack()
        if same_calls is not None:
            same_calls.brokerage()

    return make_server(
        BotWsgiApp(app, lambda: {"ok": True}), host="127.0.0.1", port=port, threads=SERVER_THREADS
    )


# ---- subprocesses -----------------------------------------------------------------------------------


def start_process(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A child process with only `env` (plus PATH and the repo on PYTHONPATH), output to `log_path`."""
    child_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT), **env}
    log = log_path.open("wb")
    return subprocess.Popen(list(argv), cwd=REPO_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)


def start_bot(env: Mapping[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m bot --http --port PORT`: the production entry point, waitress, signatures on."""
    return start_process([sys.executable, "-m", "bot", "--http", "--port", str(port)], env, log_path)


def stop_process(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (a clean shutdown), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def healthy(port: int) -> bool:
    """True when 127.0.0.1:port answers GET /healthz with 200."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# ---- process measurement ----------------------------------------------------------------------------


@dataclass
class ProcessSample:
    """CPU seconds (user+system) and RSS of a process at one moment."""

    at: float
    cpu_seconds: float
    rss_bytes: int


def read_process(pid: int) -> ProcessSample:
    """CPU time and RSS of `pid` from /proc (clock ticks and pages), no psutil needed."""
    with open(f"/proc/{pid}/stat") as stat_file:
        # The command name may hold spaces; fields after the closing parenthesis are fixed.
        fields = stat_file.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime = int(fields[11]), int(fields[12])
    rss_pages = int(fields[21])
    return ProcessSample(time.monotonic(), (utime + stime) / ticks, rss_pages * os.sysconf("SC_PAGE_SIZE"))


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as stat_file:
        fields = [int(value) for value in stat_file.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def peak_rss_bytes(pid: int) -> int:
    """The process's high-water RSS (VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as status_file:
        for line in status_file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class ProcessSampler:
    """Samples one process's CPU time and RSS on a background thread between start() and stop()."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[ProcessSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        """Take a first sample and keep sampling."""
        self.samples.append(read_process(self.pid))
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.samples.append(read_process(self.pid))
            except OSError:
                return  # the process ended

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU share of one core over the window, mean and peak RSS in MB."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.samples.append(read_process(self.pid))
            high_water = peak_rss_bytes(self.pid)
        except OSError:
            high_water = 0
        first, last = self.samples[0], self.samples[-1]
        wall = last.at - first.at
        share = (last.cpu_seconds - first.cpu_seconds) / wall if wall > 0 else math.nan
        rss = [s.rss_bytes for s in self.samples]
        return {
            "window_seconds": wall,
            "cpu_seconds": last.cpu_seconds - first.cpu_seconds,
            "cpu_share_of_one_core": share,
            "cpu_percent_of_one_core": 100 * share,
            "rss_mean_mb": sum(rss) / len(rss) / 2**20,
            "rss_peak_sampled_mb": max(rss) / 2**20,
            "rss_high_water_mb": high_water / 2**20,
        }


# ---- reporting --------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the figures came from: cores, memory, Python, load average at the time."""
    try:
        memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        memory = "unavailable"
    return {
        "nproc": os.cpu_count(),
        "free_h": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def print_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A small fixed-width table on stdout."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.1f}"
        return str(value)

    cells = [[cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(column.ljust(widths[i]) for i, column in enumerate(columns)))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)))


def write_json(path: str | None, payload: Mapping[str, Any]) -> None:
    """Write results as JSON when asked (`--json FILE`)."""
    if not path:
        return
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults written to {path}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a subprocess that cannot be told port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- seeding the store ------------------------------------------------------------------------------


def seed_request(
    store: Store,
    slack: WebClient,
    *,
    project_id: int,
    project_name: str,
    channel_id: str,
    requester_id: str,
    approvals_needed: int,
    settings: Mapping[str, Any],
    model_key: str = "TradierSettings",
    brokerage_id: str = "TradierBrokerage",
    profile: str = "tradier-main",
) -> DeployRequest:
    """A request as the modal would have created it, with its card posted straight to the fake Slack.

    The card is posted here (not through the bot's paced notifier) so seeding hundreds takes seconds.
    """
    now = datetime.now(UTC)
    request = store.create_request(
        NewRequest(
            project_id=project_id,
            project_name=project_name,
            model_key=model_key,
            brokerage_id=brokerage_id,
            profile=profile,
            version_id="17202",
            settings=dict(settings),
            reason="bench",
            requester_id=requester_id,
            is_paper=True,
            approvals_needed=approvals_needed,
            channel_id=channel_id,
            expires_at=now + timedelta(hours=2),
        ),
        now=now,
    )
    text = f"deploy request {request.id} for {project_name}"
    posted = slack.chat_postMessage(channel=channel_id, text=text)
    return store.set_card(request.id, str(posted["channel"]), str(posted["ts"]), now=now)


def seed_live(
    store: Store, request: DeployRequest, deploy_id: str, status: str, next_poll_at: datetime
) -> None:
    """Walk an approved request to live with a deployment row, as the deployer would have left it."""
    now = datetime.now(UTC)
    steps = [
        (RequestStatus.APPROVED, RequestStatus.COMPILING),
        (RequestStatus.COMPILING, RequestStatus.DEPLOYING),
        (RequestStatus.DEPLOYING, RequestStatus.LIVE),
    ]
    for source, target in steps:
        store.transition(request.id, from_statuses={source}, to=target, actor="bench", action="seed", now=now)
    store.start_deployment(request.id, request.project_id, deploy_id, status, now=now)
    # Handed back, as a clean stop leaves it: the bot picks it up at its scheduled poll, not at once.
    store.release_lease(request.id)
    store.schedule_poll(request.id, next_poll_at)


@dataclass
class Seeded:
    """One live deployment: its request, project and card."""

    request_id: str
    project_id: int
    card_ts: str


def seed_running(
    store: Store,
    slack: WebClient,
    qc: FakeQuantConnect,
    count: int,
    *,
    name: str,
    settings: Mapping[str, Any],
    running_interval: float,
) -> list[Seeded]:
    """`count` live deployments pinned Running in the fake (projects named `name.format(index)`), cards
    posted, their polls spread over `running_interval`, none held by any replica."""
    now = datetime.now(UTC)
    seeded = []
    for index in range(count):
        project_name = name.format(index)
        project_id = qc.add_project(project_name)
        deploy_id = qc.seed_live(project_id, "Running")
        request = seed_request(
            store,
            slack,
            project_id=project_id,
            project_name=project_name,
            channel_id=DEPLOY_CHANNEL,
            requester_id=REQUESTER,
            approvals_needed=0,
            settings=settings,
        )
        next_poll = now + timedelta(seconds=running_interval * index / count)
        seed_live(store, request, deploy_id, "Running", next_poll)
        seeded.append(Seeded(request.id, project_id, str(request.message_ts)))
    return seeded


# The test harness speeds the bot up for tests; benchmarks measure the defaults an operator gets. (Until
# issue 12 the heartbeat and recovery speed-ups stayed in: benches ran with 0.2 s beats and recovery passes.)
TEST_SPEEDUPS = (
    "HOME_REFRESH_SECONDS",
    "SLACK_CHANNEL_INTERVAL_SECONDS",
    "HEARTBEAT_SECONDS",
    "RECOVERY_INTERVAL_SECONDS",
    "WATCH_INTERVAL_SECONDS",
    "WATCH_RUNNING_INTERVAL_SECONDS",
    "QC_READS_PER_MINUTE",
)
DEFAULTS = {
    "HOME_REFRESH_SECONDS": 30.0,
    "SLACK_CHANNEL_INTERVAL_SECONDS": 1.0,
    "HEARTBEAT_SECONDS": 5.0,
    "RECOVERY_INTERVAL_SECONDS": 5.0,
    "WATCH_INTERVAL_SECONDS": 10.0,
    "WATCH_RUNNING_INTERVAL_SECONDS": 60.0,
    "QC_READS_PER_MINUTE": 3.0,
}


def production_defaults(env: dict[str, str]) -> dict[str, str]:
    """`env` without the harness's test-speed settings, so the bot runs with its documented defaults."""
    return {key: value for key, value in env.items() if key not in TEST_SPEEDUPS}


def bench_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every bench shares: extra bot environment (`--bot-env KEY=VALUE`) and `--json FILE`."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the bot (repeatable), e.g. HOME_REFRESH_SECONDS=3600",
    )
    parser.add_argument("--json", help="write results to this file")
    return parser


def bot_env(args: argparse.Namespace) -> dict[str, str]:
    """The `--bot-env` entries as a mapping."""
    return dict(item.split("=", 1) for item in args.bot_env)
