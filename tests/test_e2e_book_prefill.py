"""Holdings and cash prefilled from the running book, end to end through the signed HTTP app: QuantConnect's
`live/portfolio/read`, else the project's last request; shown in the modal, sent, and named on the card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.brokerages import registry
from bot.forms import DeployForm
from bot.ids import Action, Block
from bot.statuses import RequestStatus
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION
from tests.support.bot import APPROVERS, REQUESTER, BotHarness, running_bot
from tests.support.deploy_flow import (
    block_of,
    choose_brokerage,
    choose_project,
    open_deploy_modal,
    submit_modal,
)
from tests.support.examples import example_profile, profile_name
from tests.support.flows import card_text, card_ts, click, running, wait_for
from tests.support.waiting import eventually

S = RequestStatus
SPY = "SPY R735QTJ8XC9X"
BINANCE = "BinanceSettings"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    profiles = {profile_name(BINANCE): example_profile(BINANCE)}
    with running_bot(tmp_path_factory.mktemp("book"), profiles=profiles) as harness:
        yield harness


def _stopped_with_book(bot: BotHarness, name: str) -> int:
    """A paper deployment that ran with a book QuantConnect snapshotted, then stopped through the bot."""
    request = running(bot, name)
    bot.qc.set_portfolio(
        request.project_id, {SPY: (100, 450.25), "BTCUSD 2XR": (-0.5, 30000)}, {"USD": 12500.5}
    )
    click(bot, Action.STOP, request.id, APPROVERS[0])
    wait_for(bot, request.id, {S.ENDED})
    return request.project_id


def _book_note(view: dict[str, Any]) -> str:
    return json.dumps(block_of(view, Block.BOOK_NOTE))


def _initial(view: dict[str, Any], block_id: str) -> str | None:
    return block_of(view, block_id)["element"].get("initial_value")


def _card_says(bot: BotHarness, request: Any, text: str) -> bool:
    return card_ts(bot, request.id) is not None and text in card_text(bot, request)


def _stored(bot: BotHarness, project_id: int) -> Any:
    return eventually(
        lambda: (
            next(iter(bot.services.store.list_requests(project_id=project_id, limit=1)), None)
            if len(bot.services.store.list_requests(project_id=project_id)) > 1
            else None
        ),
        what="the new request",
    )


def test_the_running_book_is_prefilled_shown_and_sent(bot: BotHarness) -> None:
    project_id = _stopped_with_book(bot, "Book Alpha")
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Book Alpha")
    assert _initial(view, Block.HOLDINGS) == f"SPY 100 450.25 {SPY}\nBTCUSD -0.5 30000 BTCUSD 2XR"
    assert _initial(view, Block.CASH) == "12500.5 USD"
    note = _book_note(view)
    assert "from QuantConnect's live portfolio" in note and "about every 10 minutes" in note
    # A new prefill gets its own action id, so Slack shows it instead of keeping an earlier entry.
    assert block_of(view, Block.HOLDINGS)["element"]["action_id"].startswith("value-")

    assert submit_modal(bot, view, {Block.REASON: "Redeploy with the book"}) is None
    request = _stored(bot, project_id)
    assert request.holdings == [
        {"symbolId": SPY, "symbol": "SPY", "quantity": 100.0, "averagePrice": 450.25},
        {"symbolId": "BTCUSD 2XR", "symbol": "BTCUSD", "quantity": -0.5, "averagePrice": 30000.0},
    ]
    assert request.cash == [{"amount": 12500.5, "currency": "USD"}]
    assert request.book_source is not None and request.book_source["origin"] == "quantconnect"
    assert request.book_source["edited"] is False
    # Paper needs no approval: the book reaches live/create as shown.
    wait_for(bot, request.id, {S.LIVE})
    sent = bot.qc.deployments(project_id)[-1].body["brokerage"]
    assert sent["holdings"] == request.holdings and sent["cash"] == request.cash
    eventually(
        lambda: _card_says(bot, request, "from QuantConnect's live portfolio"), what="card source line"
    )


def test_an_edited_prefill_is_marked_edited_on_the_card(bot: BotHarness) -> None:
    project_id = _stopped_with_book(bot, "Book Edited")
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Book Edited")
    submit_modal(bot, view, {Block.REASON: "Smaller book", Block.CASH: "5000 USD"})
    request = _stored(bot, project_id)
    assert request.cash == [{"amount": 5000.0, "currency": "USD"}]
    assert request.book_source is not None and request.book_source["edited"] is True
    eventually(lambda: _card_says(bot, request, "then edited by the requester"), what="edited line")


def test_without_a_deployment_the_last_requests_book_is_prefilled(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Book From Request")
    model = registry.get(BINANCE)
    earlier = bot.services.requests.create(
        DeployForm(
            model_key=BINANCE,
            profile=profile_name(BINANCE),
            project_id=project_id,
            project_name="Book From Request",
            version_id=str(FAKE_LEAN_VERSION),
            settings=model.validate_settings({"binance-use-testnet": "live"}),
            holdings=[
                {"symbolId": "BTCUSDT 2UZ", "symbol": "BTCUSDT", "quantity": 2.0, "averagePrice": 41000.0}
            ],
            reason="the earlier one",
        ),
        requester_id=REQUESTER,
    )
    assert bot.services.requests.cancel(earlier.id, REQUESTER).changed
    view = choose_brokerage(bot, open_deploy_modal(bot), BINANCE)
    view = choose_project(bot, view, project_id, "Book From Request")
    assert _initial(view, Block.HOLDINGS) == "BTCUSDT 2 41000 BTCUSDT 2UZ"
    assert earlier.id in _book_note(view) and "no live deployment" in _book_note(view)
    assert not any(b.get("block_id") == Block.CASH for b in view["blocks"]), "Binance takes no cash"


def test_a_failed_portfolio_read_opens_the_modal_empty_with_a_note(bot: BotHarness) -> None:
    request = running(bot, "Book Down")
    bot.qc.set_portfolio(request.project_id, {SPY: (1, 1)}, {"USD": 1})
    bot.qc.refuse("live/portfolio/read", ["Portfolio is loading, try again later"], times=5)
    view = choose_project(bot, open_deploy_modal(bot), request.project_id, "Book Down")
    assert _initial(view, Block.HOLDINGS) is None and _initial(view, Block.CASH) is None
    note = _book_note(view)
    assert "not prefilled" in note and "Portfolio is loading" in note
    bot.qc.clear_faults()


def test_a_brokerage_without_holdings_or_cash_reads_no_portfolio(bot: BotHarness) -> None:
    request = running(bot, "Book Tradier")
    bot.qc.set_portfolio(request.project_id, {SPY: (3, 100)}, {"USD": 10})
    view = choose_brokerage(bot, open_deploy_modal(bot), "TradierSettings")
    before = len(bot.qc.calls_to("live/portfolio/read"))
    view = choose_project(bot, view, request.project_id, "Book Tradier")
    assert not {Block.HOLDINGS, Block.CASH, Block.BOOK_NOTE} & {b.get("block_id") for b in view["blocks"]}
    assert len(bot.qc.calls_to("live/portfolio/read")) == before
