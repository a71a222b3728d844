"""The deploy modal builder: a valid view per brokerage model, within Slack's limits, no credential inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.blocks.modal import (
    AUTO_NODE_LABEL,
    ModalInputs,
    ModalMetadata,
    ProjectOption,
    deploy_modal,
    input_block_ids,
)
from bot.brokerages import registry
from bot.brokerages.fields import Support
from bot.ids import NODE_AUTO, VERSION_LATEST, Action, Block, Callback
from bot.lean_versions import LeanVersionChoices
from bot.modal_state import read_state, selected_project
from bot.quantconnect.models import LeanVersion, Node
from tests.fakes.fake_slack import view_errors
from tests.fakes.slack_requests import state_from_view, state_values
from tests.support.examples import EXAMPLE_PROFILES

MODELS = registry.all_models()
FIXED_BLOCKS = {
    Block.BROKERAGE,
    Block.PROFILE,
    Block.PROJECT,
    Block.NODE,
    Block.VERSION,
    Block.DATA_PROVIDERS,
    Block.AUTOMATIC_REDEPLOY,
    Block.REASON,
}


def _view(model_key: str, **kwargs: Any) -> dict[str, Any]:
    inputs = ModalInputs(
        model_key=model_key,
        profiles=kwargs.pop("profiles", ("main", "backup")),
        metadata=ModalMetadata(channel_id="C0123"),
        deploy_channel_id="CDEPLOY",
        **kwargs,
    )
    return deploy_modal(inputs)


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def _nodes() -> tuple[Node, ...]:
    return (
        Node(id="LN-free", name="Live CPU 1"),
        Node(id="LN-busy", name="Live CPU 2", busy=True, used_by="Jane Trader"),
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
@pytest.mark.parametrize("profiles", [None, (), ("ib-main", "ib-backup")], ids=["loading", "none", "some"])
def test_every_view_passes_slack_validation(model: type, profiles: tuple[str, ...] | None) -> None:
    view = _view(
        model.key,
        profiles=profiles,
        project=ProjectOption.for_query("A project with a rather long name " * 5),
        nodes=_nodes(),
    )
    View(**view).validate_json()
    assert view_errors(view) == []
    assert view["callback_id"] == Callback.DEPLOY
    for key in ("title", "submit", "close"):
        assert len(view[key]["text"]) <= 24
    assert len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= 3000


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_setting_fields_are_inputs_named_after_quantconnect_fields(model: type) -> None:
    view = _view(model.key)
    inputs = input_block_ids(view)
    for info in model.setting_fields():
        block = _block(view, info.name)
        assert block["type"] == "input"
        assert block["element"]["action_id"] == Action.VALUE
        assert block.get("optional", False) is (not info.required)
        if info.choices:
            assert block["element"]["type"] == "static_select"
            assert [o["value"] for o in block["element"]["options"]] == list(info.choice_values())
        elif info.value_type == "int":
            assert block["element"]["type"] == "number_input"
        elif info.value_type == "bool":
            assert {o["value"] for o in block["element"]["options"]} == {"true", "false"}
        else:
            assert block["element"]["type"] == "plain_text_input"
    expected = {info.name for info in model.setting_fields()} | FIXED_BLOCKS
    if model.holdings_support is not Support.NONE:
        expected.add(Block.HOLDINGS)
    if model.cash_support is not Support.NONE:
        expected.add(Block.CASH)
    if not model.credential_fields():
        expected.discard(Block.PROFILE)
    assert inputs == expected
    # Fixed constants (URLs, the Binance exchange name) are filled in by the builder, never asked.
    for info in model.fixed_fields():
        assert info.name not in inputs


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_no_credential_is_ever_an_input_and_no_secret_is_in_the_view(model: type) -> None:
    view = _view(model.key, project=ProjectOption.for_project(1001, "Momentum"), nodes=_nodes())
    block_ids = {b.get("block_id") for b in view["blocks"]}
    for info in model.credential_fields():
        assert info.name not in block_ids
    dumped = json.dumps(view)
    _, credentials = EXAMPLE_PROFILES[model.key]
    for value in credentials.values():
        assert value not in dumped
    assert json.loads(view["private_metadata"]) == {"channel_id": "C0123"}


def test_holdings_and_cash_only_where_the_model_takes_them() -> None:
    ib = input_block_ids(_view("InteractiveBrokersSettings"))
    assert Block.HOLDINGS not in ib and Block.CASH not in ib
    binance = input_block_ids(_view("BinanceSettings"))
    assert Block.HOLDINGS in binance and Block.CASH not in binance
    tt = _view("TradingTechnologiesSettings")
    assert Block.HOLDINGS not in input_block_ids(tt)
    cash = _block(tt, Block.CASH)
    assert "optional" not in cash, "cash is required for Trading Technologies"
    assert "10000 USD" in cash["hint"]["text"]
    paper = _view("QuantConnectSettings")
    assert _block(paper, Block.CASH)["optional"] is True
    assert _block(paper, Block.HOLDINGS)["optional"] is True
    assert "SPY 100 450.25" in _block(paper, Block.HOLDINGS)["hint"]["text"]


def test_brokerage_select_lists_all_nineteen_readable_names_and_dispatches() -> None:
    block = _block(_view("TradierSettings"), Block.BROKERAGE)
    assert block["dispatch_action"] is True
    element = block["element"]
    assert element["action_id"] == Action.BROKERAGE_SELECT
    assert [o["text"]["text"] for o in element["options"]] == [m.display_name for m in MODELS]
    assert element["initial_option"]["value"] == "TradierSettings"


def test_profile_select_shows_names_only_or_a_note_while_loading() -> None:
    view = _view("InteractiveBrokersSettings", profiles=("ib-main", "ib-backup"))
    profile = _block(view, Block.PROFILE)
    assert [o["value"] for o in profile["element"]["options"]] == ["ib-main", "ib-backup"]
    assert "IB password" in json.dumps(view)  # names which credentials come from the profile
    loading = _view("InteractiveBrokersSettings", profiles=None)
    assert Block.PROFILE not in input_block_ids(loading)
    assert "Loading" in _block(loading, Block.PROFILE_LOADING)["text"]["text"]
    none = _view("InteractiveBrokersSettings", profiles=())
    assert "No credential profile" in _block(none, Block.PROFILE_LOADING)["text"]["text"]
    assert Block.PROFILE not in input_block_ids(_view("QuantConnectSettings"))


def test_ib_settings_defaults_hints_and_format() -> None:
    view = _view("InteractiveBrokersSettings")
    restart = _block(view, "ib-weekly-restart-utc-time")
    assert restart["element"]["initial_value"] == "21:00:00"
    assert "hh:mm:ss" in restart["hint"]["text"]
    assert restart["element"]["placeholder"]["text"] == "21:00:00"
    mode = _block(view, "ib-trading-mode")
    assert "initial_option" not in mode["element"], "live or paper is a deliberate choice, never preset"
    assert _block(view, "ib-financial-advisors-group-filter")["optional"] is True


def test_project_node_version_and_defaults() -> None:
    view = _view("QuantConnectSettings", project=ProjectOption.for_project(1001, "Momentum"), nodes=_nodes())
    project = _block(view, Block.PROJECT)
    assert project["element"]["type"] == "external_select"
    assert project["dispatch_action"] is True
    assert project["element"]["initial_option"]["value"] == "1001"
    node = _block(view, Block.NODE)["element"]
    labels = {o["value"]: o["text"]["text"] for o in node["options"]}
    assert labels[NODE_AUTO] == AUTO_NODE_LABEL
    assert node["initial_option"]["value"] == NODE_AUTO
    assert "busy — used by Jane Trader" in labels["LN-busy"]
    assert "busy" not in labels["LN-free"]
    version = _block(view, Block.VERSION)["element"]
    assert version["type"] == "static_select" and "initial_option" not in version  # not read yet
    providers = _block(view, Block.DATA_PROVIDERS)
    assert [o["value"] for o in providers["element"]["initial_options"]] == ["QuantConnectBrokerage"]
    assert "precedence" in providers["hint"]["text"]
    assert "initial_options" not in _block(view, Block.AUTOMATIC_REDEPLOY)["element"]
    reason = _block(view, Block.REASON)
    assert reason["element"]["multiline"] is True and "optional" not in reason


def test_command_argument_becomes_the_initial_project_option() -> None:
    option = ProjectOption.for_query("  Momentum   Strategy ")
    assert option.project_id is None and option.query == "Momentum Strategy"
    view = _view("QuantConnectSettings", project=option)
    assert _block(view, Block.PROJECT)["element"]["initial_option"]["text"]["text"] == "Momentum Strategy"


def test_nodes_error_is_shown_as_a_note() -> None:
    view = _view("QuantConnectSettings", nodes_error="QuantConnect did not answer")
    assert "QuantConnect did not answer" in json.dumps(view["blocks"])
    assert view_errors(view) == []


LEAN_VERSIONS = LeanVersionChoices(
    tuple(LeanVersion(id=i) for i in (17230, 17215, 17202)), 17202, project_chosen=True
)


def _filled_ib_view() -> tuple[dict[str, Any], dict[str, Any]]:
    view = _view(
        "InteractiveBrokersSettings",
        profiles=("ib-main", "ib-backup"),
        project=ProjectOption.for_project(1001, "Momentum"),
        nodes=_nodes(),
        versions=LEAN_VERSIONS,
    )
    values = state_from_view(
        view,
        {
            Block.PROFILE: "ib-backup",
            Block.NODE: "LN-free",
            Block.VERSION: "17215",
            "ib-trading-mode": "paper",
            "ib-weekly-restart-utc-time": "22:30:00",
            Block.AUTOMATIC_REDEPLOY: ["true"],
            Block.REASON: "Rebalance before the open",
        },
    )
    return view, {"values": state_values(view, values)}


def test_brokerage_change_keeps_what_was_entered() -> None:
    _, state = _filled_ib_view()
    values = read_state(state["values"])
    new = deploy_modal(
        ModalInputs(
            model_key="QuantConnectSettings",
            profiles=(),
            project=selected_project(state["values"]),
            nodes=_nodes(),
            versions=LEAN_VERSIONS,
            values=values,
        )
    )
    assert _block(new, Block.BROKERAGE)["element"]["initial_option"]["value"] == "QuantConnectSettings"
    assert _block(new, Block.PROJECT)["element"]["initial_option"]["value"] == "1001"
    assert _block(new, Block.NODE)["element"]["initial_option"]["value"] == "LN-free"
    assert _block(new, Block.VERSION)["element"]["initial_option"]["value"] == "17215"
    assert _block(new, Block.REASON)["element"]["initial_value"] == "Rebalance before the open"
    assert _block(new, Block.AUTOMATIC_REDEPLOY)["element"]["initial_options"][0]["value"] == "true"
    assert "ib-trading-mode" not in input_block_ids(new)
    View(**new).validate_json()
    # Back to IB: its own fields come back with what is carried in the values.
    back = deploy_modal(
        ModalInputs(model_key="InteractiveBrokersSettings", profiles=("ib-main", "ib-backup"), values=values)
    )
    assert _block(back, "ib-trading-mode")["element"]["initial_option"]["value"] == "paper"
    assert _block(back, "ib-weekly-restart-utc-time")["element"]["initial_value"] == "22:30:00"
    assert _block(back, Block.PROFILE)["element"]["initial_option"]["value"] == "ib-backup"


def test_brokerage_change_drops_a_profile_the_new_brokerage_does_not_have() -> None:
    _, state = _filled_ib_view()
    values = read_state(state["values"])
    tradier = deploy_modal(
        ModalInputs(model_key="TradierSettings", profiles=("tradier-a", "tradier-b"), values=values)
    )
    assert "initial_option" not in _block(tradier, Block.PROFILE)["element"]
    View(**tradier).validate_json()


def test_entered_choice_that_no_longer_exists_is_not_an_initial_option() -> None:
    values = {"bybit-use-testnet": "paper", Block.DATA_PROVIDERS: ["BybitSettings", "KrakenSettings"]}
    kraken = deploy_modal(ModalInputs(model_key="KrakenSettings", profiles=("k",), values=values))
    providers = _block(kraken, Block.DATA_PROVIDERS)["element"]
    assert [o["value"] for o in providers["initial_options"]] == ["KrakenSettings"]
    assert view_errors(kraken) == []


def test_int_and_bool_settings_use_typed_elements() -> None:
    terminal = _view("TerminalLinkSettings", values={"terminal-link-server-port": "8194"})
    port = _block(terminal, "terminal-link-server-port")["element"]
    assert port["type"] == "number_input" and port["is_decimal_allowed"] is False
    assert port["initial_value"] == "8194"
    zerodha = _view("ZerodhaSettings")
    history = _block(zerodha, "zerodha-history-subscription")["element"]
    assert history["initial_option"]["value"] == "false"


# ---- Lean version -------------------------------------------------------------------------------------


def _versions(*ids: int) -> tuple[LeanVersion, ...]:
    return tuple(LeanVersion(id=i, description=f"Lean {i}") for i in sorted(ids, reverse=True))


def _version_select(choices: LeanVersionChoices | None, entered: Any = None) -> dict[str, Any]:
    view = _view("QuantConnectSettings", versions=choices, values={Block.VERSION: entered})
    assert view_errors(view) == []
    return _block(view, Block.VERSION)


def _values(block: dict[str, Any]) -> list[str]:
    return [o["value"] for o in block["element"]["options"]]


def test_version_select_offers_the_project_default_first_and_master_last() -> None:
    block = _version_select(LeanVersionChoices(_versions(17230, 17215, 17202), 17202, project_chosen=True))
    assert _values(block) == ["17202", "17230", "17215", VERSION_LATEST]
    element = block["element"]
    assert element["options"][0]["text"]["text"] == "project default (17202)"
    assert element["initial_option"]["value"] == "17202"
    assert "17202" in block["hint"]["text"]


def test_version_select_defaults_to_the_newest_when_the_projects_version_is_unknown() -> None:
    block = _version_select(LeanVersionChoices(_versions(17230, 17215), None, project_chosen=True))
    assert _values(block) == ["17230", "17215", VERSION_LATEST]
    assert block["element"]["options"][0]["text"]["text"] == "newest (17230)"
    assert block["element"]["initial_option"]["value"] == "17230"
    assert "did not report this project's Lean version" in block["hint"]["text"]


def test_version_select_keeps_an_offered_choice_and_never_preselects_master() -> None:
    choices = LeanVersionChoices(_versions(17230, 17215), 17215, project_chosen=True)
    assert _version_select(choices, "17230")["element"]["initial_option"]["value"] == "17230"
    assert _version_select(choices, VERSION_LATEST)["element"]["initial_option"]["value"] == VERSION_LATEST
    assert _version_select(choices, "99999")["element"]["initial_option"]["value"] == "17215"


def test_version_select_explains_when_the_versions_cannot_be_read() -> None:
    with_default = _version_select(LeanVersionChoices((), 17202, True, versions_error="QuantConnect is down"))
    assert _values(with_default) == ["17202", VERSION_LATEST]
    assert with_default["element"]["initial_option"]["value"] == "17202"
    assert (
        "Could not read QuantConnect's Lean versions (QuantConnect is down)" in with_default["hint"]["text"]
    )
    nothing = _version_select(LeanVersionChoices((), None, True, versions_error="QuantConnect is down"))
    assert _values(nothing) == [VERSION_LATEST]
    assert "initial_option" not in nothing["element"]
    assert "nothing is preselected" in nothing["hint"]["text"]


def test_version_select_fits_slacks_option_limit_newest_first() -> None:
    block = _version_select(LeanVersionChoices(_versions(*range(17000, 17250)), 17100, True))
    values = _values(block)
    assert len(values) == 100 and values[0] == "17100" and values[-1] == VERSION_LATEST
    assert values[1:4] == ["17249", "17248", "17247"] and len(set(values)) == 100


def test_version_select_leaves_out_versions_not_offered_to_the_public() -> None:
    versions = (LeanVersion(id=17300, public=False), *_versions(17230))
    block = _version_select(LeanVersionChoices(versions, None, False))
    assert _values(block) == ["17230", VERSION_LATEST]
