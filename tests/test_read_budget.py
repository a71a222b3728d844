"""The QuantConnect read budget: a steady rate, an even split between readers, unspent shares flowing over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.read_budget import FILLS, NO_LIMIT, STATISTICS, ReadBudget

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def spend_all(budget: ReadBudget, reader: str, now: datetime) -> int:
    """Spend what `reader` may spend now, one call at a time; how many."""
    made = 0
    while budget.available(reader, now) >= 1:
        budget.spend(reader)
        made += 1
    return made


def test_two_busy_readers_get_half_each_and_never_more_than_the_rate() -> None:
    budget = ReadBudget(6)
    made = {FILLS: 0, STATISTICS: 0}
    for second in range(0, 590):
        now = START + timedelta(seconds=second)
        for reader in made:
            made[reader] += spend_all(budget, reader, now)
    # 589 s at 6 a minute (58.9 calls' worth), evenly split; nothing at once at the start.
    assert made == {FILLS: 29, STATISTICS: 29}


def test_a_reader_that_spends_nothing_leaves_its_share_to_the_other() -> None:
    budget = ReadBudget(6)
    made = sum(spend_all(budget, FILLS, START + timedelta(seconds=s)) for s in range(0, 590))
    # Its own half from the start (29.45), and the other half too once that one's share is full, a minute
    # in (26.45): 55 whole calls.
    assert made == 55
    # The idle reader's share is full, not more: it can make its burst at once, then waits.
    assert spend_all(budget, STATISTICS, START + timedelta(seconds=600)) == 3
    assert budget.available(STATISTICS, START + timedelta(seconds=601)) == 0


def test_no_limit_and_unknown_readers() -> None:
    budget = ReadBudget(0)
    assert budget.available(FILLS, START) == NO_LIMIT
    budget.spend(FILLS, 10**6)
    assert budget.share(FILLS).available(START) == NO_LIMIT
    with pytest.raises(ValueError, match="unknown reader"):
        ReadBudget(3).share("portfolio")
