"""The request card in every phase, the reject modal and the preview modal, checked against Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.blocks.card import live_page_url, reject_modal, request_card
from bot.blocks.preview import preview_modal
from bot.ids import Action, Block, Callback
from bot.store import Deployment, DeployRequest, RequestStatus
from tests.fakes.fake_slack import block_errors, view_errors
from tests.support.requests import stored_request

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
S = RequestStatus


def make_deployment(status: str, **overrides: Any) -> Deployment:
    """A watched deployment with QuantConnect status `status`."""
    values: dict[str, Any] = {
        "request_id": "r-0001abcd",
        "project_id": 12345,
        "deploy_id": "L-abc123",
        "status": status,
        "message": None,
        "launched": NOW,
        "stopped": None,
        "created_at": NOW,
        "updated_at": NOW,
        "next_poll_at": None,
        "lease_owner": None,
        "lease_since": None,
    }
    values.update(overrides)
    return Deployment.model_validate(values)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """Every action_id of every actions block."""
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def text_of(blocks: list[dict[str, Any]]) -> str:
    """All the text of the blocks, for content checks."""
    return json.dumps(blocks, ensure_ascii=False)


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    """Slack (as the fake checks it, including slack_sdk's model validation) would accept the blocks."""
    assert block_errors(blocks, max_blocks=50) == []


def render(request: DeployRequest, **kw: Any) -> tuple[str, list[dict[str, Any]]]:
    kw.setdefault("approvals", [])
    return request_card(request, model_name="Interactive Brokers", now=NOW, **kw)


def test_pending_real_money_card_shows_everything_and_the_four_buttons() -> None:
    text, blocks = render(stored_request(), approvals=["UAPPROVER1"])
    assert_valid(blocks)
    assert blocks[0]["type"] == "header" and "💰 REAL MONEY" in blocks[0]["text"]["text"]
    body = text_of(blocks)
    for expected in (
        "<@UREQUESTER>",
        "Momentum &lt;Alpha&gt; &amp; Co",
        "12345",
        "Interactive Brokers",
        "ib-main",
        "first free live node",
        "ib-trading-mode",
        "Rebalance after the FOMC meeting",
        "1 of 2",
        "<@UAPPROVER1>",
        "<!date^",
    ):
        assert expected in body, expected
    assert action_ids(blocks) == [Action.APPROVE, Action.REJECT, Action.CANCEL, Action.PREVIEW]
    buttons = {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert all(button["value"] == "r-0001abcd" for button in buttons.values())
    assert buttons["approve"]["style"] == "primary"
    assert buttons["reject"]["style"] == "danger"
    confirm = buttons["approve"]["confirm"]["text"]["text"]
    assert "This deploys with REAL MONEY on Interactive Brokers" in confirm
    assert "REAL MONEY" in text


def test_master_version_is_named_and_warned_about_on_the_card() -> None:
    _, pinned = render(stored_request())
    assert "17202" in text_of(pinned) and "advises against master" not in text_of(pinned)
    _, master = render(stored_request(version_id="-1"))
    assert_valid(master)
    assert "master (`-1`)" in text_of(master)
    assert ":warning: Lean master (-1): QuantConnect advises against master for live trading." in text_of(
        master
    )


def test_pending_paper_card_says_paper() -> None:
    request = stored_request(is_paper=True, settings={"ib-trading-mode": "paper"}, approvals_needed=1)
    _, blocks = render(request)
    assert_valid(blocks)
    assert "🧪 PAPER" in blocks[0]["text"]["text"]
    buttons = {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert "PAPER" in buttons["approve"]["confirm"]["text"]["text"]
    assert "REAL MONEY" not in text_of(blocks)


@pytest.mark.parametrize(
    ("overrides", "deployment", "expected", "buttons"),
    [
        ({"status": S.APPROVED, "decided_by": "UAPPROVER1", "decided_at": NOW}, None, "Approved", []),
        ({"status": S.COMPILING, "compile_id": "c-77"}, None, "Compiling", []),
        ({"status": S.DEPLOYING, "node_used": "L-MICRO-1"}, None, "Deploying", []),
        (
            {"status": S.LIVE, "deploy_id": "L-abc123"},
            make_deployment("InQueue"),
            "InQueue",
            [Action.STOP, Action.LIQUIDATE],
        ),
        (
            {"status": S.LIVE, "deploy_id": "L-abc123"},
            make_deployment("LoggingIn"),
            "LoggingIn",
            [Action.STOP, Action.LIQUIDATE],
        ),
        (
            {"status": S.LIVE, "deploy_id": "L-abc123"},
            make_deployment("Running"),
            "Running",
            [Action.STOP, Action.LIQUIDATE],
        ),
        (
            {"status": S.ENDED, "deploy_id": "L-abc123"},
            make_deployment("Stopped", stopped=NOW),
            "Stopped",
            [],
        ),
        (
            {"status": S.FAILED, "errors": ("Brokerage login failed: bad password\nsecond line", "more")},
            None,
            "Brokerage login failed: bad password second line",
            [],
        ),
        (
            {
                "status": S.REJECTED,
                "decided_by": "UAPPROVER2",
                "decided_at": NOW,
                "decision_note": "Wrong mode",
            },
            None,
            "Wrong mode",
            [],
        ),
        ({"status": S.CANCELLED, "decided_by": "UREQUESTER", "decided_at": NOW}, None, "Cancelled", []),
        ({"status": S.EXPIRED}, None, "Expired", []),
    ],
)
def test_every_phase_renders_valid_blocks_with_the_right_buttons(
    overrides: dict[str, Any], deployment: Deployment | None, expected: str, buttons: list[str]
) -> None:
    _, blocks = render(stored_request(**overrides), deployment=deployment)
    assert_valid(blocks)
    assert expected in text_of(blocks)
    assert action_ids(blocks) == buttons


def test_live_card_links_the_live_page_and_confirms_stop_and_liquidate() -> None:
    request = stored_request(status=S.LIVE, deploy_id="L-abc123")
    _, blocks = render(request, deployment=make_deployment("Running", message="All good"))
    body = text_of(blocks)
    assert live_page_url(12345) == "https://www.quantconnect.com/project/12345/live"
    assert "https://www.quantconnect.com/project/12345/live" in body
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert all("confirm" in e for e in elements)
    liquidate = next(e for e in elements if e["action_id"] == "liquidate")
    assert "REAL MONEY" in liquidate["confirm"]["text"]["text"]


def test_live_card_without_an_active_deployment_has_no_stop_buttons() -> None:
    request = stored_request(status=S.LIVE, deploy_id="L-abc123")
    _, blocks = render(request, deployment=make_deployment("RuntimeError", message="Boom"))
    assert action_ids(blocks) == []
    assert "RuntimeError" in text_of(blocks)


def test_a_settling_card_says_it_waits_for_quantconnect_and_keeps_the_emergency_buttons() -> None:
    request = stored_request(
        status=S.DEPLOYING,
        decided_by="UAPPROVER1",
        deploying_since=NOW,
        settle_deadline=NOW + timedelta(minutes=11),
        next_check_at=NOW + timedelta(seconds=2),
        settle_note="live/create got no clear answer (QuantConnect did not answer in time)",
    )
    _, blocks = render(request)
    assert_valid(blocks)
    body = text_of(blocks)
    assert "Waiting for QuantConnect to confirm" in body and "never send it again" in body
    assert action_ids(blocks) == [Action.STOP, Action.LIQUIDATE]
    # Deploying without an unclear answer: no buttons yet (nothing can run before live/create is sent).
    sending = stored_request(status=S.DEPLOYING, decided_by="UAPPROVER1", deploying_since=NOW)
    assert action_ids(render(sending)[1]) == []


def test_failed_card_keeps_one_short_line_and_points_to_the_thread() -> None:
    long_error = "Build error: " + "x" * 5000
    _, blocks = render(stored_request(status=S.FAILED, errors=(long_error,)))
    assert_valid(blocks)
    status = blocks[1]["text"]["text"]
    assert len(status) < 400 and "details in the thread" in status


def test_pending_past_its_deadline_shows_expired_and_no_approval_count() -> None:
    _, blocks = render(stored_request(expires_at=NOW - timedelta(minutes=1)))
    assert "Expired" in blocks[1]["text"]["text"]
    assert action_ids(blocks) == [], "nothing to click on a request past its deadline"


def test_huge_settings_holdings_and_cash_stay_within_limits() -> None:
    holdings = [
        {"symbol": f"SYM{i}", "symbolId": f"SYM{i} R735QTJ8XC9X", "quantity": i, "averagePrice": 1.5}
        for i in range(5000)
    ]
    cash = [{"amount": 1000 + i, "currency": f"C{i:03d}"} for i in range(3000)]
    settings = {f"setting-{i}": "v" * 100 for i in range(500)}
    request = stored_request(
        holdings=holdings,
        cash=cash,
        settings=settings,
        reason="r" * 10_000,
        project_name="P" * 500,
        version_id="-1",  # the master warning adds a block
    )
    text, blocks = render(request, approvals=[f"U{i:05d}" for i in range(40)])
    assert_valid(blocks)
    assert len(blocks) <= 50
    body = text_of(blocks)
    assert "more holdings (5,000 in total)" in body
    assert "more balances (3,000 in total)" in body
    assert len(text) <= 3000


def test_reject_modal_is_valid_and_carries_the_request() -> None:
    metadata = json.dumps({"request_id": "r-0001abcd", "channel_id": "CDEPLOY"})
    view = reject_modal(stored_request(), private_metadata=metadata)
    assert view_errors(view) == []
    assert view["callback_id"] == Callback.REJECT_REASON
    assert view["blocks"][1]["block_id"] == Block.REJECT_REASON
    assert view["blocks"][1]["optional"] is True


def test_preview_modal_shows_the_body_and_splits_a_long_one() -> None:
    body = {"projectId": 12345, "brokerage": {"id": "X", "ib-password": "********"}, "big": ["y" * 80] * 5000}
    view = preview_modal(stored_request(), model_name="Interactive Brokers", body=body)
    assert view_errors(view) == []
    assert view["callback_id"] == Callback.PREVIEW
    assert len(view["blocks"]) <= 100
    assert "********" in text_of(view["blocks"])
    assert "more parts not shown" in text_of(view["blocks"])


def test_preview_modal_lists_problems_when_no_body_can_be_built() -> None:
    view = preview_modal(
        stored_request(), model_name="Interactive Brokers", body=None, problems=["Trading mode is required."]
    )
    assert view_errors(view) == []
    assert "Trading mode is required." in text_of(view["blocks"])
