"""Watching at scale: 1,000 live deployments, statuses changing at random, the bot in its own process.

    python bench/watch_scale.py [--deployments N] [--window S] [--change-rate R] [--drain S]
                                [--fill-rate F] [--fills-idle-max S] [--time-cap S] [--seed K] [--json FILE]

This process runs the fake Slack and fake QuantConnect and seeds the SQLite store directly: N requests walked
to `live`, each with a card posted to the fake Slack, a deployment row whose next poll is spread evenly over
the Running poll interval (steady state, not a thundering start), and a matching deployment in the fake
QuantConnect pinned to Running. Then `python -m bot --http` starts as a subprocess with the default poll
intervals (WATCH_INTERVAL_SECONDS=10, WATCH_RUNNING_INTERVAL_SECONDS=60). For `--window` seconds, R
deployments per second (each at most once) change status at random (PendingInput, Idle, History, Stopped,
RuntimeError, Liquidated); afterwards the bench waits up to `--drain` seconds for every change to be
reported. CPU and RSS are the bot subprocess's own, read from /proc/<pid>/stat and /proc/<pid>/status
(VmHWM) from the moment it answers /healthz to the end of the drain.

Fill following (issue 14) runs too, at FILLS_INTERVAL_SECONDS=60 and FILLS_IDLE_MAX_SECONDS=--fills-idle-max
(60 by default: no idle back-off, every running deployment read every minute, the worst case): during the
window, F bursts per second (1 to 5 filled orders each) land on random deployments that keep running.

Reported: QuantConnect live/read calls per deployment per minute, live/orders/read calls per minute (all
deployments) and per deployment, fills added and reported (each exactly once: missed, duplicated), Slack
messages per status change (exactly one chat.update of the card plus one reply in its thread is required),
missed and duplicated reports, stray messages for deployments that did not change, change-to-reply delay,
CPU share of one core and peak RSS.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    ProcessSampler,
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
    seed_live,
    seed_request,
    start_bot,
    stop_process,
    wait_until,
    write_json,
)
from slack_sdk import WebClient

from bot.store import Store
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import DEPLOY_CHANNEL, REQUESTER, base_env
from tests.support.examples import EXAMPLE_PROFILES, profile_env
from tests.support.fills import counted, fill_messages, listed_ids

NEW_STATUSES = ("PendingInput", "Idle", "History", "Stopped", "RuntimeError", "Liquidated")
RUNNING_INTERVAL = 60.0
TARGET_RSS_MB = 200.0
TARGET_CPU_SHARE = 0.10


def main() -> int:
    """Seed, start the bot, change statuses, measure, report."""
    parser = bench_parser(__doc__)
    parser.add_argument("--deployments", type=int, default=1000, help="active deployments (default 1000)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of status changes (default 60)")
    parser.add_argument("--change-rate", type=float, default=0.3, help="status changes per second (0.3)")
    parser.add_argument("--drain", type=float, default=80.0, help="seconds to wait for reports (default 80)")
    parser.add_argument("--time-cap", type=float, default=240.0, help="hard cap for the whole run (240)")
    parser.add_argument("--fill-rate", type=float, default=1.0, help="order bursts per second (1.0)")
    parser.add_argument(
        "--fills-idle-max", type=float, default=60.0, help="FILLS_IDLE_MAX_SECONDS for the bot (60)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args()
    quiet_logs()
    hard_cap(args.time_cap)
    rng = random.Random(args.seed)
    started = time.monotonic()
    settings, credentials = EXAMPLE_PROFILES["TradierSettings"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    results: dict[str, Any] = {
        "machine": machine_info(),
        "deployments": args.deployments,
        "bot_env": args.bot_env,
    }

    with FakeSlack(check_blocks=False) as slack, TimedFakeQuantConnect() as qc:
        env = {
            **production_defaults(base_env(tmp, slack, qc)),
            **profile_env({"tradier-main": ("TradierBrokerage", credentials)}),
            "WATCH_INTERVAL_SECONDS": "10",
            "WATCH_RUNNING_INTERVAL_SECONDS": str(RUNNING_INTERVAL),
            "FILLS_INTERVAL_SECONDS": "60",
            "FILLS_IDLE_MAX_SECONDS": str(args.fills_idle_max),
            "LOG_LEVEL": "WARNING",
            **bot_env(args),
        }
        store = Store(env["DATABASE_URL"])
        web = WebClient(token=slack.bot_token, base_url=slack.base_url)
        now = datetime.now(UTC)
        seeded: list[tuple[str, int, str]] = []  # request id, project id, card ts
        for index in range(args.deployments):
            project_id = qc.add_project(f"Watch {index:04d}", default_nodes=True)
            deploy_id = qc.seed_live(project_id, "Running")
            request = seed_request(
                store,
                web,
                project_id=project_id,
                project_name=f"Watch {index:04d}",
                channel_id=DEPLOY_CHANNEL,
                requester_id=REQUESTER,
                approvals_needed=0,
                settings=settings,
            )
            # Spread over the Running interval: the steady state of deployments started at different times.
            next_poll = now + timedelta(seconds=RUNNING_INTERVAL * index / args.deployments)
            seed_live(store, request, deploy_id, "Running", next_poll)
            seeded.append((request.id, project_id, str(request.message_ts)))
        store.dispose()
        took = time.monotonic() - started
        print(f"seeded {len(seeded)} live deployments in {took:.0f} s; starting the bot")
        seed_calls = len(slack.calls)

        port = free_port()
        process = start_bot(env, port, tmp / "bot.log")
        try:
            if not wait_until(lambda: healthy(port), 60, interval=0.2):
                print(f"the bot did not come up; see {tmp / 'bot.log'}")
                return 1
            sampler = ProcessSampler(process.pid)
            sampler.start()
            measure_from = time.perf_counter()
            slack_from = len(slack.calls)
            print(f"bot pid {process.pid} healthy; changing statuses for {args.window:.0f} s")

            changes: dict[str, tuple[int, str, float]] = {}  # request id -> project, new status, when
            untouched = list(seeded)
            rng.shuffle(untouched)
            window_end = time.monotonic() + args.window
            interval = 1.0 / args.change_rate if args.change_rate > 0 else args.window
            next_change = time.monotonic()
            # Orders land only on deployments that keep running (status changes never reach these).
            fill_targets = untouched[: max(1, len(untouched) // 2)]
            fills_added: dict[str, int] = {}
            fill_every = 1.0 / args.fill_rate if args.fill_rate > 0 else float("inf")
            next_fill = time.monotonic()
            while time.monotonic() < window_end and untouched:
                if time.monotonic() >= next_fill:
                    fill_request, fill_project, _ts = rng.choice(fill_targets)
                    burst = rng.randint(1, 5)
                    qc.orders.add(fill_project, burst)
                    fills_added[fill_request] = fills_added.get(fill_request, 0) + burst
                    next_fill += fill_every
                if time.monotonic() >= next_change and len(untouched) > len(fill_targets):
                    request_id, project_id, _ts = untouched.pop()
                    status = rng.choice(NEW_STATUSES)
                    message = "bench: simulated runtime error" if status == "RuntimeError" else None
                    qc.set_status(project_id, status, message)
                    changes[request_id] = (project_id, status, time.monotonic())
                    next_change += interval
                time.sleep(0.02)
            print(f"{len(changes)} status changes made; waiting up to {args.drain:.0f} s for the reports")
            cards = {ts: rid for rid, _pid, ts in seeded}

            def replies_by_request() -> dict[str, list[Any]]:
                found: dict[str, list[Any]] = {}
                for call in slack.calls[slack_from:]:
                    if call.method == "chat.postMessage" and call.ok and call.body.get("thread_ts") in cards:
                        found.setdefault(cards[call.body["thread_ts"]], []).append(call)
                return found

            def fills_reported() -> int:
                return counted(
                    fill_messages(
                        c.body
                        for c in slack.calls[slack_from:]
                        if c.method == "chat.postMessage" and c.ok and c.body.get("thread_ts") in cards
                    )
                )

            wait_until(
                lambda: (
                    set(changes) <= set(replies_by_request())
                    and fills_reported() >= sum(fills_added.values())
                ),
                args.drain,
                interval=0.5,
            )
            # A little longer, so a late duplicate would still be counted.
            time.sleep(3)
            usage = sampler.stop()
            measured_seconds = time.perf_counter() - measure_from
            reads = qc.count("live/read", since=measure_from)
            order_reads = qc.count("live/orders/read", since=measure_from)
        finally:
            code = stop_process(process)
        print(f"bot stopped (exit code {code})")

        calls = slack.calls[slack_from:]
        updates: dict[str, int] = {}
        replies: dict[str, list[str]] = {}
        reply_at: dict[str, float] = {}
        fill_payloads: dict[str, list[dict[str, Any]]] = {}
        other = 0
        for call in calls:
            if not call.ok:
                other += 1
                continue
            if call.method == "chat.update" and call.body.get("ts") in cards:
                request_id = cards[call.body["ts"]]
                updates[request_id] = updates.get(request_id, 0) + 1
            elif call.method == "chat.postMessage" and str(call.body.get("text") or "").startswith("📈"):
                fill_payloads.setdefault(cards.get(call.body.get("thread_ts"), "?"), []).append(call.body)
            elif call.method == "chat.postMessage" and call.body.get("thread_ts") in cards:
                request_id = cards[call.body["thread_ts"]]
                replies.setdefault(request_id, []).append(str(call.body.get("text") or ""))
                reply_at.setdefault(request_id, call.at)
            else:
                other += 1

    exact = missed = duplicated = wrong_text = 0
    delays = []
    for request_id, (_project_id, status, changed_at) in changes.items():
        texts = replies.get(request_id, [])
        card_updates = updates.get(request_id, 0)
        if len(texts) == 1 and card_updates == 1:
            exact += 1
        if not texts or card_updates == 0:
            missed += 1
        if len(texts) > 1 or card_updates > 1:
            duplicated += 1
        if texts and status not in texts[0]:
            wrong_text += 1
        if request_id in reply_at:
            delays.append(reply_at[request_id] - changed_at)
    stray = sum(1 for rid in set(updates) | set(replies) if rid not in changes)
    fills_missed = fills_duplicated = 0
    for request_id, added in fills_added.items():
        messages_of = fill_messages(fill_payloads.get(request_id, []))
        ids = listed_ids(messages_of)
        fills_missed += max(0, added - counted(messages_of))
        fills_duplicated += max(0, counted(messages_of) - added) + len(ids) - len(set(ids))
    fill_messages_sent = sum(len(p) for p in fill_payloads.values())
    minutes = measured_seconds / 60
    messages = sum(updates.values()) + sum(len(t) for t in replies.values())
    summary = {
        "deployments": len(seeded),
        "status_changes": len(changes),
        "measured_seconds": measured_seconds,
        "live_read_per_deployment_per_minute": reads / len(seeded) / minutes if minutes else float("nan"),
        "slack_messages_per_change": messages / len(changes) if changes else float("nan"),
        "orders_read_calls_per_minute": order_reads / minutes if minutes else float("nan"),
        "orders_read_per_deployment_per_minute": (
            order_reads / len(seeded) / minutes if minutes else float("nan")
        ),
        "fills_added": sum(fills_added.values()),
        "fill_messages": fill_messages_sent,
        "fills_missed": fills_missed,
        "fills_duplicated": fills_duplicated,
        "changes_with_exactly_1_update_1_reply": exact,
        "missed": missed,
        "duplicated": duplicated,
        "reply_without_status_name": wrong_text,
        "messages_for_unchanged_deployments": stray,
        "other_slack_calls": other,
        "change_to_reply_median_s": percentile(delays, 50),
        "change_to_reply_max_s": max(delays) if delays else float("nan"),
        **usage,
    }
    results.update(summary)
    results["seed_slack_calls"] = seed_calls
    results["elapsed_seconds"] = time.monotonic() - started
    print_table(
        f"Watching {len(seeded)} deployments for {measured_seconds:.0f} s at default intervals",
        [{"measure": key, "value": value} for key, value in summary.items()],
        ["measure", "value"],
    )
    checks = [
        f"peak RSS {usage['rss_high_water_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f})",
        f"CPU {usage['cpu_share_of_one_core'] * 100:.1f}% of one core "
        f"(target < {TARGET_CPU_SHARE * 100:.0f}%)",
        f"missed {missed}, duplicated {duplicated}, stray {stray} (target 0, 0, 0)",
        f"fills missed {fills_missed}, duplicated {fills_duplicated} (target 0, 0)",
    ]
    results["checks"] = checks
    print("\n" + "\n".join(checks))
    write_json(args.json, results)
    cancel_hard_cap()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
