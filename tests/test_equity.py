"""Equity and P&L on the status card: live/read's runtime statistics, refreshed at most every few minutes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.blocks.card import request_card
from bot.ids import Action
from bot.store import DeployRequest, RequestStatus
from bot.watcher import Watcher
from tests.support.bot import running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, card_text, click
from tests.support.outbox import outbox_messages
from tests.support.waiting import eventually
from tests.support.world import World, make_settings, make_world

STATS = {
    "Equity": "$101,234.50",
    "Unrealized": "-$120.00",
    "Net Profit": "$1,234.50",
    "Return": "1.23 %",
    "Fees": "-$12.00",
    "Holdings": "$50,000.00",
    "Probabilistic Sharpe Ratio": "0%",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def running(world: World, watcher: Watcher) -> DeployRequest:
    request = world.request()
    done = world.deployer().deploy(request.id)
    assert done is not None and done.status is RequestStatus.LIVE
    for _ in range(3):
        watcher.run_once(world.clock.advance(1))
    return done


def shown_at(world: World, request_id: str) -> object:
    statistics = world.store.get_statistics(request_id)
    return None if statistics is None else statistics.shown_at


def test_the_card_shows_equity_and_is_refreshed_at_most_every_few_minutes(world: World) -> None:
    settings = make_settings(statistics_refresh_seconds=300.0, watch_running_interval_seconds=10.0)
    watcher = Watcher(world.store, world.client, world.notifier, settings, world.clock)
    request = running(world, watcher)
    world.qc.runtime_statistics[request.project_id] = dict(STATS, Equity="$101,234.50 <!here>")
    watcher.run_once(world.clock.advance(10))
    first = shown_at(world, request.id)
    assert first == world.clock()
    assert any(m.kind == "card" and m.sent_at is None for m in outbox_messages(world.store, request.id))
    statistics = world.store.get_statistics(request.id)
    assert statistics is not None and statistics.statistics["Net Profit"] == "$1,234.50"
    live = world.store.get_request(request.id)
    assert live is not None
    _, blocks = request_card(live, approvals=[], model_name="IB", now=world.clock(), statistics=statistics)
    shown = str(blocks)
    assert "Unrealised P&L" in shown and "-$120.00" in shown and "Total P&L" in shown
    assert "Holdings value" in shown and "<!here>" not in shown and "&lt;!here&gt;" in shown
    # New values within five minutes: the card (and what it shows) waits.
    world.qc.runtime_statistics[request.project_id] = dict(STATS, Equity="$101,300.00")
    for _ in range(5):
        watcher.run_once(world.clock.advance(10))
    assert shown_at(world, request.id) == first
    assert world.store.get_statistics(request.id).statistics["Equity"] == "$101,234.50 <!here>"  # type: ignore[union-attr]
    world.clock.advance(300)
    watcher.run_once(world.clock.advance(10))
    second = shown_at(world, request.id)
    assert second == world.clock()
    # Unchanged values never refresh the card.
    world.clock.advance(600)
    watcher.run_once(world.clock.advance(10))
    assert shown_at(world, request.id) == second


def test_the_card_in_slack_shows_equity(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=IB_PROFILES, env={"STATISTICS_REFRESH_SECONDS": "0"}) as bot:
        bot.services.notifier.min_interval = 0.02
        request = ask(bot, "Equity Strategy")
        bot.qc.runtime_statistics[request.project_id] = STATS
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        eventually(lambda: "$101,234.50" in card_text(bot, request), timeout=30, what="equity on the card")
        text = card_text(bot, request)
        assert ("Equity" in text and "Total P&amp;L" in text) or "Total P&L" in text


def test_many_cards_refresh_within_a_share_of_the_channel_pace(world: World) -> None:
    """Per-deployment mode: statistics arrive with every read, but cards refresh at most at a share of the
    channel's Slack pace (status replies must not queue behind them); each card is shown in time anyway."""
    settings = make_settings(
        statistics_refresh_seconds=300.0,
        watch_running_interval_seconds=10.0,
        slack_channel_interval_seconds=1.0,
    )
    watcher = Watcher(world.store, world.client, world.notifier, settings, world.clock)
    requests = []
    for name in ("Alpha", "Beta", "Gamma", "Delta"):
        request = world.request(project=name)
        assert world.deployer().deploy(request.id) is not None
        requests.append(request)
    for _ in range(3):
        watcher.run_once(world.clock.advance(1))
    for request in requests:
        world.qc.runtime_statistics[request.project_id] = dict(STATS)

    watcher.run_once(world.clock.advance(10))  # every deployment is read in this pass
    shown = [r for r in requests if world.store.get_statistics(r.id) is not None]
    assert len(shown) == 1  # one refresh: the share (0.2 writes a second) allows no burst of four

    for _ in range(60):
        watcher.run_once(world.clock.advance(1))
    assert all(world.store.get_statistics(r.id) is not None for r in requests)
