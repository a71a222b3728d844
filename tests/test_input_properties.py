"""Property tests for every parser of what people type: ids, amounts, holdings, cash, symbol ids, project
queries and the project/request names of the live commands. Whatever the text, the answer is a value or a
refusal that says what is wrong; never another exception."""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.blocks.modal import ProjectOption
from bot.brokerages.errors import FieldErrors
from bot.brokerages.holdings import BrokerageHolding, CashAmount, parse_cash, parse_holdings
from bot.brokerages.symbol_id import MAX_SECURITY_TYPE, MAX_UNSIGNED_64, normalize_symbol_id
from bot.errors import BotError
from bot.live_ops import LiveOps, UnknownProject
from bot.numbers import INT64_MAX, MAX_AMOUNT, is_ascii_digits, parse_amount, parse_id
from bot.projects import ProjectCatalog, ProjectNotFound
from bot.quantconnect.client import QuantConnectClient
from bot.store import Store
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.support.text import ODD_DIGITS, TEXT

FAST = settings(max_examples=80, deadline=None)
LINES = st.lists(TEXT, max_size=6).map("\n".join)


def _base36(value: int) -> str:
    digits = string.digits + string.ascii_uppercase
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


# -- numbers ---------------------------------------------------------------------------------------------


@FAST
@given(TEXT)
@example("²")
@example("①")
@example("٣")
@example("9999999999999999999999999")
def test_ids_are_ascii_digits_within_signed_64_bits(text: str) -> None:
    value = parse_id(text)
    stripped = text.strip()
    if value is None:
        assert not is_ascii_digits(stripped) or int(stripped) == 0 or int(stripped) > INT64_MAX
    else:
        assert is_ascii_digits(stripped) and value == int(stripped) and 1 <= value <= INT64_MAX
    assert is_ascii_digits(text) == (bool(text) and all(c in "0123456789" for c in text))


@FAST
@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_every_integer_round_trips_or_is_refused_by_its_bounds(number: int) -> None:
    assert parse_id(str(number)) == (number if 1 <= number <= INT64_MAX else None)


@FAST
@given(TEXT)
@example("nan")
@example("-inf")
@example("1e400")
@example("10,000.5")
@example("\u0661\u0660")
def test_amounts_are_finite_bounded_ascii_decimals(text: str) -> None:
    value = parse_amount(text)
    if value is not None:
        assert math.isfinite(value) and abs(value) <= MAX_AMOUNT
        assert all(c in "0123456789.,+-" for c in text.strip())


@FAST
@given(st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, allow_nan=False, places=4))
def test_decimal_amounts_round_trip(amount: object) -> None:
    assert parse_amount(f"{amount:f}") == pytest.approx(float(str(amount)))


# -- holdings and cash -----------------------------------------------------------------------------------


def _refusal(error: FieldErrors, field: str) -> str:
    assert set(error.errors) == {field}
    message = error.errors[field]
    assert message.startswith(field.capitalize() + ": Line ") or "lines; at most" in message
    return message


@FAST
@given(LINES)
@example("SPY ² 10")
@example("SPY 1 1\nspy 2 2")
@example("SPY 100 450.25 spy r735qtj8xc9x")
@example("SPY 1e999 1")
def test_any_holdings_text_parses_or_says_which_line_is_wrong(text: str) -> None:
    try:
        holdings = parse_holdings(text)
    except FieldErrors as exc:
        _refusal(exc, "holdings")
        return
    symbols = [h.symbol_id or h.symbol for h in holdings]
    assert len(symbols) == len(set(symbols)), "duplicates are refused"
    for holding in holdings:
        assert holding.quantity != 0 and abs(holding.quantity) <= MAX_AMOUNT
        assert 0 <= holding.average_price <= MAX_AMOUNT
        if holding.symbol_id is not None:
            assert normalize_symbol_id(holding.symbol_id) == holding.symbol_id


@FAST
@given(LINES)
@example("-5 USD")
@example("USD -5")
@example("² USD")
def test_any_cash_text_parses_or_says_which_line_is_wrong(text: str) -> None:
    try:
        amounts = parse_cash(text)
    except FieldErrors as exc:
        _refusal(exc, "cash")
        return
    currencies = [a.currency for a in amounts]
    assert len(currencies) == len(set(currencies))
    assert all(0 <= a.amount <= MAX_AMOUNT for a in amounts), "a balance cannot be negative"


TICKER = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=8)
QUANTITY = st.decimals(min_value=-(10**6), max_value=10**6, places=2).filter(lambda d: d != 0)
PRICE = st.decimals(min_value=0, max_value=10**6, places=2)


@FAST
@given(st.dictionaries(TICKER, st.tuples(QUANTITY, PRICE), min_size=1, max_size=5))
def test_well_formed_holdings_come_back_as_written(positions: dict[str, tuple[object, object]]) -> None:
    text = "\n".join(f"{symbol} {quantity:f} {price:f}" for symbol, (quantity, price) in positions.items())
    parsed = parse_holdings(text)
    assert [h.symbol for h in parsed] == list(positions)
    for holding, (quantity, price) in zip(parsed, positions.values(), strict=True):
        assert holding.quantity == pytest.approx(float(str(quantity)))
        assert holding.average_price == pytest.approx(float(str(price)))
    with pytest.raises(FieldErrors, match="already given on line 1"):
        first = text.splitlines()[0]
        parse_holdings(f"{first}\n{first}")


def test_models_refuse_what_the_text_format_refuses() -> None:
    for bad in ({"amount": -1, "currency": "USD"}, {"amount": float("inf"), "currency": "USD"}):
        with pytest.raises(ValueError, match="amount must be between 0"):
            CashAmount.model_validate(bad)
    with pytest.raises(ValueError, match="symbol id"):
        BrokerageHolding.model_validate(
            {"symbol": "SPY", "symbolId": "SPY nonsense!", "quantity": 1, "averagePrice": 1}
        )
    with pytest.raises(ValueError, match="non-zero"):
        BrokerageHolding.model_validate({"symbol": "SPY", "quantity": 0, "averagePrice": 1})


# -- symbol ids ------------------------------------------------------------------------------------------

SYMBOL_PART = st.text(alphabet=[c for c in map(chr, range(0x21, 0x7F)) if c != "|"], min_size=1, max_size=12)
PROPERTIES = st.integers(min_value=0, max_value=MAX_UNSIGNED_64 // 100).flatmap(
    lambda high: st.integers(min_value=0, max_value=MAX_SECURITY_TYPE).map(lambda kind: high * 100 + kind)
)


@FAST
@given(st.lists(st.tuples(SYMBOL_PART, PROPERTIES), min_size=1, max_size=3))
@example([("SPY", int("R735QTJ8XC9X", 36))])
@example([("SPY", int("3033WWUF8MUH2", 36)), ("SPY", int("R735QTJ8XC9X", 36))])
def test_lean_shaped_symbol_ids_are_accepted_as_they_are(parts: list[tuple[str, int]]) -> None:
    text = "|".join(f"{symbol} {_base36(props)}" for symbol, props in parts)
    assert normalize_symbol_id(text) == text
    assert normalize_symbol_id(text.replace(" ", "   ")) == text


@FAST
@given(TEXT)
@example("SPY r735qtj8xc9x")
@example("SPY ZZZZZZZZZZZZZ")
@example("SPY 2W")
def test_any_symbol_id_text_is_accepted_in_lean_form_or_refused_with_the_expected_shape(text: str) -> None:
    try:
        normalized = normalize_symbol_id(text)
    except ValueError as exc:
        assert "expected a QuantConnect symbol id such as" in str(exc)
        return
    for part in normalized.split("|"):
        symbol, properties = part.split(" ")
        value = int(properties, 36)
        assert properties.isupper() or properties.isdigit()
        assert value <= MAX_UNSIGNED_64 and value % 100 <= MAX_SECURITY_TYPE
        assert symbol.isascii() and symbol.isprintable() and "|" not in symbol


# -- project queries -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qc() -> Iterator[FakeQuantConnect]:
    with FakeQuantConnect() as fake:
        for name in ("Momentum", "Momentum v2", "Pairs Trading", "Crypto ²"):
            fake.add_project(name)
        yield fake


@pytest.fixture(scope="module")
def client(qc: FakeQuantConnect) -> Iterator[QuantConnectClient]:
    with QuantConnectClient(qc.user_id, qc.api_token, base_url=qc.base_url, timeout=5, max_retries=0) as api:
        yield api


@pytest.fixture(scope="module")
def catalog(client: QuantConnectClient) -> ProjectCatalog:
    return ProjectCatalog(client, 3600)


@FAST
@given(st.one_of(TEXT, st.sampled_from(ODD_DIGITS)))
def test_any_project_query_finds_one_project_or_explains(catalog: ProjectCatalog, text: str) -> None:
    option = ProjectOption.for_query(text)
    assert option.project_id is None or 1 <= option.project_id <= INT64_MAX
    assert len(option.value) <= 150 and option.query == option.value.removeprefix("find:")
    try:
        project = catalog.find(text, timeout=5)
    except ProjectNotFound as exc:
        assert exc.user_message.endswith("Choose one from the list.")
        return
    assert project.project_id > 0
    assert catalog.search(text, timeout=5) is not None


@pytest.fixture(scope="module")
def live_ops(tmp_path_factory: pytest.TempPathFactory, client: QuantConnectClient) -> Iterator[LiveOps]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('props') / 'bot.sqlite3'}")
    yield LiveOps(store, client, policy=None, notifier=None, clock=lambda: datetime.now(UTC))  # type: ignore[arg-type]
    store.dispose()


@FAST
@given(st.one_of(TEXT, st.sampled_from([*ODD_DIGITS, "r-0000000g", "r-deadbeef", "`r-deadbeef`", "x" * 300])))
def test_any_stop_liquidate_or_status_target_resolves_or_explains(live_ops: LiveOps, text: str) -> None:
    try:
        target = live_ops.resolve(text)
    except UnknownProject as exc:
        assert exc.user_message and "Something went wrong" not in exc.user_message
        return
    except BotError as exc:  # QuantConnect's own answer, in words
        assert exc.user_message
        return
    assert 1 <= target.project_id <= INT64_MAX


def test_control_and_format_characters_are_no_part_of_a_typed_project() -> None:
    assert parse_id("0042") == 42 and parse_id("\u0664\u0662") is None
    assert ProjectOption.for_query("\x00\u200bAlpha\u202e Beta").query == "Alpha Beta"
    assert ProjectOption.for_query("\x00").query == ""
