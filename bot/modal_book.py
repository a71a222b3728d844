"""The starting book in the deploy modal's state: prefill the holdings and cash, and, at submission, record
where they came from and whether the person edited them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.blocks.modal import ModalMetadata
from bot.book import StartingBook, book_digest, cash_of, holdings_of, takes_book
from bot.brokerages.holdings import format_cash, format_holdings
from bot.ids import Block
from bot.modal_state import FormDraft


def apply_book(
    values: Mapping[str, Any], metadata: ModalMetadata, book: StartingBook | None
) -> tuple[dict[str, Any], ModalMetadata]:
    """Entered values and metadata with `book` prefilled (None: the brokerage takes no holdings or cash).

    A book without a source (nothing found, or the look-up failed) clears only what an earlier prefill put
    there, which belonged to another project; what the person typed by hand stays.
    """
    entered = dict(values)
    if book is not None and book.source is not None:
        entered[Block.HOLDINGS.value] = book.holdings_text or None
        entered[Block.CASH.value] = book.cash_text or None
        return entered, replace(metadata, book_source=book.source, book_digest=book.digest())
    if metadata.book_source is not None:
        entered.pop(Block.HOLDINGS.value, None)
        entered.pop(Block.CASH.value, None)
    return entered, replace(metadata, book_source=None, book_digest=None)


def submitted_book_source(metadata: ModalMetadata, draft: FormDraft) -> dict[str, Any] | None:
    """Where the submitted holdings and cash came from (None when typed by hand), marked edited if changed."""
    source = metadata.book_source
    if source is None or not takes_book(draft.model):
        return None
    sent = book_digest(format_holdings(holdings_of(draft.holdings)), format_cash(cash_of(draft.cash)))
    return replace(source, edited=sent != metadata.book_digest).to_json()
