"""Paper means no live endpoint, through the running bot: what is classified paper is what live/create gets.

With the default APPROVALS_PAPER=0 a paper request deploys without anyone's approval, so the body QuantConnect
receives for it must point at the venue's testnet, and a venue without one never counts as paper.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.brokerages import registry
from bot.brokerages.classification import is_paper_body
from bot.forms import DeployForm
from bot.store import RequestStatus
from tests.support.bot import REQUESTER, BotHarness, running_bot
from tests.support.examples import EXAMPLE_PROFILES, profile_name
from tests.support.flows import ask_for_model
from tests.support.waiting import eventually

S = RequestStatus
PROFILES = {
    profile_name(key): (registry.get(key).brokerage_id, EXAMPLE_PROFILES[key][1])
    for key in ("BinanceSettings", "BinanceUSSettings", "BybitSettings")
}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(tmp_path, profiles=PROFILES) as harness:
        yield harness


def _sent_body(bot: BotHarness, project_id: int) -> dict[str, Any]:
    call = eventually(
        lambda: next((c for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id), None),
        what="live/create",
    )
    return call.body


def test_binance_paper_deploys_without_approval_onto_the_testnet(bot: BotHarness) -> None:
    assert "APPROVALS_PAPER" not in bot.env and bot.settings.policy.approvals_paper == 0
    request = ask_for_model(
        bot, "BinanceSettings", settings={"binance-use-testnet": "paper"}, project="Testnet"
    )
    assert request.is_paper is True and request.approvals_needed == 0
    body = _sent_body(bot, request.project_id)
    for block in (body["brokerage"], *[p for p in body["dataProviders"].values() if len(p) > 1]):
        assert block["binance-api-url"] == "https://testnet.binance.vision"
        assert block["binance-websocket-url"] == "wss://testnet.binance.vision/ws"
    assert "binance.com" not in str(body)
    assert is_paper_body(body)
    eventually(lambda: bot.services.store.get_request(request.id).status is S.LIVE, what="live")


@pytest.mark.parametrize(
    ("model_key", "settings"),
    [("BinanceSettings", {"binance-use-testnet": "live"}), ("BybitSettings", {"bybit-use-testnet": "live"})],
)
def test_the_live_choice_waits_for_an_approval(
    bot: BotHarness, model_key: str, settings: dict[str, str]
) -> None:
    request = ask_for_model(bot, model_key, settings=settings, project=f"Live {model_key}")
    assert request.is_paper is False and request.approvals_needed == 1 and request.status is S.PENDING
    assert not bot.qc.calls_to("live/create")


def test_bybit_paper_sends_the_testnet_websocket_too(bot: BotHarness) -> None:
    request = ask_for_model(
        bot, "BybitSettings", settings={"bybit-use-testnet": "paper"}, project="Bybit testnet"
    )
    assert request.is_paper is True
    brokerage = _sent_body(bot, request.project_id)["brokerage"]
    assert brokerage["bybit-api-url"] == "https://api-testnet.bybit.com"
    assert brokerage["bybit-websocket-url"] == "wss://stream-testnet.bybit.com"


def test_binance_us_cannot_be_made_paper(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("BinanceUS Strategy")
    # A paper marker Binance.US does not have is dropped: the request is real money and needs an approval.
    form = DeployForm(
        model_key="BinanceUSSettings",
        profile=profile_name("BinanceUSSettings"),
        project_id=project_id,
        project_name="BinanceUS Strategy",
        version_id="17202",
        settings={"binance-use-testnet": "paper"},
        reason="try to sneak a paper flag in",
    )
    request = bot.services.requests.create(form, requester_id=REQUESTER)
    assert request.is_paper is False and request.approvals_needed == 1 and request.status is S.PENDING
