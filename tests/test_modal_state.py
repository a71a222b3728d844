"""Submitted deploy modal state -> a validated DeployForm, or plain-language errors keyed by block id."""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks.modal import ModalInputs, ProjectOption, deploy_modal, offered_values
from bot.forms import DeployForm
from bot.ids import NODE_AUTO, Block
from bot.lean_versions import LeanVersionChoices
from bot.modal_state import (
    ModalErrors,
    errors_for_view,
    form_from_state,
    parse_submission,
    read_state,
)
from bot.quantconnect.models import LeanVersion, Node
from tests.fakes.slack_requests import state_from_view, state_values

PROFILES = {
    "InteractiveBrokersSettings": ("ib-main",),
    "TradingTechnologiesSettings": ("tt-main",),
    "BinanceSettings": ("binance-main",),
    "TerminalLinkSettings": ("bbg",),
    "ZerodhaSettings": ("kite",),
}


VERSIONS = LeanVersionChoices(
    tuple(LeanVersion(id=i) for i in (17230, 17215, 17202)), 17202, project_chosen=True
)


def _view(model_key: str) -> dict[str, Any]:
    return deploy_modal(
        ModalInputs(
            model_key=model_key,
            profiles=PROFILES.get(model_key, ("p",)),
            project=ProjectOption.for_project(1001, "Momentum"),
            nodes=(Node(id="LN-1", name="Live CPU 1"),),
            versions=VERSIONS,
        )
    )


def _picked(value: str) -> dict[str, Any]:
    """An option Slack never offered: what a forged or replayed payload could carry."""
    return {"text": {"type": "plain_text", "text": value}, "value": value}


def _state(model_key: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Slack's state.values for the real modal, filled with its initial values, a reason, then overrides."""
    view = _view(model_key)
    filled = {Block.REASON.value: "Quarterly rebalance"}
    filled.update(overrides or {})
    return state_values(view, state_from_view(view, filled))


def _errors(model_key: str, overrides: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ModalErrors) as caught:
        parse_submission(
            _state(model_key, overrides), offered_versions=offered_values(_view(model_key), Block.VERSION)
        )
    return caught.value.errors


def test_valid_ib_state_becomes_a_deploy_form() -> None:
    form = form_from_state(
        _state(
            "InteractiveBrokersSettings",
            {
                "ib-trading-mode": "paper",
                "ib-weekly-restart-utc-time": "5:30:00",
                Block.NODE: "LN-1",
                Block.VERSION: "17215",
                Block.AUTOMATIC_REDEPLOY: ["true"],
            },
        )
    )
    assert form == DeployForm(
        model_key="InteractiveBrokersSettings",
        profile="ib-main",
        project_id=1001,
        project_name="Momentum",
        node_id="LN-1",
        version_id="17215",
        settings={"ib-trading-mode": "paper", "ib-weekly-restart-utc-time": "05:30:00"},
        holdings=[],
        cash=[],
        data_providers=["QuantConnectBrokerage"],
        automatic_redeploy=True,
        reason="Quarterly rebalance",
    )


def test_defaults_auto_node_the_projects_lean_version_quantconnect_data() -> None:
    form = form_from_state(_state("QuantConnectSettings"))
    assert form.node_id is None
    assert form.version_id == "17202"
    assert form.data_providers == ["QuantConnectBrokerage"]
    assert form.profile == "" and form.settings == {} and form.automatic_redeploy is False


def test_holdings_cash_and_data_provider_order() -> None:
    form = form_from_state(
        _state(
            "BinanceSettings",
            {
                Block.HOLDINGS: "btcusdt 0.5 65000\n\nETHUSDT -2 3000.5",
                Block.DATA_PROVIDERS: "BinanceSettings",
                "data-providers-2": "QuantConnectBrokerage",
            },
        )
    )
    assert form.holdings == [
        {"symbol": "BTCUSDT", "quantity": 0.5, "averagePrice": 65000.0},
        {"symbol": "ETHUSDT", "quantity": -2.0, "averagePrice": 3000.5},
    ]
    assert form.data_providers == ["BinanceBrokerage", "QuantConnectBrokerage"]
    assert form.settings["binance-use-testnet"] == "live"


def test_bad_ib_restart_time_is_an_error_on_its_field() -> None:
    errors = _errors(
        "InteractiveBrokersSettings", {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "25:00"}
    )
    assert set(errors) == {"ib-weekly-restart-utc-time"}
    assert "21:00:00" in errors["ib-weekly-restart-utc-time"]
    assert "hh:mm:ss" in errors["ib-weekly-restart-utc-time"]


def test_missing_required_choice_names_the_field() -> None:
    errors = _errors("InteractiveBrokersSettings", {})
    assert errors == {"ib-trading-mode": "Trading mode is required."}


def test_holdings_line_with_a_bad_number_names_the_line() -> None:
    errors = _errors("BinanceSettings", {Block.HOLDINGS: "BTCUSDT 1 65000\nETHUSDT two 3000"})
    assert set(errors) == {Block.HOLDINGS}
    assert "Line 2" in errors[Block.HOLDINGS] and '"two" is not a number' in errors[Block.HOLDINGS]


def test_trading_technologies_without_cash_is_refused() -> None:
    errors = _errors("TradingTechnologiesSettings", {"tt-rest-environment": "uat"})
    assert set(errors) == {Block.CASH}
    assert "Trading Technologies needs starting cash" in errors[Block.CASH]
    form = form_from_state(
        _state("TradingTechnologiesSettings", {"tt-rest-environment": "uat", Block.CASH: "10,000 USD"})
    )
    assert form.cash == [{"amount": 10000.0, "currency": "USD"}]


def test_bad_cash_line_is_an_error_on_cash() -> None:
    errors = _errors("QuantConnectSettings", {Block.CASH: "10000 USD\n5 USD"})
    assert "Line 2" in errors[Block.CASH] and "already given" in errors[Block.CASH]


@pytest.mark.parametrize("reason", [None, "  ", "ok"])
def test_missing_reason_is_refused(reason: str | None) -> None:
    errors = _errors("QuantConnectSettings", {Block.REASON: reason})
    assert set(errors) == {Block.REASON}
    assert "reason" in errors[Block.REASON]


@pytest.mark.parametrize("version", ["latest", "0", "-2", "1.5", " 17202", "17202\n", "²", "١٧٢٠٢", "+17202"])
def test_bad_version_is_refused(version: str) -> None:
    errors = _errors("QuantConnectSettings", {Block.VERSION: _picked(version)})
    assert errors[Block.VERSION].startswith("Lean version must be -1")


def test_a_version_the_view_did_not_offer_is_refused_next_to_the_version() -> None:
    errors = _errors("QuantConnectSettings", {Block.VERSION: _picked("17100")})
    assert errors == {
        Block.VERSION: "Lean version 17100 is not one of the versions offered: choose one from the list."
    }


def test_master_is_accepted_when_chosen() -> None:
    state = _state("QuantConnectSettings", {Block.VERSION: "-1"})
    draft = parse_submission(
        state, offered_versions=offered_values(_view("QuantConnectSettings"), Block.VERSION)
    )
    assert draft.version_id == "-1"


def test_no_version_chosen_is_refused() -> None:
    errors = _errors("QuantConnectSettings", {Block.VERSION: None})
    assert errors == {Block.VERSION: "Choose the Lean version to run."}


def test_missing_profile_and_project_are_refused() -> None:
    state = _state("InteractiveBrokersSettings", {"ib-trading-mode": "paper", Block.PROFILE: None})
    state[Block.PROJECT] = {"project_select": {"type": "external_select", "selected_option": None}}
    with pytest.raises(ModalErrors) as caught:
        parse_submission(state)
    assert set(caught.value.errors) == {Block.PROFILE, Block.PROJECT}
    assert "Interactive Brokers" in caught.value.errors[Block.PROFILE]


def test_int_setting_must_be_a_whole_number() -> None:
    errors = _errors("TerminalLinkSettings", {"terminal-link-server-port": "81.5"})
    assert errors == {"terminal-link-server-port": "SAPI server port must be a whole number."}


def test_bool_setting_is_read_from_the_yes_no_select() -> None:
    form = form_from_state(
        _state(
            "ZerodhaSettings",
            {
                "zerodha-product-type": "mis",
                "zerodha-trading-segment": "equity",
                "zerodha-history-subscription": "true",
            },
        )
    )
    assert form.settings["zerodha-history-subscription"] is True


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors(
        "InteractiveBrokersSettings",
        {
            "ib-trading-mode": "paper",
            "ib-weekly-restart-utc-time": "noon",
            Block.VERSION: _picked("x"),
            Block.REASON: "",
        },
    )
    assert set(errors) == {"ib-weekly-restart-utc-time", Block.VERSION, Block.REASON}


def test_project_named_in_the_command_waits_for_lookup() -> None:
    view = deploy_modal(ModalInputs(project=ProjectOption.for_query("Momentum"), versions=VERSIONS))
    state = state_values(view, state_from_view(view, {Block.REASON: "Try it"}))
    draft = parse_submission(state)
    assert draft.project.project_id is None and draft.project.query == "Momentum"
    form = draft.to_form(1001, "Momentum")
    assert form.project_id == 1001
    with pytest.raises(ModalErrors):
        form_from_state(state)


def test_read_state_flattens_every_element_kind() -> None:
    values = read_state(_state("BinanceSettings", {Block.HOLDINGS: "BTCUSDT 1 1"}))
    assert values[Block.BROKERAGE] == "BinanceSettings"
    assert values[Block.NODE] == NODE_AUTO
    assert values[Block.DATA_PROVIDERS] == "QuantConnectBrokerage"
    assert values["data-providers-2"] is None
    assert values[Block.AUTOMATIC_REDEPLOY] == []
    assert values[Block.HOLDINGS] == "BTCUSDT 1 1"
    assert values[Block.PROJECT] == "1001"


def test_errors_for_view_only_points_at_input_blocks() -> None:
    view = _view("QuantConnectSettings")
    placed = errors_for_view({"requester": "You may not request deployments.", "cash": "Bad cash."}, view)
    assert placed == {Block.REASON: "You may not request deployments.", Block.CASH: "Bad cash."}
    long = errors_for_view({Block.REASON: "x" * 5000}, view)
    assert len(long[Block.REASON]) < 2000
