"""Reconnect delays grow exponentially to a cap, and jitter only ever shortens them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.backoff import Backoff


def test_delays_double_until_the_cap_without_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, factor=2.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(0) == 1.0  # called before any failure: the first delay


@given(failures=st.integers(min_value=1, max_value=10_000), draw=st.floats(min_value=0.0, max_value=1.0))
def test_jitter_keeps_every_delay_between_half_and_the_full_step(failures: int, draw: float) -> None:
    backoff = Backoff()
    full = Backoff(jitter=0.0).delay(failures)
    delay = backoff.delay(failures, rand=lambda: draw)
    assert full / 2 <= delay <= full <= backoff.maximum
