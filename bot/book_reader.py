"""Reads the starting book for a project: QuantConnect's live portfolio, else the project's last request.

Runs on the look-up pool (one load per project in flight) after the deploy modal opened; a failure or a
timeout yields an empty book with a note saying why, never an exception into the modal update.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from bot.book import BookOrigin, BookSource, StartingBook, cash_of, holdings_of, takes_book
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.fields import Support
from bot.brokerages.holdings import MAX_LINES, BrokerageHolding, CashAmount
from bot.brokerages.symbol_id import normalize_symbol_id
from bot.clock import utc_now
from bot.errors import BotError
from bot.lookups import Deadline, Lookups
from bot.quantconnect.client import QuantConnectClient
from bot.quantconnect.portfolio import LivePortfolio
from bot.store import Store

log = logging.getLogger("bot.book_reader")

# The ticker part of a symbol id must read back through the modal's holdings format (bot/brokerages/holdings).
_TICKER = re.compile(r"^[A-Za-z0-9._/\-^=]{1,40}$")


class BookReader:
    """The starting book of a project for the deploy modal."""

    def __init__(
        self,
        qc: QuantConnectClient,
        store: Store,
        lookups: Lookups,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.qc = qc
        self.store = store
        self.lookups = lookups
        self.clock = clock

    def read(
        self, project_id: int, model: type[BrokerageSettings], *, timeout: float | None
    ) -> StartingBook | None:
        """The book to prefill for `model` (None when it takes neither holdings nor cash)."""
        if not takes_book(model):
            return None
        try:
            book = self.lookups.run(
                ("book", project_id),
                lambda: self._load(project_id),
                Deadline.after(timeout),
                "QuantConnect's portfolio",
            )
        except BotError as exc:
            log.info("starting book of project %s not read: %s", project_id, type(exc).__name__)
            return StartingBook(note=f"Holdings and cash are not prefilled: {exc.user_message}")
        return _for_model(book, model)

    def _load(self, project_id: int) -> StartingBook:
        live = self.qc.read_live(project_id)
        if not live.exists:
            return self._from_last_request(project_id)
        return from_portfolio(self.qc.read_portfolio(project_id), as_of=self.clock())

    def _from_last_request(self, project_id: int) -> StartingBook:
        last = next(iter(self.store.list_requests(project_id=project_id, limit=1)), None)
        if last is None or not (last.holdings or last.cash):
            return StartingBook()
        return StartingBook(
            holdings=holdings_of(last.holdings),
            cash=cash_of(last.cash),
            source=BookSource(BookOrigin.REQUEST, as_of=last.created_at, request_id=last.id),
        )


def from_portfolio(portfolio: LivePortfolio, *, as_of: datetime) -> StartingBook:
    """The book QuantConnect's snapshot shows; positions the modal's format cannot carry are counted."""
    holdings: list[BrokerageHolding] = []
    cash: list[CashAmount] = []
    left_out = portfolio.unreadable
    for item in portfolio.holdings:
        if item.quantity == 0:
            continue  # a closed position: nothing to start with
        ticker = item.symbol_id.split()[0] if item.symbol_id.split() else ""
        try:
            if not _TICKER.match(ticker):
                raise ValueError("ticker")
            holdings.append(
                BrokerageHolding(
                    symbol_id=normalize_symbol_id(item.symbol_id),
                    symbol=ticker.upper(),
                    quantity=item.quantity,
                    average_price=item.average_price,
                )
            )
        except ValueError:
            left_out += 1
    for balance in portfolio.cash:
        try:
            cash.append(CashAmount(amount=balance.amount, currency=balance.currency.upper()))
        except ValueError:
            left_out += 1  # a negative balance (margin debt) is no starting cash
    note = None
    if left_out:
        note = (
            f"{left_out} position(s) or balance(s) QuantConnect reported could not be carried over "
            "(an unreadable symbol, a negative balance or a missing number): add them by hand if needed."
        )
    return StartingBook(
        holdings=tuple(holdings[:MAX_LINES]),
        cash=tuple(cash[:MAX_LINES]),
        source=BookSource(BookOrigin.QUANTCONNECT, as_of=as_of),
        note=note,
    )


def _for_model(book: StartingBook, model: type[BrokerageSettings]) -> StartingBook:
    """Only what the brokerage takes: holdings for one that takes holdings, cash for one that takes cash."""
    holdings = book.holdings if model.holdings_support is not Support.NONE else ()
    cash = book.cash if model.cash_support is not Support.NONE else ()
    return StartingBook(holdings=holdings, cash=cash, source=book.source, note=book.note)
