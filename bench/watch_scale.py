"""Watching at scale: N live deployments, statuses and equity changing, the bot in its own process(es).

    python bench/watch_scale.py [--deployments N] [--mode both|bulk|per-deployment] [--replicas R]
                                [--database sqlite|postgresql] [--window S] [--change-rate R] [--drain S]
                                [--equity-every S] [--fill-rate F] [--fills-idle-max S] [--time-cap S]
                                [--seed K] [--json FILE]

For each mode (both by default, the same seed, so the same changes at the same moments), on fresh fakes and a
fresh database: N requests walked to `live`, each with a card posted to the fake Slack, a deployment row whose
next poll is spread evenly over the 60 s Running interval (steady state, not a thundering start), and a
matching deployment in the fake QuantConnect pinned to Running. Then R `python -m bot --http` processes start
with the default settings (WATCH_LIST_INTERVAL_SECONDS=5, WATCH_INTERVAL_SECONDS=10,
WATCH_RUNNING_INTERVAL_SECONDS=60, STATISTICS_REFRESH_SECONDS=300, one Slack write per second per channel) and
WATCH_MODE=bulk (one live/list per interval from the poller replica) or per-deployment (live/read of each).

While the bot runs, every deployment's equity moves every `--equity-every` seconds (a real account's equity
moves all the time). For `--window` seconds, R deployments per second (0.3: each change is two Slack writes,
the card and the reply, and one channel takes about one write per second, so above ~0.5 changes per second
replies queue whatever the watcher does) change status at random (PendingInput, Idle, History, Stopped,
RuntimeError, Liquidated), each deployment at most once. Then the bench waits up to `--drain` seconds for
every change to be reported, plus 3 s so that a late duplicate would still be counted.

How Slack writes are counted. Every chat.update of a card is classified by what it shows compared with the
card's previous state (the seeded card shows `live (Running)` and no equity): a *status update* shows a new
status (the card's notification text ends with `live (Status)`, `ended (...)` or `failed (...)`); an
*equity refresh* shows the same status with a new equity; anything else is a *write that showed nothing
new*. Per change, exactly one status update and one thread reply are expected; a change with none of either
is missed, with more than one duplicated. Status updates or replies for a deployment that did not change are
stray. Equity refreshes are counted apart (never a thread reply; at most one per card per
STATISTICS_REFRESH_SECONDS), so they neither count as strays nor break the per-change accounting.

Fill following (issue 14) runs in the bot with its defaults (FILLS_INTERVAL_SECONDS=60,
FILLS_IDLE_MAX_SECONDS=300 unless `--fills-idle-max` is given, QC_READS_PER_MINUTE=3 unless `--bot-env` sets
it); with `--fill-rate F` > 0, F bursts per second (1 to 5 filled orders each) land during the window on
random deployments that keep running, and no order may be reported twice; "fills missed" counts the orders
not reported by the end of the drain (with the default read budget at 1,000 deployments most fills are
reported much later than that: see README, *Orders are read on evidence first*). Fill messages are counted
apart from status replies. Runtime statistics (live/read) are seeded and move with the equity; their
"Volume" moves only with fills, as Lean's does. Every QuantConnect call counts in the totals.

Reported per mode: QuantConnect calls per minute by endpoint, change-to-reply delay (p50, p95, max), Slack
writes per change, missed, duplicated and stray reports, equity refreshes, CPU share of one core and peak RSS
(VmHWM) of each bot process from the moment it answers /healthz to the end of the drain.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    ProcessSampler,
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
from _watch_parts import _EQUITY_TEXT, EquityDrift, statistics_of, tally
from slack_sdk import WebClient

from bot.store import Store
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import base_env
from tests.support.examples import EXAMPLE_PROFILES, profile_env
from tests.support.fills import counted, fill_messages, listed_ids

NEW_STATUSES = ("PendingInput", "Idle", "History", "Stopped", "RuntimeError", "Liquidated")
RUNNING_INTERVAL = 60.0
EQUITY_PERIOD = 300.0
# Targets of issue 12 (1,000 deployments, default settings).
TARGET_P95_S = 10.0
TARGET_QC_CALLS_PER_MINUTE = 15.0
TARGET_CPU_SHARE = 0.05
TARGET_RSS_MB = 150.0


def seed(store: Store, slack: FakeSlack, qc: TimedFakeQuantConnect, count: int) -> list[Seeded]:
    """`count` live deployments, cards posted, polls spread over the Running interval, none held."""
    settings, _ = EXAMPLE_PROFILES["TradierSettings"]
    web = WebClient(token=slack.bot_token, base_url=slack.base_url)
    seeded = seed_running(
        store, web, qc, count, name="Watch {:05d}", settings=settings, running_interval=RUNNING_INTERVAL
    )
    for deployment in seeded:
        qc.runtime_statistics[deployment.project_id] = statistics_of(100_000.0)
    return seeded


def run_mode(mode: str, args: Any) -> dict[str, Any]:
    """One complete run of a mode on fresh fakes and a fresh database."""
    rng = random.Random(args.seed)
    started = time.monotonic()
    _, credentials = EXAMPLE_PROFILES["TradierSettings"]
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-watch-{mode}-"))
    database_url = _database(args.database)
    result: dict[str, Any] = {"mode": mode, "replicas": args.replicas, "database": args.database}
    with FakeSlack(check_blocks=False) as slack, TimedFakeQuantConnect() as qc:
        env = {
            **production_defaults(base_env(tmp, slack, qc)),
            **profile_env({"tradier-main": ("TradierBrokerage", credentials)}),
            "WATCH_MODE": mode,
            **({"FILLS_IDLE_MAX_SECONDS": str(args.fills_idle_max)} if args.fills_idle_max else {}),
            "LOG_LEVEL": "WARNING",
            **({"DATABASE_URL": database_url} if database_url else {}),
            **bot_env(args),
        }
        store = Store(env["DATABASE_URL"])
        seeded = seed(store, slack, qc, args.deployments)
        store.dispose()
        print(f"[{mode}] seeded {len(seeded)} live deployments in {time.monotonic() - started:.0f} s")
        cards = {d.card_ts: d.request_id for d in seeded}

        processes, ports = [], []
        for index in range(args.replicas):
            port = free_port()
            processes.append(start_bot(env, port, tmp / f"bot-{index}.log"))
            ports.append(port)
        samplers: list[ProcessSampler] = []
        drift = EquityDrift(qc, seeded, args.equity_every, args.seed)
        try:
            if not wait_until(lambda: all(healthy(port) for port in ports), 90, interval=0.2):
                raise SystemExit(f"the bot did not come up; see the logs in {tmp}")
            samplers = [ProcessSampler(process.pid) for process in processes]
            for sampler in samplers:
                sampler.start()
            measure_from = time.perf_counter()
            slack_from = len(slack.calls)
            drift.start()
            print(
                f"[{mode}] {args.replicas} bot process(es) healthy; changing statuses for {args.window:.0f} s"
            )

            changes: dict[str, tuple[int, str, float]] = {}  # request id -> project, new status, when
            untouched = list(seeded)
            rng.shuffle(untouched)
            window_end = time.monotonic() + args.window
            gap = 1.0 / args.change_rate if args.change_rate > 0 else args.window
            next_change = time.monotonic()
            # Orders land only on deployments that keep running (status changes never reach these).
            fill_targets = untouched[: max(1, len(untouched) // 2)] if args.fill_rate > 0 else []
            fills_added: dict[str, int] = {}
            fill_gap = 1.0 / args.fill_rate if args.fill_rate > 0 else float("inf")
            next_fill = time.monotonic()
            while time.monotonic() < window_end and len(untouched) > len(fill_targets):
                if fill_targets and time.monotonic() >= next_fill:
                    target = rng.choice(fill_targets)
                    burst = rng.randint(1, 5)
                    qc.orders.add(target.project_id, burst)
                    fills_added[target.request_id] = fills_added.get(target.request_id, 0) + burst
                    next_fill += fill_gap
                if time.monotonic() >= next_change:
                    deployment = untouched.pop()
                    status = rng.choice(NEW_STATUSES)
                    message = "bench: simulated runtime error" if status == "RuntimeError" else None
                    qc.set_status(deployment.project_id, status, message)
                    changes[deployment.request_id] = (deployment.project_id, status, time.monotonic())
                    next_change += gap
                time.sleep(0.02)
            print(
                f"[{mode}] {len(changes)} status changes made; waiting up to {args.drain:.0f} s for reports"
            )

            def replied() -> set[str]:
                return {
                    cards[call.body["thread_ts"]]
                    for call in slack.calls[slack_from:]
                    if call.method == "chat.postMessage" and call.ok and call.body.get("thread_ts") in cards
                }

            def fills_reported() -> int:
                return counted(
                    fill_messages(
                        c.body
                        for c in slack.calls[slack_from:]
                        if c.method == "chat.postMessage" and c.ok and c.body.get("thread_ts") in cards
                    )
                )

            wait_until(
                lambda: set(changes) <= replied() and fills_reported() >= sum(fills_added.values()),
                args.drain,
                interval=0.5,
            )
            time.sleep(3)  # a late duplicate would still be counted
            drift.stop()
            usage = [sampler.stop() for sampler in samplers]
            measured_seconds = time.perf_counter() - measure_from
            arrivals = [a for a in qc.arrivals if a.at >= measure_from]
        finally:
            drift.stop()
            codes = [stop_process(process) for process in processes]
        print(f"[{mode}] bot stopped (exit codes {codes})")
        calls = slack.calls[slack_from:]

    slack_tally = tally(calls, cards)
    minutes = measured_seconds / 60
    by_endpoint: dict[str, int] = {}
    for arrival in arrivals:
        by_endpoint[arrival.endpoint] = by_endpoint.get(arrival.endpoint, 0) + 1
    # Every call counts, fill following's live/orders/read too (it spends the read budget since issue 12).
    total_calls = sum(by_endpoint.values())
    reads = by_endpoint.get("live/read", 0)

    exact = missed = duplicated = wrong_text = 0
    delays = []
    for request_id, (_project_id, status, changed_at) in changes.items():
        replies = slack_tally.replies.get(request_id, [])
        updates = slack_tally.status_updates.get(request_id, [])
        if len(replies) == 1 and len(updates) == 1:
            exact += 1
        if not replies or not updates:
            missed += 1
        if len(replies) > 1 or len(updates) > 1:
            duplicated += 1
        if replies and status not in replies[0][1]:
            wrong_text += 1
        if updates and status not in updates[0][1]:
            wrong_text += 1
        if replies:
            delays.append(replies[0][0] - changed_at)
    fills_missed = fills_duplicated = 0
    for request_id, added in fills_added.items():
        messages_of = fill_messages(slack_tally.fills.get(request_id, []))
        ids = listed_ids(messages_of)
        fills_missed += max(0, added - counted(messages_of))
        fills_duplicated += max(0, counted(messages_of) - added) + len(ids) - len(set(ids))
    unchanged = set(slack_tally.replies) | set(slack_tally.status_updates)
    stray = sum(1 for request_id in unchanged if request_id not in changes)
    equity_updates = sum(len(times) for times in slack_tally.equity_updates.values())
    per_card = [
        max(sum(1 for t in times if start <= t < start + EQUITY_PERIOD) for start in times)
        for times in slack_tally.equity_updates.values()
    ]
    equity_in_threads = sum(
        1 for replies in slack_tally.replies.values() for _, text in replies if _EQUITY_TEXT.search(text)
    )
    result.update(
        {
            "deployments": len(seeded),
            "status_changes": len(changes),
            "measured_seconds": round(measured_seconds, 1),
            "qc_calls_per_minute": round(total_calls / minutes, 1) if minutes else float("nan"),
            "qc_calls_by_endpoint": by_endpoint,
            "live_list_per_minute": round(by_endpoint.get("live/list", 0) / minutes, 1),
            "live_read_total": reads,
            "live_read_per_change": round(reads / len(changes), 2) if changes else float("nan"),
            # Besides one per change: running deployments' runtime statistics (STATISTICS_REFRESH_SECONDS).
            "live_read_per_minute_besides_one_per_change": round((reads - len(changes)) / minutes, 1),
            "live_orders_read_per_minute": round(by_endpoint.get("live/orders/read", 0) / minutes, 1),
            "qc_calls_per_minute_besides_one_read_per_change": round(
                (total_calls - len(changes)) / minutes, 1
            ),
            "changes_with_exactly_1_status_update_1_reply": exact,
            "missed": missed,
            "duplicated": duplicated,
            "stray": stray,
            "writes_showing_nothing_new": sum(slack_tally.unchanged_updates.values()),
            "text_without_the_status": wrong_text,
            "equity_refreshes": equity_updates,
            "equity_refreshes_max_per_card_per_period": max(per_card) if per_card else 0,
            "equity_in_thread_replies": equity_in_threads,
            "alerts": sum(len(texts) for texts in slack_tally.alerts.values()),
            "alerts_duplicated": sum(1 for texts in slack_tally.alerts.values() if len(texts) > 1),
            "fills_added": sum(fills_added.values()),
            "fill_messages": sum(len(p) for p in slack_tally.fills.values()),
            "fills_missed": fills_missed,
            "fills_duplicated": fills_duplicated,
            "failed_slack_calls": slack_tally.failed_calls,
            "other_slack_calls": slack_tally.other_calls,
            "slack_writes_per_change": round(
                (
                    sum(len(u) for u in slack_tally.status_updates.values())
                    + sum(len(r) for r in slack_tally.replies.values())
                )
                / len(changes),
                2,
            )
            if changes
            else float("nan"),
            "change_to_reply_p50_s": round(percentile(delays, 50), 1),
            "change_to_reply_p95_s": round(percentile(delays, 95), 1),
            "change_to_reply_max_s": round(max(delays), 1) if delays else float("nan"),
            "cpu_percent_of_one_core": [round(u["cpu_percent_of_one_core"], 2) for u in usage],
            "cpu_percent_of_one_core_total": round(sum(u["cpu_percent_of_one_core"] for u in usage), 2),
            "rss_high_water_mb": [round(u["rss_high_water_mb"], 1) for u in usage],
            "elapsed_seconds": round(time.monotonic() - started, 1),
        }
    )
    return result


def checks(row: dict[str, Any]) -> list[str]:
    """The issue-12 targets, met or not, for one mode's figures."""
    rss = max(row["rss_high_water_mb"])
    cpu = row["cpu_percent_of_one_core_total"]
    return [
        f"change -> reply p95 {row['change_to_reply_p95_s']:.1f} s (target <= {TARGET_P95_S:.0f})",
        f"QuantConnect calls {row['qc_calls_per_minute_besides_one_read_per_change']:.1f}/min in total "
        f"besides one live/read per change (target <= {TARGET_QC_CALLS_PER_MINUTE:.0f}): live/list "
        f"{row['live_list_per_minute']}/min, statistics live/read "
        f"{row['live_read_per_minute_besides_one_per_change']}/min, live/orders/read "
        f"{row['live_orders_read_per_minute']}/min",
        f"CPU {cpu:.2f}% of one core (target < {TARGET_CPU_SHARE * 100:.0f}%), peak RSS {rss:.0f} MB "
        f"(target < {TARGET_RSS_MB:.0f})",
        f"missed {row['missed']}, duplicated {row['duplicated']}, stray {row['stray']}, writes showing "
        f"nothing new {row['writes_showing_nothing_new']} (target 0 each); exactly one card update and one "
        f"reply: {row['changes_with_exactly_1_status_update_1_reply']} of {row['status_changes']}",
        f"equity: {row['equity_refreshes']} card refreshes, at most "
        f"{row['equity_refreshes_max_per_card_per_period']} per card per {EQUITY_PERIOD:.0f} s, "
        f"{row['equity_in_thread_replies']} in thread replies",
    ]


def main() -> int:
    """Run each mode, print one column per mode and the targets."""
    parser = bench_parser(__doc__)
    parser.add_argument("--deployments", type=int, default=1000, help="active deployments (default 1000)")
    parser.add_argument("--mode", choices=("both", "bulk", "per-deployment"), default="both")
    parser.add_argument("--replicas", type=int, default=1, help="bot processes on one database (default 1)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--window", type=float, default=120.0, help="seconds of status changes (default 120)")
    parser.add_argument("--change-rate", type=float, default=0.3, help="status changes per second (0.3)")
    parser.add_argument("--drain", type=float, default=90.0, help="seconds to wait for reports (default 90)")
    parser.add_argument(
        "--equity-every", type=float, default=10.0, help="equity moves every S s (10; 0: never)"
    )
    parser.add_argument("--fill-rate", type=float, default=0.0, help="order bursts per second (0: none)")
    parser.add_argument(
        "--fills-idle-max", type=float, default=0.0, help="FILLS_IDLE_MAX_SECONDS (0: the bot's default)"
    )
    parser.add_argument("--time-cap", type=float, default=1800.0, help="hard cap for the whole run (1800)")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args()
    quiet_logs()
    hard_cap(args.time_cap)
    results: dict[str, Any] = {"machine": machine_info(), "args": vars(args), "runs": []}
    modes = ("per-deployment", "bulk") if args.mode == "both" else (args.mode,)
    for mode in modes:
        results["runs"].append(run_mode(mode, args))
    results["machine_after"] = machine_info()
    rows = results["runs"]
    keys = [key for key in rows[0] if key not in ("mode", "qc_calls_by_endpoint")]
    print_table(
        f"Watching {args.deployments} deployments, {args.replicas} replica(s) on {args.database}",
        [{"measure": key, **{row["mode"]: row[key] for row in rows}} for key in keys],
        ["measure", *[row["mode"] for row in rows]],
    )
    for row in rows:
        print(f"\n{row['mode']}: QuantConnect calls by endpoint {row['qc_calls_by_endpoint']}")
        row["checks"] = checks(row)
        print("\n".join("  " + line for line in row["checks"]))
    print(
        f"\nload average before {results['machine']['loadavg']}, after {results['machine_after']['loadavg']}"
    )
    write_json(args.json, results)
    cancel_hard_cap()
    return 0


def _database(kind: str) -> str | None:
    """A fresh PostgreSQL database for `postgresql`, else None (a SQLite file per run)."""
    if kind != "postgresql":
        return None
    from tests.support import pg

    return pg.fresh_database()


if __name__ == "__main__":
    raise SystemExit(main())
