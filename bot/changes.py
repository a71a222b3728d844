"""What a deploy request changes against the project's previous request (the running one, or the last).

A pure function: `request_changes(request, baseline)` lists only what differs — brokerage, credential profile,
paper or real money, settings, node, data providers and their order, holdings and cash, Lean version, the
build, automatic redeploy — as plain text; the card builder escapes and renders it (bot/blocks/changes.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.brokerages import registry
from bot.ids import VERSION_LATEST
from bot.statuses import RequestStatus
from bot.store.models import DeployRequest

MAX_SYMBOLS_LISTED = 8


@dataclass(frozen=True)
class Change:
    """One difference: what, before, after (plain text); `to_real_money` marks the switch that needs alarm."""

    what: str
    before: str
    after: str
    to_real_money: bool = False


@dataclass(frozen=True)
class Changes:
    """The differences of a request against its baseline request."""

    baseline_id: str
    baseline_status: RequestStatus
    items: tuple[Change, ...]


def baseline_for(request: DeployRequest, candidates: Iterable[DeployRequest]) -> DeployRequest | None:
    """The request to compare with: the one it redeploys, else the project's newest earlier request."""
    earlier = [
        c
        for c in candidates
        if c.id != request.id
        and c.project_id == request.project_id
        and (c.created_at, c.id) < (request.created_at, request.id)
    ]
    if request.redeploy_of:
        named = next((c for c in earlier if c.id == request.redeploy_of), None)
        if named is not None:
            return named
    return max(earlier, key=lambda c: (c.created_at, c.id), default=None)


def request_changes(request: DeployRequest, baseline: DeployRequest | None) -> Changes | None:
    """What `request` changes against `baseline` (None without one); an empty list when nothing differs."""
    if baseline is None:
        return None
    items: list[Change] = []

    def differ(what: str, before: str, after: str, **kw: Any) -> None:
        if before != after:
            items.append(Change(what, before, after, **kw))

    differ("Brokerage", registry.display_name(baseline.model_key), registry.display_name(request.model_key))
    differ("Credential profile", baseline.profile or "none", request.profile or "none")
    differ(
        "Money",
        _money(baseline.is_paper),
        _money(request.is_paper),
        to_real_money=baseline.is_paper and not request.is_paper,
    )
    for name in sorted(set(baseline.settings) | set(request.settings)):
        differ(name, _value(baseline.settings.get(name)), _value(request.settings.get(name)))
    differ("Live node", baseline.node_id or "first free node", request.node_id or "first free node")
    before_providers, after_providers = list(baseline.data_providers), list(request.data_providers)
    if before_providers != after_providers:
        same_set = sorted(before_providers) == sorted(after_providers)
        differ(
            "Data providers (order)" if same_set else "Data providers",
            ", ".join(before_providers) or "QuantConnect",
            ", ".join(after_providers) or "QuantConnect",
        )
    items += _book_changes("Holdings", baseline.holdings, request.holdings, _holding_key, _holding_text)
    items += _book_changes("Cash", baseline.cash, request.cash, _cash_key, _cash_text)
    differ("Lean version", _version(baseline.version_id), _version(request.version_id))
    items.append(_build(baseline, request))
    differ("Automatic redeploy", _on(baseline.automatic_redeploy), _on(request.automatic_redeploy))
    return Changes(baseline.id, baseline.status, tuple(items))


def _money(is_paper: bool) -> str:
    return "paper" if is_paper else "REAL MONEY"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _version(version_id: str) -> str:
    return "master (-1)" if version_id == VERSION_LATEST else version_id


def _value(value: Any) -> str:
    return "(not set)" if value is None or value == "" else str(value)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _holding_key(item: Mapping[str, Any]) -> str:
    # By ticker: a prefill adds symbol ids a hand-typed book lacks, which is no change of position.
    return str(item.get("symbol") or item.get("symbolId") or "?").upper()


def _holding_text(item: Mapping[str, Any]) -> str:
    return f"{item.get('symbol', '?')} {_number(item.get('quantity'))} @ {_number(item.get('averagePrice'))}"


def _cash_key(item: Mapping[str, Any]) -> str:
    return str(item.get("currency") or "?")


def _cash_text(item: Mapping[str, Any]) -> str:
    return f"{_number(item.get('amount'))} {item.get('currency', '?')}"


def _book_changes(
    what: str,
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    key: Any,
    text: Any,
) -> list[Change]:
    """One line per added, removed or changed position (or balance), at most a few, then a count."""
    old = {key(item): text(item) for item in before}
    new = {key(item): text(item) for item in after}
    lines: list[Change] = []
    for name in list(dict.fromkeys([*old, *new])):
        if old.get(name) != new.get(name):
            lines.append(Change(what, old.get(name, "none"), new.get(name, "none")))
    if len(lines) > MAX_SYMBOLS_LISTED:
        rest = len(lines) - MAX_SYMBOLS_LISTED
        summary = Change(what, f"{len(old)} in all", f"{len(new)} in all, {rest} more")
        lines = [*lines[:MAX_SYMBOLS_LISTED], summary]
    return lines


def _build(baseline: DeployRequest, request: DeployRequest) -> Change:
    """Every deployment compiles the project anew: say so, with the build ids once known."""
    before = f"build {baseline.compile_id[:12]}" if baseline.compile_id else "no build"
    if request.compile_id is None:
        return Change("Compile", before, "a new build of the project's current code at deploy")
    if request.compile_id == baseline.compile_id:
        return Change("Compile", before, "the same build")
    return Change("Compile", before, f"new build {request.compile_id[:12]}")
