"""Every brokerage model of the registry, end to end through the deploy modal: choose it, fill its settings,
submit, approve on the card when real money, then a spec-valid live/create carrying the profile's credentials
exactly, and the deployment Running. Driven by the registry: a new model is covered by adding it there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.brokerages import Support, registry
from bot.ids import Block
from bot.statuses import RequestStatus
from tests.fakes.qc_schema import validate_live_create
from tests.support.bot import BotHarness, running_bot
from tests.support.deploy_flow import (
    choose_brokerage,
    choose_project,
    open_deploy_modal,
    submit_modal,
    view_update,
)
from tests.support.examples import EXAMPLE_PROFILES, example_profiles, profile_name
from tests.support.flows import approve_if_needed, card_ts, quick, wait_for, wait_live_status
from tests.support.waiting import eventually

MODELS = [model.key for model in registry.all_models()]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotHarness]:
    with running_bot(tmp_path_factory.mktemp("every-model-modal"), profiles=example_profiles()) as harness:
        yield quick(harness)


def _inputs(view: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in view["blocks"] if b["type"] == "input"}


@pytest.mark.parametrize("key", MODELS)
def test_every_model_goes_from_the_modal_to_running(bot: BotHarness, key: str) -> None:
    model = registry.get(key)
    settings, credentials = EXAMPLE_PROFILES[key]
    project = f"Every model {key}"
    project_id = bot.qc.add_project(project)
    view = choose_brokerage(bot, open_deploy_modal(bot), key)
    if model.credential_fields():
        view = view_update(bot, view["id"], lambda v: Block.PROFILE in _inputs(v))
    view = choose_project(bot, view, project_id, project)
    fields: dict[str, Any] = {
        info.name: str(settings[info.name]).lower() if info.value_type == "bool" else str(settings[info.name])
        for info in model.setting_fields()
        if info.name in settings
    }
    if model.credential_fields():
        fields[Block.PROFILE] = profile_name(key)
    if model.cash_support is Support.REQUIRED:
        fields[Block.CASH] = "100000 USD"
    answer = submit_modal(bot, view, {**fields, Block.REASON: f"Every model: {key}"})
    assert answer is None, answer
    [request] = eventually(lambda: bot.services.store.list_requests(project_id=project_id), what="request")
    request = eventually(lambda: card_ts(bot, request.id) and bot.services.store.get_request(request.id))
    approve_if_needed(bot, request)
    wait_for(bot, request.id, {RequestStatus.LIVE}, timeout=60)
    wait_live_status(bot, request.id, "Running", timeout=30)

    [sent] = [c.body for c in bot.qc.calls_to("live/create") if c.body["projectId"] == project_id]
    assert validate_live_create(sent) == []
    for info in model.credential_fields():
        if info.name in credentials:
            expected = int(credentials[info.name]) if info.value_type == "int" else credentials[info.name]
            assert sent["brokerage"][info.name] == expected, info.name
    assert sent["brokerage"]["id"] == model.brokerage_id
