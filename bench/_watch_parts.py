"""watch_scale.py's parts: what a card's Slack writes show, and a fake account whose equity keeps moving."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.fakes.fake_quantconnect import FakeQuantConnect

# The card's equity section is a fields section: `*Equity*` then the value (live/list's, or the statistics').
_EQUITY = re.compile(r"\*Equity\*\\n\$?([0-9,]+\.[0-9]{2})")
_EQUITY_TEXT = re.compile(r"Equity\W+\$?[0-9,]+\.[0-9]{2}")


class Listed(Protocol):
    """A seeded deployment (_common.Seeded): its project."""

    project_id: int


@dataclass
class SlackTally:
    """What the fake Slack got for the cards, classified (see the module docstring)."""

    status_updates: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    equity_updates: dict[str, list[float]] = field(default_factory=dict)
    unchanged_updates: dict[str, int] = field(default_factory=dict)
    replies: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    fills: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Alerts (issue 13): broadcast thread replies for statuses that need a person, apart from status replies.
    alerts: dict[str, list[str]] = field(default_factory=dict)
    failed_calls: int = 0
    other_calls: int = 0


def shown(call: Any) -> tuple[str, str | None]:
    """What a chat.update of a card shows: its status (end of the notification text) and its equity."""
    text = str(call.body.get("text") or "")
    equity = _EQUITY.search(str(call.body.get("blocks") or ""))
    return text.rsplit(": ", 1)[-1], equity.group(1) if equity else None


def tally(calls: list[Any], cards: dict[str, str]) -> SlackTally:
    """Classify every Slack call of the measured window."""
    result = SlackTally()
    state = {ts: ("live (Running)", None) for ts in cards}
    for call in calls:
        if not call.ok:
            result.failed_calls += 1
            continue
        if call.method == "chat.update" and call.body.get("ts") in cards:
            ts = call.body["ts"]
            request_id = cards[ts]
            status, equity = shown(call)
            before_status, before_equity = state[ts]
            if status != before_status:
                result.status_updates.setdefault(request_id, []).append((call.at, status))
            elif equity != before_equity:
                result.equity_updates.setdefault(request_id, []).append(call.at)
            else:
                result.unchanged_updates[request_id] = result.unchanged_updates.get(request_id, 0) + 1
            state[ts] = (status, equity)
        elif call.method == "chat.postMessage" and str(call.body.get("text") or "").startswith("📈"):
            result.fills.setdefault(cards.get(call.body.get("thread_ts"), "?"), []).append(call.body)
        elif call.method == "chat.postMessage" and call.body.get("reply_broadcast") in (True, "true", "1"):
            result.alerts.setdefault(cards.get(call.body.get("thread_ts"), "?"), []).append(
                str(call.body.get("text") or "")
            )
        elif call.method == "chat.postMessage" and call.body.get("thread_ts") in cards:
            request_id = cards[call.body["thread_ts"]]
            result.replies.setdefault(request_id, []).append((call.at, str(call.body.get("text") or "")))
        else:
            result.other_calls += 1
    return result


def statistics_of(equity: float) -> dict[str, str]:
    """live/read's runtime statistics of a deployment at `equity` (it started at 100,000)."""
    # "Volume" moves only with fills (the fake adds up the filled orders), as Lean's statistic does.
    return {
        "Equity": f"${equity:,.2f}",
        "Net Profit": f"${equity - 100_000:,.2f}",
        "Fees": "$0.00",
        "Volume": "$0.00",
    }


class EquityDrift:
    """Moves every deployment's equity in the fake every `every` seconds, on a thread."""

    def __init__(self, qc: FakeQuantConnect, deployments: Sequence[Listed], every: float, seed: int) -> None:
        self.qc, self.deployments, self.every = qc, deployments, every
        self.rng = random.Random(seed)
        self.values = {d.project_id: 100_000.0 for d in deployments}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="equity-drift", daemon=True)

    def start(self) -> None:
        """Start moving."""
        if self.every > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop moving."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for deployment in self.deployments:
                value = self.values[deployment.project_id] * (1 + self.rng.uniform(-0.002, 0.002))
                self.values[deployment.project_id] = value
                self.qc.set_equity(deployment.project_id, round(value, 2))
                self.qc.runtime_statistics[deployment.project_id] = statistics_of(value)
