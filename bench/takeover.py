"""Take-over after a crash or a restart: how soon status changes reach Slack again, nothing lost or doubled.

    python bench/takeover.py [--deployments N] [--changes K] [--database sqlite|postgresql] [--json FILE]

This process runs the fake Slack and fake QuantConnect and seeds N live deployments (cards posted, deployment
rows spread over the Running poll interval, deployments pinned to Running in the fake). The bot runs as
`python -m bot --http` subprocesses with the default settings (LEASE_SECONDS=15, HEARTBEAT_SECONDS=5,
RECOVERY_INTERVAL_SECONDS=5, WATCH_RUNNING_INTERVAL_SECONDS=60, one Slack write per second per channel).
Three scenarios, each on fresh fakes and a fresh database:

1. kill -9: the only replica is killed; K deployments change status while nothing runs; a new process starts
   at once. Measured from the new process's start. Target: every change in Slack within 30 s of the restart.
2. SIGTERM: `--stream` deployments change once each, one every `--gap` seconds (2.5: two Slack writes per
   change fit the channel's one write per second), from 10 s before a clean stop to well after the next
   process started. Measured from each change. Targets: nothing missed or reported twice, no delay longer
   than one Running poll interval (60 s) plus the Slack writes queued before it.
3. Two replicas on one database (PostgreSQL with `--database postgresql` when a server is available): the one
   watching the most deployments is killed and K of its deployments change right after. Measured from the
   kill. Target: within 30 s.

Two times per change: *recorded* (the bot stored the new status and queued its report: this is the take-over)
and *in Slack* (the fake accepted the reply in the card's thread). The second adds Slack's pacing: one write
per second per channel, and each change is two writes (the card, then the reply), so K changes at once take
about 2K seconds to deliver whatever the take-over does.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    Seeded,
    TimedFakeQuantConnect,
    bench_parser,
    bot_env,
    cancel_hard_cap,
    free_port,
    hard_cap,
    healthy,
    machine_info,
    percentile,
    print_table,
    production_defaults,
    quiet_logs,
    seed_running,
    start_bot,
    stop_process,
    wait_until,
    write_json,
)
from slack_sdk import WebClient

from bot.blocks.live_status import LIVE_STATUS_TEXT
from bot.store import Store
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import base_env
from tests.support.examples import EXAMPLE_PROFILES, profile_env
from tests.support.outbox import outbox_messages

RUNNING_INTERVAL = 60.0
TARGET_TAKEOVER_SECONDS = 30.0


@dataclass
class World:
    """Fakes, the bot environment and the seeded deployments of one scenario."""

    slack: FakeSlack
    qc: TimedFakeQuantConnect
    env: dict[str, str]
    deployments: list[Seeded]
    tmp: Path


@contextmanager
def world(count: int, database_url: str | None, extra_env: dict[str, str]) -> Iterator[World]:
    """Fresh fakes and database with `count` live deployments, none of them held by any replica."""
    settings, credentials = EXAMPLE_PROFILES["TradierSettings"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-takeover-"))
    with FakeSlack(check_blocks=False) as slack, TimedFakeQuantConnect() as qc:
        env = {
            **production_defaults(base_env(tmp, slack, qc)),
            **profile_env({"tradier-main": ("TradierBrokerage", credentials)}),
            "WATCH_INTERVAL_SECONDS": "10",
            "WATCH_RUNNING_INTERVAL_SECONDS": str(RUNNING_INTERVAL),
            "LOG_LEVEL": "WARNING",
            **({"DATABASE_URL": database_url} if database_url else {}),
            **extra_env,
        }
        store = Store(env["DATABASE_URL"])
        web = WebClient(token=slack.bot_token, base_url=slack.base_url)
        seeded = seed_running(
            store,
            web,
            qc,
            count,
            name="Take-over {:04d}",
            settings=settings,
            running_interval=RUNNING_INTERVAL,
        )
        store.dispose()
        yield World(slack, qc, env, seeded, tmp)


@contextmanager
def bot(w: World, name: str) -> Iterator[Any]:
    """A bot process, healthy before the block; stopped (SIGTERM) afterwards if still running."""
    port = free_port()
    process = start_bot(w.env, port, w.tmp / f"{name}.log")
    process.started_at = time.monotonic()  # type: ignore[attr-defined]
    try:
        if not wait_until(lambda: healthy(port), 60, interval=0.1):
            raise RuntimeError(f"{name} did not come up; see {w.tmp / (name + '.log')}")
        yield process
    finally:
        stop_process(process)


def replies(w: World, deployment: Seeded, status: str) -> list[float]:
    """Monotonic times at which the card's thread got a reply announcing `status`."""
    announcement = LIVE_STATUS_TEXT[status]
    return [
        call.at
        for call in w.slack.calls_to("chat.postMessage")
        if call.body.get("thread_ts") == deployment.card_ts
        and str(call.body.get("text") or "").startswith(announcement)
    ]


def recorded(w: World, deployment: Seeded, status: str) -> list[float]:
    """Wall-clock times at which the bot stored `status` and queued its report (the outbox row)."""
    announcement = LIVE_STATUS_TEXT[status]
    store = Store(w.env["DATABASE_URL"], migrate=False)
    try:
        return [
            m.created_at.timestamp()
            for m in outbox_messages(store, deployment.request_id)
            if m.kind == "thread" and str(m.payload.get("text") or "").startswith(announcement)
        ]
    finally:
        store.dispose()


def watched_by(w: World) -> Counter[str]:
    """How many deployments each replica watches now."""
    store = Store(w.env["DATABASE_URL"], migrate=False)
    try:
        return Counter(d.lease_owner for d in store.active_deployments() if d.lease_owner is not None)
    finally:
        store.dispose()


def delays(values: list[float], prefix: str) -> dict[str, float]:
    """p50 / max of seconds, named with `prefix`."""
    return {
        f"{prefix}_p50_s": round(percentile(values, 50), 1),
        f"{prefix}_max_s": round(max(values), 1) if values else float("nan"),
    }


def outcome(
    w: World, changed: list[tuple[Seeded, str]], since_wall: float, since_mono: float
) -> dict[str, Any]:
    """Missed, doubled, and the recorded / in-Slack delays of these changes from one moment."""
    slack_times = [replies(w, d, status) for d, status in changed]
    stored_times = [recorded(w, d, status) for d, status in changed]
    return {
        "changes": len(changed),
        "missed": sum(1 for times in slack_times if not times),
        "doubled": sum(1 for times in slack_times if len(times) > 1),
        **delays([times[0] - since_wall for times in stored_times if times], "recorded"),
        **delays([times[0] - since_mono for times in slack_times if times], "slack"),
    }


def spread(deployments: list[Seeded], count: int) -> list[Seeded]:
    """`count` deployments spread evenly over the list (so over the poll schedule)."""
    step = max(1, len(deployments) // max(1, count))
    return deployments[::step][:count]


def kill_and_restart(w: World, count: int) -> dict[str, Any]:
    """Scenario 1: kill -9 of the only replica, changes while down, a new process at once."""
    with bot(w, "killed") as killed:
        wait_until(lambda: sum(watched_by(w).values()) == len(w.deployments), 90, interval=0.5)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
    changed = [(d, "PendingInput") for d in spread(w.deployments, count)]
    for deployment, status in changed:
        w.qc.set_status(deployment.project_id, status)
    with bot(w, "restarted") as restarted:
        started_wall = time.time() - (time.monotonic() - restarted.started_at)
        wait_until(lambda: all(replies(w, d, s) for d, s in changed), 180, interval=0.5)
        result = outcome(w, changed, started_wall, restarted.started_at)
    return {"scenario": "kill -9, restart", **result, "target": "slack max <= 30 s"}


def clean_restart(w: World, gap: float, count: int) -> dict[str, Any]:
    """Scenario 2: `count` deployments change once, one per `gap` seconds, across a SIGTERM and a restart."""
    pending = spread(w.deployments, count)
    changed: list[tuple[Seeded, str, float, float]] = []  # deployment, status, wall and monotonic time

    def stream(seconds: float) -> None:
        end = time.monotonic() + seconds
        while pending and time.monotonic() < end:
            deployment = pending.pop(0)
            w.qc.set_status(deployment.project_id, "PendingInput")
            changed.append((deployment, "PendingInput", time.time(), time.monotonic()))
            time.sleep(gap)

    with bot(w, "first") as first:
        wait_until(lambda: sum(watched_by(w).values()) == len(w.deployments), 90, interval=0.5)
        stream(10)
        stop_at = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(40)
        stopped_in = time.monotonic() - stop_at
    stream(3)  # nothing runs for a moment
    with bot(w, "second"):
        stream(len(pending) * gap + 1)
        wait_until(lambda: all(replies(w, d, s) for d, s, _, _ in changed), RUNNING_INTERVAL * 2 + 60, 0.5)
        slack_times = [replies(w, d, s) for d, s, _, _ in changed]
        stored_times = [recorded(w, d, s) for d, s, _, _ in changed]
    return {
        "scenario": "SIGTERM, restart",
        "changes": len(changed),
        "missed": sum(1 for times in slack_times if not times),
        "doubled": sum(1 for times in slack_times if len(times) > 1),
        **delays(
            [t[0] - wall for t, (_, _, wall, _) in zip(stored_times, changed, strict=True) if t], "recorded"
        ),
        **delays(
            [t[0] - mono for t, (_, _, _, mono) in zip(slack_times, changed, strict=True) if t], "slack"
        ),
        "stop_took_s": round(stopped_in, 1),
        "target": f"none missed or doubled, max <= {RUNNING_INTERVAL:g} s",
    }


def two_replicas(w: World, count: int) -> dict[str, Any]:
    """Scenario 3: two replicas share the work; the busier one is killed and its deployments change."""
    with bot(w, "a") as first, bot(w, "b") as second:
        wait_until(lambda: sum(watched_by(w).values()) == len(w.deployments), 120, interval=0.5)
        victim_id, victim_count = watched_by(w).most_common(1)[0]
        victim = {p.pid: p for p in (first, second)}[int(victim_id.split("-")[-2])]
        store = Store(w.env["DATABASE_URL"], migrate=False)
        try:
            held = [
                d
                for d in w.deployments
                if (row := store.get_deployment(d.request_id)) is not None and row.lease_owner == victim_id
            ]
        finally:
            store.dispose()
        killed_wall, killed_mono = time.time(), time.monotonic()
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        changed = [(d, "PendingInput") for d in spread(held, count)]
        for deployment, status in changed:
            w.qc.set_status(deployment.project_id, status)
        wait_until(lambda: all(replies(w, d, s) for d, s in changed), 180, interval=0.5)
        result = outcome(w, changed, killed_wall, killed_mono)
    return {
        "scenario": "two replicas, one killed",
        **result,
        "split": f"{victim_count}/{len(w.deployments)} on the killed one",
        "target": "slack max <= 30 s",
    }


def main() -> int:
    """Run the three scenarios and print one row each."""
    parser = bench_parser(__doc__)
    parser.add_argument("--deployments", type=int, default=50, help="live deployments (default 50)")
    parser.add_argument("--changes", type=int, default=5, help="changes in scenarios 1 and 3 (default 5)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--gap", type=float, default=2.5, help="seconds between changes in scenario 2 (2.5)")
    parser.add_argument("--stream", type=int, default=30, help="changes in scenario 2 (default 30)")
    parser.add_argument("--time-cap", type=float, default=1200.0, help="hard cap for the whole run (1200)")
    args = parser.parse_args()
    quiet_logs()
    hard_cap(args.time_cap)
    extra = bot_env(args)
    rows = []
    runs = (
        lambda w: kill_and_restart(w, args.changes),
        lambda w: two_replicas(w, args.changes),
        lambda w: clean_restart(w, args.gap, args.stream),
    )
    for run in runs:
        with world(args.deployments, _database(args.database), extra) as w:
            rows.append(run(w))
        print_table("take-over", rows[-1:], list(rows[-1]))
    cancel_hard_cap()
    write_json(args.json, {"machine": machine_info(), "database": args.database, "rows": rows})
    return 0


def _database(kind: str) -> str | None:
    """A fresh PostgreSQL database for `postgresql`, else None (a SQLite file per scenario)."""
    if kind != "postgresql":
        return None
    from tests.support import pg

    return pg.fresh_database()


if __name__ == "__main__":
    raise SystemExit(main())
