"""Approve-to-create overhead: from the Approve click to `live/create` arriving at the fake QuantConnect.

    python bench/approve_to_create.py [--requests N] [--concurrency C] [--time-cap S] [--json FILE]

N pending requests (paper Tradier, one approval needed) are seeded in the store with their cards posted to
the fake Slack; each gets one signed Approve click over HTTP. Compiles finish at once (the fake answers
BuildSuccess on the first compile/read), so what is measured is the bot's own path: ack, approval CAS,
hand-off to the deployer pool, compile/create, compile/read, node choice, credentials, live/read, the
`deploying` CAS, and live/create. Arrival times come from a thin FakeQuantConnect subclass that records
time.perf_counter() as each request arrives. With --concurrency 1 (default) clicks go one after another,
each after the previous live/create, so no queueing is included; higher values measure a burst.
"""

from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DEFAULTS,
    TEST_SPEEDUPS,
    TimedFakeQuantConnect,
    bench_parser,
    bot_env,
    cancel_hard_cap,
    hard_cap,
    machine_info,
    percentile,
    print_table,
    quiet_logs,
    seed_request,
    write_json,
)

from bot.ids import Action
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.slack_requests import block_actions_body, sign
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, SIGNING_SECRET, running_bot
from tests.support.examples import EXAMPLE_PROFILES

MODEL_KEY = "TradierSettings"
PROFILE = "tradier-main"
TARGET_MEDIAN_MS = 100.0
STAGES = ("compile/create", "compile/read", "projects/nodes/read", "live/read", "live/create")


def main() -> int:
    """Seed, click, measure, print."""
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=200, help="approvals to measure (default 200)")
    parser.add_argument("--concurrency", type=int, default=1, help="clicks in flight (default 1)")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds before clicks stop")
    args = parser.parse_args()
    quiet_logs()
    hard_cap(args.time_cap + 45)
    started = time.monotonic()
    deadline = started + args.time_cap
    settings, credentials = EXAMPLE_PROFILES[MODEL_KEY]
    env = {"APPROVALS_PAPER": "1", "LOG_LEVEL": "WARNING", "WATCH_INTERVAL_SECONDS": "10"}
    env["WATCH_RUNNING_INTERVAL_SECONDS"] = "60"
    # The harness speeds Slack pacing and Home refresh up for tests; measure the documented defaults instead.
    env.update({key: str(DEFAULTS[key]) for key in TEST_SPEEDUPS})
    env.update(bot_env(args))
    tmp = tempfile.mkdtemp(prefix="bench-approve-")
    totals: list[float] = []
    acks: list[float] = []
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    missing = 0
    lock = threading.Lock()

    with (
        FakeSlack(check_blocks=False) as slack,
        TimedFakeQuantConnect() as qc,
        running_bot(
            Path(tmp), env=env, profiles={PROFILE: ("TradierBrokerage", credentials)}, slack=slack, qc=qc
        ) as bot,
    ):
        seeded = []
        for index in range(args.requests):
            project_id = qc.add_project(f"Approve {index:04d}")
            seeded.append(
                seed_request(
                    bot.services.store,
                    bot.services.slack,
                    project_id=project_id,
                    project_name=f"Approve {index:04d}",
                    channel_id=DEPLOY_CHANNEL,
                    requester_id=REQUESTER,
                    approvals_needed=1,
                    settings=settings,
                )
            )
        print(f"seeded {len(seeded)} pending requests; clicking Approve at concurrency {args.concurrency}")
        endpoint = bot.url.rstrip("/") + "/slack/events"
        with httpx.Client(timeout=10) as http:

            def click(request: Any) -> None:
                nonlocal missing
                if time.monotonic() > deadline:
                    return
                body = block_actions_body(
                    Action.APPROVE.value,
                    request.id,
                    user_id=APPROVERS[0],
                    channel_id=request.channel_id,
                    message_ts=request.message_ts,
                )
                headers = sign(SIGNING_SECRET, body)
                clicked = time.perf_counter()
                response = http.post(endpoint, content=body, headers=headers)
                acked = time.perf_counter()
                created = qc.wait_for_arrival("live/create", request.project_id, clicked, timeout=15)
                with lock:
                    acks.append(acked - clicked)
                    if response.status_code != 200 or created is None:
                        missing += 1
                        return
                    totals.append(created.at - clicked)
                    for stage in STAGES:
                        arrival = qc.wait_for_arrival(stage, request.project_id, clicked, timeout=0)
                        if arrival is not None:
                            stages[stage].append(arrival.at - clicked)

            with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
                list(pool.map(click, seeded))
        print("stopping the bot")

    def row(name: str, values: list[float]) -> dict[str, Any]:
        return {
            "measure": name,
            "n": len(values),
            "median_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
            "max_ms": (max(values) * 1000) if values else float("nan"),
        }

    rows = [row("click -> ack", acks)]
    rows += [row(f"click -> {stage} arrives", stages[stage]) for stage in STAGES[:-1]]
    rows.append(row("click -> live/create arrives", totals))
    print_table(
        f"Approve-to-create ({len(totals)} approvals, concurrency {args.concurrency}; "
        "live/read is the deployer's look before creating)",
        rows,
        ["measure", "n", "median_ms", "p95_ms", "max_ms"],
    )
    median = percentile(totals, 50) * 1000
    verdict = f"median {median:.0f} ms {'<' if median < TARGET_MEDIAN_MS else '>='} {TARGET_MEDIAN_MS:.0f} ms"
    print(f"\nTarget: median under {TARGET_MEDIAN_MS:.0f} ms, compile polls included: {verdict}")
    if missing:
        print(f"note: {missing} approvals reached no live/create within 15 s (or the click was refused)")
    write_json(
        args.json,
        {
            "machine": machine_info(),
            "requests": args.requests,
            "concurrency": args.concurrency,
            "bot_env": args.bot_env,
            "rows": rows,
            "missing": missing,
            "verdict": verdict,
            "elapsed_seconds": time.monotonic() - started,
        },
    )
    cancel_hard_cap()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
