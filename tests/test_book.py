"""The starting book as plain values: QuantConnect's portfolio answer, the modal's metadata and note, the card
line, and the schema step that stores a request's book source (upgrade from version 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.blocks.book import book_card_text, book_note_block
from bot.blocks.modal import ModalMetadata, ProjectOption
from bot.book import BookOrigin, BookSource, StartingBook
from bot.book_reader import from_portfolio
from bot.brokerages import registry
from bot.ids import Block
from bot.modal_book import apply_book, submitted_book_source
from bot.modal_state import FormDraft
from bot.quantconnect.portfolio import LivePortfolio
from bot.store import Store, migrations
from tests.support.schema import back_to_version_2

AT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_the_portfolio_answer_is_read_in_either_spelling_and_odd_entries_are_counted() -> None:
    payload = {
        "portfolio": {
            "holdings": {
                "SPY R735QTJ8XC9X": {"a": 450.25, "q": 100, "p": 451, "v": 45100},
                "AAPL R735QTJ8XC9X": {"a": 180, "q": 0},  # closed: left out quietly
                "BAD": {"q": 5},  # no average price
                "<!channel> X": {"a": 1, "q": 1},  # no ticker the modal's format reads back
            },
            "Cash": {"USD": {"symbol": "USD", "amount": 1000.5}, "EUR": {"amount": -20}},
        }
    }
    book = from_portfolio(LivePortfolio.from_response(payload, AT), as_of=AT)
    assert book.holdings_text == "SPY 100 450.25 SPY R735QTJ8XC9X"
    assert book.cash_text == "1000.5 USD"
    assert book.source == BookSource(BookOrigin.QUANTCONNECT, as_of=AT)
    assert book.note is not None and book.note.startswith("3 position(s)")
    lean_style = {"portfolio": {"Holdings": {"BTCUSD 2XR": {"a": 30000, "q": 0.5}}, "Cash": {}}}
    assert LivePortfolio.from_response(lean_style, AT).holdings[0].quantity == 0.5


def test_metadata_carries_the_source_and_stays_compact_without_one() -> None:
    assert json.loads(ModalMetadata(channel_id="C1").to_json()) == {"channel_id": "C1"}
    source = BookSource(BookOrigin.REQUEST, as_of=AT, request_id="r-12345678")
    back = ModalMetadata.from_json(ModalMetadata("C1", source, "abc").to_json())
    assert back == ModalMetadata("C1", source, "abc")
    assert ModalMetadata.from_json('{"channel_id":"C1","book":{"origin":"nonsense"}}').book_source is None


def test_a_new_prefill_replaces_an_old_one_but_not_what_was_typed() -> None:
    book = StartingBook(source=BookSource(BookOrigin.QUANTCONNECT, as_of=AT))
    typed = {Block.HOLDINGS.value: "SPY 1 1", Block.CASH.value: "5 USD"}
    values, metadata = apply_book(typed, ModalMetadata(), StartingBook(note="down"))
    assert values == typed and metadata.book_source is None
    values, metadata = apply_book(typed, ModalMetadata(), book)
    assert values[Block.HOLDINGS.value] is None and metadata.book_source == book.source
    values, metadata = apply_book({Block.HOLDINGS.value: "SPY 2 2"}, metadata, StartingBook())
    assert Block.HOLDINGS.value not in values and metadata.book_source is None


def test_submission_records_whether_the_prefill_was_edited() -> None:
    source = BookSource(BookOrigin.QUANTCONNECT, as_of=AT)
    holding = {"symbolId": "SPY R735QTJ8XC9X", "symbol": "SPY", "quantity": 100.0, "averagePrice": 450.25}
    prefilled = from_portfolio(
        LivePortfolio.from_response(
            {"portfolio": {"holdings": {"SPY R735QTJ8XC9X": {"a": 450.25, "q": 100}}}}, AT
        ),
        as_of=AT,
    )
    metadata = ModalMetadata(book_source=source, book_digest=prefilled.digest())
    draft = FormDraft(
        model=registry.get("QuantConnectSettings"),
        profile="",
        project=ProjectOption.for_project(1, "P"),
        node_id=None,
        version_id="-1",
        settings={},
        holdings=[holding],
    )
    assert submitted_book_source(metadata, draft) == {
        "origin": "quantconnect",
        "edited": False,
        "as_of": AT.isoformat(),
    }
    edited = FormDraft(**{**draft.__dict__, "holdings": [{**holding, "quantity": 50.0}]})
    assert submitted_book_source(metadata, edited)["edited"] is True  # type: ignore[index]
    assert submitted_book_source(ModalMetadata(), draft) is None


def test_the_note_and_card_line_name_the_source_and_escape_quantconnect_text() -> None:
    note = book_note_block(BookSource(BookOrigin.QUANTCONNECT, as_of=AT), "QuantConnect said <!channel>")
    assert note is not None and note["block_id"] == Block.BOOK_NOTE
    text = json.dumps(note)
    assert "from QuantConnect's live portfolio" in text and "about every 10 minutes" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert book_note_block(None, None) is None
    line = book_card_text(BookSource(BookOrigin.REQUEST, as_of=AT, request_id="r-0000abcd", edited=True))
    assert "request `r-0000abcd`" in line and "then edited by the requester" in line


def test_a_version_2_database_gains_the_book_redeploy_reminder_and_stop_all_steps(store_url: str) -> None:
    store = Store(store_url)
    try:
        with store.engine.begin() as connection:
            back_to_version_2(connection)
        assert store.schema_current() is False
        assert store.migrate() == migrations.LATEST_VERSION
        with store.engine.begin() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("requests")}
            indexes = {i["name"] for i in sa.inspect(connection).get_indexes("requests")}
        assert {"book_source", "redeploy_of", "reminded_at"} <= columns
        assert "ix_requests_redeploy_of" in indexes
        assert sa.inspect(store.engine).has_table("emergency_stops")
    finally:
        store.dispose()
