"""RequestService with the real store, policy, profiles and notifier against the fake Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient

from bot.config import PolicySettings, Settings
from bot.errors import BotError
from bot.forms import DeployForm
from bot.live_create import COMPILE_PLACEHOLDER, NODE_PLACEHOLDER
from bot.notifier import Notifier
from bot.policy import Policy
from bot.requests import RequestRejected, RequestService
from bot.secrets.env_store import EnvSecretStore
from bot.secrets.profiles import CredentialProfiles
from bot.store import RequestStatus, Store
from bot.sweeper import ExpirySweeper
from tests.fakes.fake_slack import FakeSlack
from tests.support.clocks import ManualClock
from tests.support.examples import profile_env

S = RequestStatus
CHANNEL = "CDEPLOY"
IB_SECRETS = {"ib-user-name": "trader-joe-77", "ib-password": "hunter2-Sup3rSecret", "ib-account": "U7654321"}


@dataclass
class World:
    """Everything a RequestService needs, wired to a fake Slack."""

    slack: FakeSlack
    store: Store
    clock: ManualClock
    notifier: Notifier
    service: RequestService
    submitted: list[str] = field(default_factory=list)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def build(slack: FakeSlack, tmp_path: Path, **policy: Any) -> World:
    clock = ManualClock()
    store = Store(f"sqlite:///{tmp_path / 'requests.sqlite3'}")
    client = WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=5)
    env = profile_env(
        {
            "ib-main": ("InteractiveBrokersBrokerage", IB_SECRETS),
            "ib-half": ("InteractiveBrokersBrokerage", {"ib-user-name": "someone"}),
            "tradier-main": (
                "TradierBrokerage",
                {"tradier-account-id": "VA000", "tradier-access-token": "tok"},
            ),
        }
    )
    profiles = CredentialProfiles(EnvSecretStore(env))
    policy.setdefault("approver_user_ids", frozenset({"UAPPROVER1", "UAPPROVER2"}))
    settings = Settings(
        slack_bot_token=SecretStr("xoxb-unused"),  # never read by the service
        slack_app_token=None,
        deploy_channel_id=CHANNEL,
        policy=PolicySettings(**policy),
    )
    notifier = Notifier(client, store, CHANNEL, clock=clock, min_interval=0)
    world = World(slack, store, clock, notifier, service=None)  # type: ignore[arg-type]
    world.service = RequestService(
        store,
        Policy(settings.policy, client, clock),
        profiles,
        notifier,
        world.submitted.append,
        settings,
        clock,
    )
    return world


@pytest.fixture
def world(slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = build(slack, tmp_path)
    yield w
    w.notifier.close()
    w.store.dispose()


def form(**overrides: Any) -> DeployForm:
    values: dict[str, Any] = {
        "model_key": "InteractiveBrokersSettings",
        "profile": "ib-main",
        "project_id": 4242,
        "project_name": "Momentum",
        "version_id": "17202",
        "settings": {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"},
        "reason": "Quarterly rebalance",
    }
    values.update(overrides)
    return DeployForm(**values)


def test_create_stores_a_pending_real_money_request(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER", dedupe_key="view-1")
    assert request.status is S.PENDING
    assert request.is_paper is False and request.approvals_needed == 1
    assert request.expires_at == world.clock.now + timedelta(minutes=60)
    assert request.channel_id == CHANNEL
    again = world.service.create(form(), requester_id="UREQUESTER", dedupe_key="view-1")
    assert again.id == request.id, "a redelivered submission is the same request"


def test_paper_request_is_approved_at_once(world: World) -> None:
    request = world.service.create(form(settings={"ib-trading-mode": "paper"}), requester_id="UREQUESTER")
    assert request.is_paper and request.approvals_needed == 0 and request.status is S.APPROVED


def test_incomplete_profile_is_refused_naming_the_fields(world: World) -> None:
    with pytest.raises(RequestRejected) as caught:
        world.service.create(form(profile="ib-half"), requester_id="UREQUESTER")
    assert caught.value.field == "profile"
    assert str(caught.value).startswith(
        "Profile ib-half is missing IB password (ib-password), IB account (ib-account)"
    )


@pytest.mark.parametrize("profile", ["nope", "tradier-main"])
def test_unknown_or_wrong_brokerage_profile_is_refused(world: World, profile: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        world.service.create(form(profile=profile), requester_id="UREQUESTER")
    assert caught.value.field == "profile" and profile in str(caught.value)


def test_one_open_request_per_project_names_the_holder(world: World) -> None:
    first = world.service.create(form(), requester_id="UREQUESTER")
    with pytest.raises(RequestRejected) as caught:
        world.service.create(form(), requester_id="UOTHER")
    assert caught.value.field == "project"
    assert first.id in str(caught.value) and "<@UREQUESTER>" in str(caught.value)


def test_requester_lists_are_enforced(slack: FakeSlack, tmp_path: Path) -> None:
    w = build(slack, tmp_path, requester_user_ids=frozenset({"UTRADER"}))
    with pytest.raises(RequestRejected) as caught:
        w.service.create(form(), requester_id="UINTERN")
    assert caught.value.field == "requester" and "REQUESTER_USER_IDS" in str(caught.value)
    w.notifier.close()


def test_announce_posts_the_card_and_confirms_with_a_link(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    ts = world.service.announce(request)
    assert ts is not None
    assert len(world.slack.messages(CHANNEL)) == 1
    confirmation = world.slack.ephemerals("UREQUESTER")[-1]["text"]
    assert "https://" in confirmation and request.id in confirmation
    assert world.submitted == []


def test_announcing_an_auto_approved_request_deploys_it_once(world: World) -> None:
    request = world.service.create(form(settings={"ib-trading-mode": "paper"}), requester_id="UREQUESTER")
    world.service.announce(request)
    world.service.announce(request)
    assert world.submitted == [request.id]
    assert len(world.slack.messages(CHANNEL)) == 1


def test_approval_by_an_approver_deploys_once_and_updates_the_card(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    ts = world.service.announce(request)
    outcome = world.service.approve(request.id, "UAPPROVER1")
    assert outcome.changed and outcome.request is not None and outcome.request.status is S.APPROVED
    again = world.service.approve(request.id, "UAPPROVER1")
    other = world.service.approve(request.id, "UAPPROVER2")
    assert not again.changed and not other.changed and "already approved" in other.message
    assert world.submitted == [request.id]
    assert world.notifier.flush(5)
    assert ts is not None
    blocks = world.slack.message(CHANNEL, ts)["blocks"]
    assert not [b for b in blocks if b["type"] == "actions"]
    assert "UAPPROVER1" in json.dumps(blocks)


def test_self_approval_and_strangers_are_refused_and_nothing_changes(world: World) -> None:
    request = world.service.create(form(), requester_id="UAPPROVER1")
    own = world.service.approve(request.id, "UAPPROVER1")
    stranger = world.service.approve(request.id, "USTRANGER")
    assert not own.changed and "your own request" in own.message
    assert not stranger.changed and "Only approvers can approve" in stranger.message
    stored = world.store.get_request(request.id)
    assert stored is not None and stored.status is S.PENDING
    assert world.store.approvals(request.id) == []
    assert world.submitted == []


def test_two_approvers_at_once_deploy_once(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def click(user: str) -> None:
        barrier.wait()
        results.append(world.service.approve(request.id, user).changed)

    threads = [threading.Thread(target=click, args=(u,)) for u in ("UAPPROVER1", "UAPPROVER2") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert world.submitted == [request.id]


def test_real_money_can_need_two_approvals(slack: FakeSlack, tmp_path: Path) -> None:
    w = build(slack, tmp_path, approvals_live=2)
    request = w.service.create(form(), requester_id="UREQUESTER")
    first = w.service.approve(request.id, "UAPPROVER1")
    assert first.changed and "1 of 2" in first.message
    assert w.submitted == []
    second = w.service.approve(request.id, "UAPPROVER2")
    assert second.changed and second.request is not None and second.request.status is S.APPROVED
    assert w.submitted == [request.id]
    w.notifier.close()


def test_reject_with_a_reason(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    refused = world.service.reject(request.id, "UREQUESTER", "mine")
    assert not refused.changed and "Cancel" in refused.message
    assert world.service.may_reject(request.id, "UAPPROVER2").changed
    outcome = world.service.reject(request.id, "UAPPROVER2", "  Wrong trading mode  ")
    assert outcome.changed and outcome.request is not None
    assert outcome.request.status is S.REJECTED and outcome.request.decision_note == "Wrong trading mode"
    late = world.service.approve(request.id, "UAPPROVER1")
    assert not late.changed and "already rejected by <@UAPPROVER2>" in late.message


def test_cancel_is_for_the_requester_only(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    refused = world.service.cancel(request.id, "UAPPROVER1")
    assert not refused.changed and "Only the requester" in refused.message
    outcome = world.service.cancel(request.id, "UREQUESTER")
    assert outcome.changed and outcome.request is not None and outcome.request.status is S.CANCELLED
    # The project is free again.
    assert world.service.create(form(), requester_id="UOTHER").status is S.PENDING


def test_clicking_an_expired_card_expires_it_and_says_so(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    world.service.announce(request)
    world.clock.now += timedelta(minutes=61)
    outcome = world.service.approve(request.id, "UAPPROVER1")
    assert not outcome.changed and "expired" in outcome.message
    stored = world.store.get_request(request.id)
    assert stored is not None and stored.status is S.EXPIRED
    assert world.submitted == []


def test_sweeper_expires_due_requests_and_refreshes_their_cards(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    ts = world.service.announce(request)
    sweeper = ExpirySweeper(world.store, world.clock, interval=0.05)
    assert sweeper.run_once() == []
    world.clock.now += timedelta(minutes=61)
    sweeper.start()
    try:
        world.slack.wait_for("chat.update", timeout=5)
    finally:
        sweeper.stop()
    assert world.notifier.flush(5)
    assert ts is not None
    assert "Expired" in json.dumps(world.slack.message(CHANNEL, ts)["blocks"])


def test_unknown_request_ids_are_explained(world: World) -> None:
    assert "does not exist" in world.service.approve("r-missing", "UAPPROVER1").message
    assert "does not exist" in world.service.cancel("r-missing", "UREQUESTER").message


def test_preview_masks_every_credential_and_marks_what_deploy_assigns(world: World) -> None:
    request = world.service.create(form(node_id=None), requester_id="UREQUESTER")
    preview = world.service.preview(request.id, "UAPPROVER1")
    assert preview.body is not None and preview.problems == []
    text = json.dumps(preview.body)
    for secret in IB_SECRETS.values():
        assert secret not in text
    brokerage = preview.body["brokerage"]
    assert brokerage["id"] == "InteractiveBrokersBrokerage"
    assert {brokerage[k] for k in IB_SECRETS} == {"********"}
    assert brokerage["ib-trading-mode"] == "live"
    assert preview.body["compileId"] == COMPILE_PLACEHOLDER
    assert preview.body["nodeId"] == NODE_PLACEHOLDER
    assert preview.body["projectId"] == 4242


def test_preview_of_a_profile_that_vanished_explains_instead(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    world.service.profiles = CredentialProfiles(EnvSecretStore({}))
    preview = world.service.preview(request.id, "UREQUESTER")
    assert preview.body is None and "ib-main" in preview.problems[0]


def test_preview_is_for_approvers_and_the_requester(world: World) -> None:
    request = world.service.create(form(), requester_id="UREQUESTER")
    assert world.service.preview(request.id, "UREQUESTER").body is not None
    assert world.service.preview(request.id, "UAPPROVER2").body is not None
    with pytest.raises(BotError, match="Only approvers can see the preview of other people's requests"):
        world.service.preview(request.id, "UOUTSIDER")
