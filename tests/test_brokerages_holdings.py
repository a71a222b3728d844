"""Holdings and cash: the one-line-per-entry format, per-line errors, and formatting back."""

from __future__ import annotations

import pytest

from bot.brokerages import (
    CASH_FORMAT_HELP,
    HOLDINGS_FORMAT_HELP,
    BrokerageHolding,
    CashAmount,
    FieldErrors,
    format_cash,
    format_holdings,
    parse_cash,
    parse_holdings,
)


def test_help_texts_fit_a_slack_hint() -> None:
    assert len(HOLDINGS_FORMAT_HELP) <= 150
    assert len(CASH_FORMAT_HELP) <= 150


def test_holdings_parse_with_and_without_symbol_id() -> None:
    text = "SPY 100 450.25 SPY R735QTJ8XC9X\n\n  btcusd -0.5 30,000  \n"
    assert parse_holdings(text) == [
        BrokerageHolding(symbol_id="SPY R735QTJ8XC9X", symbol="SPY", quantity=100, average_price=450.25),
        BrokerageHolding(symbol="BTCUSD", quantity=-0.5, average_price=30000),
    ]


def test_holding_body_uses_camel_case_and_omits_an_unknown_symbol_id() -> None:
    with_id = BrokerageHolding(symbol_id="SPY R735QTJ8XC9X", symbol="SPY", quantity=1, average_price=2)
    assert with_id.to_body() == {
        "symbolId": "SPY R735QTJ8XC9X",
        "symbol": "SPY",
        "quantity": 1,
        "averagePrice": 2,
    }
    assert BrokerageHolding(symbol="SPY", quantity=1, average_price=2).to_body() == {
        "symbol": "SPY",
        "quantity": 1,
        "averagePrice": 2,
    }


def test_holdings_errors_are_collected_per_line() -> None:
    with pytest.raises(FieldErrors) as caught:
        parse_holdings("SPY 10 400\nAAPL ten 150\n\nMSFT 5\nQQQ 3 -1\nIWM 0 200")
    message = caught.value.errors["holdings"]
    assert set(caught.value.errors) == {"holdings"}
    assert 'Line 2: quantity "ten" is not a number (digits 0-9' in message
    assert "Line 4: " in message and "SYMBOL QUANTITY AVERAGE_PRICE" in message
    assert 'Line 5: average price "-1" cannot be negative.' in message
    assert "Line 6: quantity of IWM is zero" in message
    assert "Line 1" not in message and "Line 3" not in message


def test_blank_text_means_no_holdings_and_no_cash() -> None:
    assert parse_holdings("  \n\n") == []
    assert parse_cash("") == []


def test_cash_parses_either_order_and_uppercases_the_currency() -> None:
    assert parse_cash("10000 USD\nbtc 0.5\n1,500.75 eur") == [
        CashAmount(amount=10000, currency="USD"),
        CashAmount(amount=0.5, currency="BTC"),
        CashAmount(amount=1500.75, currency="EUR"),
    ]


def test_cash_errors_are_collected_per_line() -> None:
    with pytest.raises(FieldErrors) as caught:
        parse_cash("ten USD\n100 USD\n200 usd\n5 US$\n10000")
    message = caught.value.errors["cash"]
    assert 'Line 1: amount "ten" is not a number (digits 0-9' in message
    assert "Line 3: USD is already given on line 2." in message
    assert 'Line 4: currency "US$" is not a currency code' in message
    assert "Line 5: " in message and "AMOUNT CURRENCY" in message
    assert "Line 2:" not in message


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(FieldErrors):
        parse_cash("nan USD")
    with pytest.raises(FieldErrors):
        parse_holdings("SPY inf 10")


def test_format_round_trips() -> None:
    holdings = parse_holdings("SPY 100 450.25 SPY R735QTJ8XC9X\nBTCUSD -0.5 30000")
    assert format_holdings(holdings) == "SPY 100 450.25 SPY R735QTJ8XC9X\nBTCUSD -0.5 30000"
    assert parse_holdings(format_holdings(holdings)) == holdings
    cash = parse_cash("10000 USD\n0.125 BTC")
    assert format_cash(cash) == "10000 USD\n0.125 BTC"
    assert parse_cash(format_cash(cash)) == cash
