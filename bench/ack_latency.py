"""Acknowledgement latency of the bot in HTTP mode against a bare Bolt app on the same server stack.

    python bench/ack_latency.py [--requests N] [--concurrency C] [--warmup W] [--bare calls|plain]
                                [--time-cap S] [--json FILE]

The bot runs as `python -m bot --http` and the bare app as `python bench/bare_app.py`, each in its own
process; this process holds the fake Slack and the fake QuantConnect, and the load generator runs in a
child process of its own (`LoadDriver`), so serving the bot's Slack calls does not slow its clock.
The bare app acks and then (`--bare calls`, the default) makes the same Slack and QuantConnect calls the bot
makes for each request (`_common.SameCalls`), so the bot/bare ratio isolates the bot's own work; with
`--bare plain` it only acks (the former comparison).
Phases, each sent to the bare app and then to the bot with the same bodies (signed, over loopback HTTP); the
first W bodies of each phase (default 5) go one at a time, untimed, so that what a process does once (its
first SQL compilations, first renders) is not counted as load; `--warmup 0` counts it:
  help        `/qc help`, answered in the acknowledgement itself: the bot's own request path with no work
              after it, a control for the phases below.
  command     `/qc deploy <project id>`, one per project: the bot acks, then opens a modal (views.open) and
              fills it in (projects/read, projects/nodes/read, views.update) in the background.
  brokerage   the recorded modal's brokerage select changed to Tradier (block_actions; views.update).
  submit      each recorded modal submitted with `state_from_view`, each for a different project, so every
              submission is accepted (the script counts accepted and refused answers).
  approve     an Approve click by an approver on each request the submissions created (APPROVALS_PAPER=1).
Reported: p50/p95/p99/max and throughput per phase and app, our/bare ratios, and the Slack and QuantConnect
calls each app made during its phase (to check that the bare app mirrors the bot's).
Targets at C=20: p99 < 300 ms for every phase; `/qc help` (no calls after the ack in either app) at parity.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    REPO_ROOT,
    LoadDriver,
    SignedRequest,
    TimedFakeQuantConnect,
    bench_parser,
    bot_env,
    cancel_hard_cap,
    free_port,
    hard_cap,
    healthy,
    machine_cpu_ticks,
    machine_info,
    print_table,
    production_defaults,
    quiet_logs,
    read_process,
    start_bot,
    start_process,
    stop_process,
    wait_until,
    write_json,
)

from bot.ids import Action, Block
from bot.store import Store
from bot.store.models import RequestStatus
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.slack_requests import (
    block_actions_body,
    slash_command_body,
    state_from_view,
    view_submission_body,
)
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, SIGNING_SECRET, base_env
from tests.support.examples import EXAMPLE_PROFILES, profile_env

MODEL_KEY = "TradierSettings"
PROFILE = "tradier-main"
TARGET_P99_MS = 300.0
# The /qc help control: the same work in both apps, so its ratio should be about 1 (noise aside).
CONTROL_RATIO = 1.5


def bench_env() -> dict[str, str]:
    """Production-like settings: default intervals, INFO-free logging, one approval even for paper."""
    return {
        "APPROVALS_PAPER": "1",
        "LOG_LEVEL": "WARNING",
        "WATCH_INTERVAL_SECONDS": "10",
        "WATCH_RUNNING_INTERVAL_SECONDS": "60",
        "PROJECT_CACHE_SECONDS": "300",
        "REQUEST_TTL_MINUTES": "60",
    }


@dataclass
class App:
    """One app under load: where to send requests and which process to measure."""

    url: str
    pid: int


@contextmanager
def served_apps(
    tmp: Path,
    slack: FakeSlack,
    qc: TimedFakeQuantConnect,
    credentials: dict[str, str],
    extra_env: dict[str, str],
    *,
    bare_calls: bool,
    bare_project_id: int,
) -> Iterator[tuple[App, App, Store]]:
    """The bot (`python -m bot --http`) and the bare app, each in its own process; yields both and the store.

    Separate processes keep the fakes and the load generator off the apps' GIL, so each app's own cost shows.
    """
    env = {
        **production_defaults(base_env(tmp, slack, qc)),
        **profile_env({PROFILE: ("TradierBrokerage", credentials)}),
        **bench_env(),
        **extra_env,
    }
    bot_port, bare_port = free_port(), free_port()
    bot = start_bot(env, bot_port, tmp / "bot.log")
    bare_env = {
        "SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "BARE_CALLS": "1" if bare_calls else "0",
        "QC_API_URL": qc.base_url,
        "QC_USER_ID": str(qc.user_id),
        "QC_API_TOKEN": qc.api_token,
        "BARE_PROJECT_ID": str(bare_project_id),
        "DEPLOY_CHANNEL_ID": DEPLOY_CHANNEL,
        "SLACK_CHANNEL_INTERVAL_SECONDS": "1",
    }
    bare = start_process(
        [sys.executable, str(REPO_ROOT / "bench" / "bare_app.py"), str(bare_port)], bare_env, tmp / "bare.log"
    )
    store: Store | None = None
    try:
        if not wait_until(lambda: healthy(bot_port) and healthy(bare_port), 60, interval=0.2):
            raise SystemExit(f"the apps did not start; see the logs in {tmp}")
        store = Store(env["DATABASE_URL"], migrate=False)
        yield (
            App(f"http://127.0.0.1:{bot_port}/", bot.pid),
            App(f"http://127.0.0.1:{bare_port}/", bare.pid),
            store,
        )
    finally:
        print("  stopping the apps (the bot flushes queued Slack messages first)")
        stop_process(bot)
        stop_process(bare)
        if store is not None:
            store.dispose()


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


@dataclass
class Fakes:
    """The fakes both apps call, for counting what each app asked of them during its phase."""

    slack: FakeSlack
    qc: TimedFakeQuantConnect


def _quiet(fakes: Fakes, seconds: float = 1.0, cap: float = 30.0) -> None:
    """Wait until QuantConnect has had no call for `seconds` (an app's after-ack work has finished), at most
    `cap` seconds; paced Slack writes may go on (they cost the apps next to nothing while they wait)."""
    end = time.monotonic() + cap
    while time.monotonic() < end:
        count = len(fakes.qc.arrivals)
        time.sleep(seconds)
        if len(fakes.qc.arrivals) == count:
            return


def _run_measured(
    driver: LoadDriver,
    app: App,
    requests: list[SignedRequest],
    concurrency: int,
    deadline: float,
    fakes: Fakes,
) -> tuple[dict[str, Any], list[str]]:
    """One load run against `app`, with the CPU milliseconds per request of the app and of the fakes.

    The fakes run in this process and share the machine's two cores with the app and the load driver.
    """
    app_before, fakes_before = read_process(app.pid).cpu_seconds, read_process(os.getpid()).cpu_seconds
    busy_before, total_before = machine_cpu_ticks()
    slack_before, qc_before = len(fakes.slack.calls), len(fakes.qc.arrivals)
    result = driver.run(app.url, SIGNING_SECRET, requests, concurrency=concurrency, deadline=deadline)
    busy_after, total_after = machine_cpu_ticks()
    app_cpu = read_process(app.pid).cpu_seconds - app_before
    fakes_cpu = read_process(os.getpid()).cpu_seconds - fakes_before
    count = max(1, len(result.bodies))
    summary: dict[str, Any] = {**result.summary(), "wall_seconds": result.wall_seconds}
    # Calls made while the load ran (the after-ack work that overlapped the acks being timed).
    summary["slack_calls"] = len(fakes.slack.calls) - slack_before
    summary["qc_calls"] = len(fakes.qc.arrivals) - qc_before
    summary["cpu_ms_per_req"] = 1000 * app_cpu / count
    summary["fakes_cpu_ms_per_req"] = 1000 * fakes_cpu / count
    # How busy every core of the machine was (the app, the fakes, the load driver, anything else).
    summary["machine_busy_pct"] = 100 * (busy_after - busy_before) / max(1, total_after - total_before)
    return summary, result.bodies


@dataclass
class Phases:
    """Runs each phase's bodies against the bare app, then the bot, after the same untimed warm-up."""

    bare_app: App
    bot: App
    concurrency: int
    deadline: float
    driver: LoadDriver
    fakes: Fakes
    warmup: int

    def run(self, name: str, bodies: list[bytes]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """Both apps' summaries of the timed bodies (all but the first `warmup`), and the bot's answers."""
        requests = [SignedRequest(body) for body in bodies]
        warm, timed = requests[: self.warmup], requests[self.warmup :]
        bare = self._timed(self.bare_app, warm, timed)[0]
        # The bare app's after-ack QuantConnect calls finish before the bot is timed (they share the fakes).
        _quiet(self.fakes)
        ours, answers = self._timed(self.bot, warm, timed)
        print(f"  {name}: bare {bare['wall_seconds']:.1f} s, bot {ours['wall_seconds']:.1f} s")
        return bare, ours, answers

    def _timed(
        self, app: App, warm: list[SignedRequest], timed: list[SignedRequest]
    ) -> tuple[dict[str, Any], list[str]]:
        if warm:
            # One at a time, untimed: what a process does once (compiling SQL, first renders) stays out of
            # the percentiles; --warmup 0 measures it too.
            self.driver.run(app.url, SIGNING_SECRET, warm, concurrency=1, deadline=self.deadline)
            _quiet(self.fakes)
        return _run_measured(self.driver, app, timed, self.concurrency, self.deadline, self.fakes)


def main() -> int:
    """Run every phase and print the table."""
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per phase (default 200)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight (default 20)")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds before phases stop sending")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="untimed requests sent one at a time before each phase, to each app (default 5; 0: none)",
    )
    parser.add_argument(
        "--bare",
        choices=("calls", "plain"),
        default="calls",
        help="calls: the bare app makes the bot's Slack and QuantConnect calls after its ack (default); "
        "plain: it only acks",
    )
    args = parser.parse_args()
    count, concurrency, warmup = max(1, args.requests), max(1, args.concurrency), max(0, args.warmup)
    quiet_logs()
    # The hard cap also covers start-up and shutdown; load stops being sent at the softer deadline.
    hard_cap(args.time_cap + 45)
    started = time.monotonic()
    deadline = started + args.time_cap
    settings, credentials = EXAMPLE_PROFILES[MODEL_KEY]
    extra_env = bot_env(args)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "requests": count,
        "concurrency": concurrency,
        "warmup": warmup,
        "bare": args.bare,
        "bot_env": extra_env,
    }
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    # Not a TemporaryDirectory: the bot's shutdown may still write its last audit events after the stop.
    tmp = tempfile.mkdtemp(prefix="bench-ack-")
    # The load generator runs in a child process, off the GIL of the fakes the bot calls (see LoadDriver).
    driver = LoadDriver()
    with (
        FakeSlack(check_blocks=False) as slack,
        TimedFakeQuantConnect() as qc,
    ):
        # Each phase sends `warmup` bodies before its `count` timed ones, one project each.
        projects = [qc.add_project(f"Bench {i:04d}") for i in range(count + warmup)]
        fakes = Fakes(slack, qc)
        # The bare app's deployments go to a project of its own, so that they never touch the bot's.
        bare_project = qc.add_project("Bench bare")
        served = served_apps(
            Path(tmp),
            slack,
            qc,
            credentials,
            extra_env,
            bare_calls=args.bare == "calls",
            bare_project_id=bare_project,
        )
        with served as (bot, bare_app, store):
            # Warm both apps (first-request imports and connection pools) outside the measurement.
            warm = [SignedRequest(slash_command_body(text="help", user_id=REQUESTER)) for _ in range(10)]
            driver.run(bare_app.url, SIGNING_SECRET, warm, concurrency=2, deadline=deadline)
            driver.run(bot.url, SIGNING_SECRET, warm, concurrency=2, deadline=deadline)

            def record(kind: str, bare: dict[str, Any], ours: dict[str, Any]) -> None:
                rows.append({"phase": kind, "app": "bare", **bare})
                rows.append({"phase": kind, "app": "bot", **ours})
                rows.append(
                    {
                        "phase": kind,
                        "app": "bot/bare",
                        "p50_ms": ours["p50_ms"] / bare["p50_ms"],
                        "p95_ms": ours["p95_ms"] / bare["p95_ms"],
                        "p99_ms": ours["p99_ms"] / bare["p99_ms"],
                        "throughput_rps": ours["throughput_rps"] / bare["throughput_rps"],
                        "cpu_ms_per_req": ours["cpu_ms_per_req"] / max(bare["cpu_ms_per_req"], 1e-9),
                    }
                )

            print(f"{count} requests per phase at concurrency {concurrency}")
            # -- /qc help: the request path alone ----------------------------------------------------
            phases = Phases(bare_app, bot, concurrency, deadline, driver, fakes, warmup)
            helps = [slash_command_body(text="help", user_id=REQUESTER) for _ in range(count + warmup)]
            bare, ours, _ = phases.run("help", helps)
            record("help", bare, ours)

            # -- /qc deploy ------------------------------------------------------------------------
            opened_before = len(slack.calls_to("views.open"))
            commands = [
                slash_command_body(
                    text=f"deploy {pid}",
                    user_id=REQUESTER,
                    channel_id=DEPLOY_CHANNEL,
                    response_url=slack.response_url(),
                )
                for pid in projects
            ]
            bare, ours, _ = phases.run("command", commands)
            record("command", bare, ours)

            # The modals the bot opened (not the bare app's: their triggers end in -bare), in the order Slack
            # saw them; each then gets one project.
            def bot_calls(method: str, ok_only: bool = True) -> list[Any]:
                return [
                    call
                    for call in slack.calls_to(method, ok_only=ok_only)
                    if not str(call.body.get("trigger_id") or "").endswith("-bare")
                    and str(call.body.get("view_id") or "") not in bare_views
                ]

            bare_views = {
                str(call.response["view"]["id"])
                for call in slack.calls_to("views.open")
                if str(call.body.get("trigger_id") or "").endswith("-bare")
            }
            wait_until(lambda: len(bot_calls("views.open")) - opened_before >= len(commands), 30)
            view_ids = [str(call.response["view"]["id"]) for call in bot_calls("views.open")[opened_before:]]
            # Let the background fill-in (project look-up, views.update) finish before the person acts.
            wait_until(lambda: len(bot_calls("views.update", ok_only=False)) >= len(view_ids), 30)

            # -- brokerage change --------------------------------------------------------------------
            updates_before = len(bot_calls("views.update"))
            changes = [
                block_actions_body(
                    Action.BROKERAGE_SELECT.value,
                    None,
                    user_id=REQUESTER,
                    view=slack.view(view_id),
                    action_type="static_select",
                    selected_option=_option("Tradier", MODEL_KEY),
                )
                for view_id in view_ids
            ]
            bare, ours, _ = phases.run("brokerage", changes)
            record("brokerage", bare, ours)

            def has_profile_block(view_id: str) -> bool:
                return any(b.get("block_id") == Block.PROFILE for b in slack.view(view_id).get("blocks", []))

            bare_views |= {
                str(call.response["view"]["id"])
                for call in slack.calls_to("views.open")
                if str(call.body.get("trigger_id") or "").endswith("-bare")
            }
            wait_until(lambda: len(bot_calls("views.update")) - updates_before >= len(changes), 30)
            ready = [v for v in view_ids if has_profile_block(v)]
            if len(ready) < len(view_ids):
                notes.append(f"{len(view_ids) - len(ready)} modals did not switch to Tradier in time")

            # -- submissions -------------------------------------------------------------------------
            submissions = []
            for view_id, project_id in zip(ready, projects, strict=False):
                view = slack.view(view_id)
                values = state_from_view(
                    view,
                    {
                        Block.REASON.value: "bench",
                        Block.PROFILE.value: PROFILE,
                        Block.PROJECT.value: _option(f"Bench {project_id}", str(project_id)),
                        **settings,
                    },
                )
                submissions.append(view_submission_body(view, REQUESTER, values))
            bare, ours, answers = phases.run("submit", submissions)
            record("submit", bare, ours)
            accepted = sum(1 for answer in answers if not answer.strip())
            results["submissions"] = {"accepted": accepted, "refused": len(answers) - accepted}
            if accepted < len(answers):
                refused = next(a for a in answers if a.strip())
                notes.append(f"{len(answers) - accepted} submissions refused, e.g. {refused[:300]}")

            # -- approvals ---------------------------------------------------------------------------
            pending = store.list_requests(statuses=[RequestStatus.PENDING], limit=(count + warmup) * 2)
            posted = sum(1 for request in pending if request.message_ts)
            results["cards_posted_before_approvals"] = posted
            clicks = [
                block_actions_body(
                    Action.APPROVE.value,
                    request.id,
                    user_id=APPROVERS[0],
                    channel_id=request.channel_id or DEPLOY_CHANNEL,
                    message_ts=request.message_ts,
                )
                for request in pending
            ]
            bare, ours, _ = phases.run("approve", clicks)
            record("approve", bare, ours)
            acked_at = time.monotonic()

            def approved() -> int:
                moved_on = [RequestStatus.APPROVED, RequestStatus.COMPILING, RequestStatus.DEPLOYING]
                statuses = [*moved_on, RequestStatus.LIVE]
                return len(store.list_requests(statuses=statuses, limit=(count + warmup) * 2))

            results["requests_approved"] = approved()
            # Votes are counted after the ack (the decisions pool): how long until every click counted.
            wait_until(lambda: approved() >= len(clicks), timeout=60.0, interval=0.2)
            results["approvals_counted"] = approved()
            results["approvals_counted_within_s"] = round(time.monotonic() - acked_at, 1)

    driver.close()
    results["rows"] = rows
    results["notes"] = notes
    results["elapsed_seconds"] = time.monotonic() - started
    columns = [
        "phase",
        "app",
        "n",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "throughput_rps",
        "cpu_ms_per_req",
        "fakes_cpu_ms_per_req",
        "machine_busy_pct",
        "slack_calls",
        "qc_calls",
    ]
    print_table(
        "Acknowledgement latency (ms) and throughput (requests/s); bot/bare rows are ratios", rows, columns
    )
    verdicts = []
    for row in rows:
        if row["app"] == "bot":
            ok = row["p99_ms"] < TARGET_P99_MS
            verdicts.append(
                f"{row['phase']}: p99 {row['p99_ms']:.0f} ms {'<' if ok else '>='} {TARGET_P99_MS:.0f}"
            )
        if row["app"] == "bot/bare" and row["phase"] == "help":
            ok = row["p99_ms"] <= CONTROL_RATIO
            verdicts.append(
                f"help (control, same work in both): p99 ratio {row['p99_ms']:.2f} "
                f"{'<=' if ok else '>'} {CONTROL_RATIO}"
            )
        elif row["app"] == "bot/bare":
            against = "with the same calls" if args.bare == "calls" else "that only acks"
            verdicts.append(
                f"{row['phase']}: p99 ratio against the bare app {against} "
                f"{row['p99_ms']:.2f} (reported, no target)"
            )
    results["verdicts"] = verdicts
    print("\nTargets (C=20): p99 < 300 ms; the /qc help control at parity")
    for line in verdicts:
        print("  " + line)
    for note in notes:
        print("note: " + note)
    print(
        f"submissions accepted: {results.get('submissions')}, "
        f"cards posted before approvals: {results.get('cards_posted_before_approvals')}, "
        f"approved or beyond: {results.get('requests_approved')} at the end of the phase, "
        f"{results.get('approvals_counted')} within {results.get('approvals_counted_within_s')} s"
    )
    write_json(args.json, results)
    cancel_hard_cap()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
