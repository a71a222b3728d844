"""`/qc deploy` and the deploy modal end to end, in both modes: signed HTTP requests into the running bot, and
the same traffic as Socket Mode envelopes over the fake's socket (answers are then acknowledgements)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.brokerages import registry
from bot.ids import NODE_AUTO, Action, Block, Callback
from bot.store import DeployRequest
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSIONS
from tests.fakes.fake_slack import view_errors
from tests.fakes.slack_requests import new_trigger_id
from tests.support.bot import DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.deploy_flow import (
    block_of,
    choose_brokerage,
    choose_project,
    open_deploy_modal,
    submit_modal,
    view_update,
    with_state,
)
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.waiting import eventually

IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"][1]
TT_CREDENTIALS = EXAMPLE_PROFILES["TradingTechnologiesSettings"][1]
PROFILES = {
    "ib-main": ("InteractiveBrokersBrokerage", IB_CREDENTIALS),
    "ib-partial": ("InteractiveBrokersBrokerage", {"ib-user-name": IB_CREDENTIALS["ib-user-name"]}),
    "tt-main": ("TradingTechnologiesBrokerage", TT_CREDENTIALS),
}
ALL_SECRETS = [*IB_CREDENTIALS.values(), *TT_CREDENTIALS.values()]


@pytest.fixture(scope="module", params=["http", "socket"])
def bot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    # One bot per mode for the module: starting and stopping one per test would dominate the run time.
    with running_bot(
        tmp_path_factory.mktemp("deploy-modal"), profiles=PROFILES, mode=request.param
    ) as harness:
        yield harness


def test_deploy_opens_the_modal_before_any_slow_call(bot: BotHarness) -> None:
    before = len(bot.qc.calls)
    view = open_deploy_modal(bot)
    assert view["callback_id"] == Callback.DEPLOY
    assert view_errors(view) == []
    assert block_of(view, Block.BROKERAGE)["element"]["initial_option"]["value"] == "QuantConnectSettings"
    assert len(bot.qc.calls) == before, "views.open must not wait for QuantConnect"
    assert json.loads(view["private_metadata"]) == {"channel_id": "CWORK"}


def test_listeners_call_slack_over_kept_alive_connections(bot: BotHarness) -> None:
    # Bolt hands listeners a new urllib client per request, which opens a connection for every call.
    view = choose_brokerage(bot, open_deploy_modal(bot), "QuantConnectSettings")
    before = bot.slack.connections
    models = [model.key for model in registry.all_models() if model.key != "QuantConnectSettings"][:8]
    for model_key in models:
        view = choose_brokerage(bot, view, model_key)
    # The fake records a call before its answer is read, so the next change may overlap the last one's
    # answer: the pool then holds two connections. Without it there would be one per change.
    assert bot.slack.connections - before <= 3, "each views.update opened a connection of its own"


def test_project_argument_is_carried_then_resolved_after_the_modal_opened(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Argument Strategy")
    # QuantConnect hangs: had the command waited for it, views.open would come only after the delay.
    bot.qc.delay("projects/read", 3)
    view = open_deploy_modal(bot, "deploy Argument Strategy")
    assert block_of(view, Block.PROJECT)["element"]["initial_option"]["value"] == "find:Argument Strategy"
    resolved = view_update(
        bot, view["id"], lambda v: block_of(v, Block.PROJECT)["element"]["initial_option"]["value"].isdigit()
    )
    assert bot.qc.calls_to("projects/read"), "the project was looked up after views.open"
    assert block_of(resolved, Block.PROJECT)["element"]["initial_option"]["value"] == str(project_id)
    node_values = [o["value"] for o in block_of(resolved, Block.NODE)["element"]["options"]]
    assert node_values[0] == NODE_AUTO and len(node_values) == 4


def test_unknown_project_argument_still_opens_the_modal(bot: BotHarness) -> None:
    view = open_deploy_modal(bot, "deploy No Such Project 123")
    assert view["callback_id"] == Callback.DEPLOY
    noted = view_update(bot, view["id"], lambda v: "No QuantConnect project" in json.dumps(v["blocks"]))
    assert (
        block_of(noted, Block.PROJECT)["element"]["initial_option"]["text"]["text"] == "No Such Project 123"
    )


@pytest.mark.parametrize("model", registry.all_models(), ids=lambda m: m.key)
def test_brokerage_change_builds_each_brokerages_modal(bot: BotHarness, model: type) -> None:
    view = open_deploy_modal(bot)
    updated = choose_brokerage(bot, view, model.key, **{Block.REASON: "Keep me", Block.VERSION: "-1"})
    assert view_errors(updated) == []
    ids = {b.get("block_id") for b in updated["blocks"] if b["type"] == "input"}
    assert {info.name for info in model.setting_fields()} <= ids
    assert not {info.name for info in model.credential_fields()} & ids
    assert block_of(updated, Block.REASON)["element"]["initial_value"] == "Keep me"
    assert block_of(updated, Block.VERSION)["element"]["initial_option"]["value"] == "-1"
    expected_profiles = sorted(name for name, (bid, _) in PROFILES.items() if bid == model.brokerage_id)
    if model.credential_fields() and expected_profiles:
        shown = [o["value"] for o in block_of(updated, Block.PROFILE)["element"]["options"]]
        assert shown == expected_profiles


def test_brokerage_update_passes_the_view_hash(bot: BotHarness) -> None:
    view = open_deploy_modal(bot)
    choose_brokerage(bot, view, "TradierSettings")
    call = bot.slack.wait_for("views.update", lambda c: c.body.get("view_id") == view["id"])
    assert call.body["hash"] == view["hash"]


def test_project_type_ahead_lists_projects_from_quantconnect(bot: BotHarness) -> None:
    bot.qc.add_project("Typeahead Alpha")
    bot.qc.add_project("Typeahead Beta")
    bot.services.projects.refresh()
    view = open_deploy_modal(bot)
    response = bot.sender.suggest(Action.PROJECT_SELECT, Block.PROJECT, "typeahead", view, user_id=REQUESTER)
    assert response.status_code == 200
    labels = [o["text"]["text"] for o in response.json()["options"]]
    assert [label.split(" (")[0] for label in labels] == ["Typeahead Alpha", "Typeahead Beta"]


def test_field_errors_come_back_in_the_submission_response(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Errors Strategy")
    view = open_deploy_modal(bot)
    view = choose_brokerage(bot, view, "InteractiveBrokersSettings")
    view = choose_project(bot, view, project_id, "Errors Strategy")
    answer = submit_modal(
        bot,
        view,
        {
            Block.PROFILE: "ib-main",
            "ib-trading-mode": "live",
            "ib-weekly-restart-utc-time": "25:61:00",
            Block.VERSION: {"text": {"type": "plain_text", "text": "newest"}, "value": "newest"},
            Block.REASON: "",
        },
    )
    assert answer is not None and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"ib-weekly-restart-utc-time", Block.VERSION, Block.REASON}
    assert "hh:mm:ss" in answer["errors"]["ib-weekly-restart-utc-time"]
    assert not bot.services.store.list_requests(project_id=project_id)


def test_trading_technologies_without_cash_is_refused_next_to_cash(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("TT Strategy")
    view = choose_project(
        bot, choose_brokerage(bot, open_deploy_modal(bot), "TradingTechnologiesSettings"), project_id, "TT"
    )
    answer = submit_modal(bot, view, {"tt-rest-environment": "uat", Block.REASON: "Try TT"})
    assert answer is not None and set(answer["errors"]) == {Block.CASH}


def test_incomplete_profile_is_refused_naming_the_missing_fields(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Partial Profile Strategy")
    view = open_deploy_modal(bot)
    view = choose_brokerage(bot, view, "InteractiveBrokersSettings")
    view = choose_project(bot, view, project_id, "Partial Profile Strategy")
    answer = submit_modal(
        bot, view, {Block.PROFILE: "ib-partial", "ib-trading-mode": "live", Block.REASON: "New profile"}
    )
    assert answer is not None and answer["response_action"] == "errors"
    message = answer["errors"][Block.PROFILE]
    assert "ib-password" in message and "ib-account" in message and "ib-user-name" not in message
    assert not bot.services.store.list_requests(project_id=project_id)
    for secret in ALL_SECRETS:
        assert secret not in bot.slack.all_text()


def test_busy_node_is_refused_next_to_the_node(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Busy Node Strategy", default_nodes=False)
    busy = bot.qc.add_node(project_id, "Live CPU busy", busy=True, used_by="Jane Trader")
    bot.qc.add_node(project_id, "Live CPU free")
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Busy Node Strategy")
    labels = {o["value"]: o["text"]["text"] for o in block_of(view, Block.NODE)["element"]["options"]}
    assert labels[busy] == "Live CPU busy: busy — used by Jane Trader"
    answer = submit_modal(bot, view, {Block.NODE: busy, Block.REASON: "Paper run"})
    assert answer is not None and "Jane Trader" in answer["errors"][Block.NODE]


def test_unreachable_quantconnect_is_reported_by_message_after_the_form_closes(bot: BotHarness) -> None:
    view = open_deploy_modal(bot)
    unknown = {"text": {"type": "plain_text", "text": "Ghost (424200)"}, "value": "424200"}
    # QuantConnect fails every attempt; the client's retries with backoff outlast Slack's 3 s.
    bot.qc.fail("projects/read", status=503, times=4)
    answer = submit_modal(
        bot, view, {Block.PROJECT: unknown, Block.VERSION: "-1", Block.REASON: "QuantConnect is down"}
    )
    assert answer is None, "the form closes within Slack's time instead of waiting for the retries"
    told = _ephemeral(bot, "was not stored")
    assert "QuantConnect" in told["text"] and "/qc deploy" in told["text"]
    notes = [e["text"] for e in bot.slack.ephemerals(REQUESTER)]
    assert notes.index(next(t for t in notes if "takes longer" in t)) < notes.index(told["text"])
    assert not bot.services.store.list_requests(project_id=424200)


def test_quick_refusal_from_quantconnect_stays_next_to_the_project(bot: BotHarness) -> None:
    view = open_deploy_modal(bot)
    gone = {"text": {"type": "plain_text", "text": "Gone (424201)"}, "value": "424201"}
    answer = submit_modal(
        bot, view, {Block.PROJECT: gone, Block.VERSION: "-1", Block.REASON: "Deleted meanwhile"}
    )
    assert answer is not None and answer["response_action"] == "errors"
    assert "424201 no longer exists" in answer["errors"][Block.PROJECT]


def _ephemeral(bot: BotHarness, needle: str) -> dict[str, Any]:
    """The requester's ephemeral message containing `needle` (waits for it)."""
    return eventually(
        lambda: next((e for e in bot.slack.ephemerals(REQUESTER) if needle in e["text"]), None),
        what=f"an ephemeral saying {needle!r}",
    )


def test_valid_submission_creates_and_announces_the_request(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Happy Strategy")
    view = open_deploy_modal(bot)
    view = choose_brokerage(bot, view, "InteractiveBrokersSettings")
    view = choose_project(bot, view, project_id, "Happy Strategy")
    answer = submit_modal(
        bot,
        view,
        {
            Block.PROFILE: "ib-main",
            "ib-trading-mode": "live",
            Block.AUTOMATIC_REDEPLOY: ["true"],
            Block.REASON: "Go live with the new signals",
        },
    )
    assert answer is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    assert request.profile == "ib-main" and request.requester_id == REQUESTER
    assert request.settings == {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"}
    assert request.automatic_redeploy is True and request.node_id is None
    bot.slack.wait_for("chat.postMessage", lambda c: c.body.get("channel") == DEPLOY_CHANNEL)
    for secret in ALL_SECRETS:
        assert secret not in bot.slack.all_text()
    # A second submission of the same view (a double click) is deduplicated by the view id.
    submit_modal(bot, view, {Block.PROFILE: "ib-main", "ib-trading-mode": "live", Block.REASON: "again"})
    assert len(bot.services.store.list_requests(project_id=project_id)) == 1


def test_expired_trigger_id_is_explained_instead_of_failing_silently(bot: BotHarness) -> None:
    trigger = new_trigger_id()
    bot.slack.expire_trigger(trigger)
    response = bot.sender.command("deploy", user_id="UEXPIRED", trigger_id=trigger, channel_id="CWORK")
    assert response.status_code == 200
    # Told through the command's response_url, which belongs to that person in that channel.
    bot.slack.wait_for("response_url", lambda c: str(c.path).startswith("UEXPIRED/"))
    [told] = bot.slack.ephemerals("UEXPIRED")
    assert "3 seconds" in told["text"] and "/qc deploy" in told["text"]
    assert told["channel"] == "CWORK"


def test_paper_trading_needs_no_profile(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Paper Strategy")
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Paper Strategy")
    assert Block.PROFILE not in {b.get("block_id") for b in view["blocks"] if b["type"] == "input"}
    answer = submit_modal(bot, view, {Block.CASH: "100,000 USD", Block.REASON: "Paper run of the new model"})
    assert answer is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    assert request.model_key == "QuantConnectSettings" and request.profile == ""
    assert request.cash == [{"amount": 100000.0, "currency": "USD"}]
    assert request.is_paper


# ---- Lean version ------------------------------------------------------------------------------------


def _version(view: dict[str, Any]) -> dict[str, Any]:
    return block_of(view, Block.VERSION)


def _version_values(view: dict[str, Any]) -> list[str]:
    return [o["value"] for o in _version(view)["element"]["options"]]


def _newest_first() -> list[str]:
    return [str(v["id"]) for v in sorted(FAKE_LEAN_VERSIONS, key=lambda v: v["id"], reverse=True)]


def test_version_select_preselects_the_projects_lean_version(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Version Strategy", lean_version_id=17202)
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Version Strategy")
    element = _version(view)["element"]
    assert element["type"] == "static_select"
    others = [v for v in _newest_first() if v != "17202"]
    assert _version_values(view) == ["17202", *others, "-1"]
    assert element["options"][0]["text"]["text"] == "project default (17202)"
    assert element["initial_option"]["value"] == "17202"
    assert "master" in element["options"][-1]["text"]["text"].lower()


def test_the_default_version_follows_a_project_change(bot: BotHarness) -> None:
    first = bot.qc.add_project("First Version", lean_version_id=17202)
    second = bot.qc.add_project("Second Version", lean_version_id=17188)
    view = choose_project(bot, open_deploy_modal(bot), first, "First Version")
    assert _version(view)["element"]["initial_option"]["value"] == "17202"
    option = {"text": {"type": "plain_text", "text": f"Second Version ({second})"}, "value": str(second)}
    bot.sender.action(
        Action.PROJECT_SELECT,
        user_id=REQUESTER,
        view=with_state(view, {Block.PROJECT: option}),
        block_id=Block.PROJECT,
        action_type="external_select",
        selected_option=option,
    )
    changed = view_update(
        bot, view["id"], lambda v: _version(v)["element"].get("initial_option", {}).get("value") == "17188"
    )
    assert _version_values(changed)[0] == "17188"
    assert _version(changed)["element"]["options"][0]["text"]["text"] == "project default (17188)"


def test_unknown_project_version_preselects_the_newest(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Unversioned Strategy", lean_version_id=None)
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Unversioned Strategy")
    newest = _newest_first()[0]
    assert _version(view)["element"]["initial_option"]["value"] == newest
    assert _version(view)["element"]["options"][0]["text"]["text"] == f"newest ({newest})"
    assert "did not report this project's Lean version" in _version(view)["hint"]["text"]


def _paper_submission(bot: BotHarness, name: str, version: str | None = None) -> DeployRequest:
    project_id = bot.qc.add_project(name, lean_version_id=17202)
    view = choose_project(bot, open_deploy_modal(bot), project_id, name)
    overrides: dict[str, Any] = {Block.REASON: f"Paper run of {name}"}
    if version is not None:
        overrides[Block.VERSION] = version
    assert submit_modal(bot, view, overrides) is None
    [request] = bot.services.store.list_requests(project_id=project_id)
    return request


def test_submission_stores_and_sends_the_projects_version(bot: BotHarness) -> None:
    request = _paper_submission(bot, "Sent Version")
    assert request.version_id == "17202"
    call = eventually(
        lambda: next(
            (c for c in bot.qc.calls_to("live/create") if c.body["projectId"] == request.project_id), None
        ),
        what="live/create",
    )
    assert call.body["versionId"] == "17202"


def test_master_chosen_on_purpose_shows_a_warning_on_the_card(bot: BotHarness) -> None:
    request = _paper_submission(bot, "Master Version", version="-1")
    assert request.version_id == "-1"
    ts = eventually(lambda: bot.services.store.get_request(request.id).message_ts, what="card")
    card = json.dumps(bot.slack.message(DEPLOY_CHANNEL, ts))
    assert "QuantConnect advises against master for live trading" in card
    default = _paper_submission(bot, "Default Version")
    ts = eventually(lambda: bot.services.store.get_request(default.id).message_ts, what="card")
    assert "advises against master" not in json.dumps(bot.slack.message(DEPLOY_CHANNEL, ts))


def test_a_version_the_modal_did_not_offer_is_refused_next_to_the_version(bot: BotHarness) -> None:
    project_id = bot.qc.add_project("Forged Version", lean_version_id=17202)
    view = choose_project(bot, open_deploy_modal(bot), project_id, "Forged Version")
    for forged in ("16000", "²", "17202 "):
        picked = {"text": {"type": "plain_text", "text": forged}, "value": forged}
        answer = submit_modal(bot, view, {Block.VERSION: picked, Block.REASON: "Forged version"})
        assert answer is not None and set(answer["errors"]) == {Block.VERSION}
        assert "Lean version" in answer["errors"][Block.VERSION]
    assert not bot.services.store.list_requests(project_id=project_id)


def test_binance_us_offers_no_paper_choice(bot: BotHarness) -> None:
    view = choose_brokerage(bot, open_deploy_modal(bot), "BinanceUSSettings")
    settings = [b for b in view["blocks"] if b["type"] == "input" and b["block_id"] != Block.BROKERAGE]
    text = json.dumps(settings).lower()
    assert "paper" not in text and "testnet" not in text
    assert "binance-use-testnet" not in {b["block_id"] for b in settings}


def test_unreadable_lean_versions_are_explained_in_the_modal(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=PROFILES) as fresh:
        known = fresh.qc.add_project("Known Version", lean_version_id=17202)
        unknown = fresh.qc.add_project("Unknown Version", lean_version_id=None)
        fresh.qc.refuse("lean/versions/read", ["Lean versions are temporarily unavailable"], times=2)
        view = choose_project(fresh, open_deploy_modal(fresh), known, "Known Version")
        assert _version_values(view) == ["17202", "-1"]
        assert _version(view)["element"]["initial_option"]["value"] == "17202"
        assert "Lean versions are temporarily unavailable" in _version(view)["hint"]["text"]
        view = choose_project(fresh, open_deploy_modal(fresh), unknown, "Unknown Version")
        assert _version_values(view) == ["-1"]
        assert "initial_option" not in _version(view)["element"], "master is never preselected"
        assert "nothing is preselected" in _version(view)["hint"]["text"]
        # Nothing chosen: the submission is refused next to the version, not sent to master.
        answer = submit_modal(fresh, view, {Block.REASON: "No version known"})
        assert answer is not None and Block.VERSION in answer["errors"]
