"""What a request changes against the project's previous one: the pure diff and its rendering on the card."""

from __future__ import annotations

from datetime import timedelta

from bot.blocks.changes import changes_block
from bot.changes import Change, baseline_for, request_changes
from bot.statuses import RequestStatus
from tests.support.requests import STORED_AT, stored_request

S = RequestStatus
SPY = {"symbolId": "SPY R735QTJ8XC9X", "symbol": "SPY", "quantity": 100.0, "averagePrice": 450.25}


def _before(**overrides: object):  # type: ignore[no-untyped-def]
    values = {
        "id": "r-0000aaaa",
        "status": S.ENDED,
        "is_paper": True,
        "compile_id": "abcdef0123456789-x",
        "settings": {"ib-trading-mode": "paper", "ib-weekly-restart-utc-time": "21:00:00"},
        **overrides,
    }
    return stored_request(**values)


def _after(**overrides: object):  # type: ignore[no-untyped-def]
    values = {"id": "r-0000bbbb", "created_at": STORED_AT + timedelta(hours=1), **overrides}
    return stored_request(**values)


def test_only_what_differs_is_listed_and_the_build_is_always_named() -> None:
    changes = request_changes(_after(is_paper=True, settings=_before().settings), _before())
    assert changes is not None and changes.baseline_id == "r-0000aaaa"
    assert changes.items == (
        Change("Compile", "build abcdef012345", "a new build of the project's current code at deploy"),
    )


def test_every_kind_of_change_is_listed() -> None:
    before = _before(
        data_providers=("QuantConnectBrokerage", "InteractiveBrokersBrokerage"),
        holdings=[SPY],
        cash=[{"amount": 1000.0, "currency": "USD"}],
    )
    after = _after(
        model_key="InteractiveBrokersSettings",
        profile="ib-spare",
        node_id="LN-1",
        version_id="-1",
        automatic_redeploy=True,
        data_providers=("InteractiveBrokersBrokerage", "QuantConnectBrokerage"),
        holdings=[{**SPY, "quantity": 150.0}, {"symbol": "AAPL", "quantity": 3.0, "averagePrice": 180.0}],
        cash=[],
        compile_id="ffff00001111",
    )
    changes = request_changes(after, before)
    assert changes is not None
    assert [(c.what, c.before, c.after) for c in changes.items] == [
        ("Credential profile", "ib-main", "ib-spare"),
        ("Money", "paper", "REAL MONEY"),
        ("ib-trading-mode", "paper", "live"),
        ("Live node", "first free node", "LN-1"),
        (
            "Data providers (order)",
            "QuantConnectBrokerage, InteractiveBrokersBrokerage",
            "InteractiveBrokersBrokerage, QuantConnectBrokerage",
        ),
        ("Holdings", "SPY 100 @ 450.25", "SPY 150 @ 450.25"),
        ("Holdings", "none", "AAPL 3 @ 180"),
        ("Cash", "1000 USD", "none"),
        ("Lean version", "17202", "master (-1)"),
        ("Compile", "build abcdef012345", "new build ffff00001111"),
        ("Automatic redeploy", "off", "on"),
    ]
    assert [c.what for c in changes.items if c.to_real_money] == ["Money"]


def test_the_switch_to_real_money_is_bold_with_an_alarm_and_text_is_escaped() -> None:
    changes = request_changes(_after(profile="<!channel>"), _before())
    assert changes is not None
    text = changes_block(changes)["text"]["text"]
    assert "• :rotating_light: *Money: paper → REAL MONEY*" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_the_baseline_is_the_redeployed_request_else_the_newest_earlier_one() -> None:
    first = _before(id="r-00000001")
    second = _before(id="r-00000002", created_at=STORED_AT + timedelta(minutes=30))
    later = _after(created_at=STORED_AT + timedelta(hours=2))
    other_project = _before(id="r-00000003", project_id=999, created_at=STORED_AT + timedelta(minutes=40))
    candidates = [first, second, later, other_project]
    assert baseline_for(_after(), candidates) == second
    assert baseline_for(_after(redeploy_of="r-00000001"), candidates) == first
    assert baseline_for(first, candidates) is None
    assert request_changes(first, None) is None
