"""The deploy submission's work before the ack fits Slack's time; slow checks finish after it, by message.

Slow user-group look-ups (Slack answering 429 with Retry-After, waited out by the client's retries) and a
slow secret backend (Vault) are real delays of the fakes. The assertions are about order, not wall time:
when the submission's answer arrived the slow check had not been answered yet and nothing was stored; later
the request is stored and announced, or the person is told why not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.brokerages import registry
from bot.ids import Block
from bot.store import DeployRequest
from bot.submissions import Refused, Submission
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_vault import FakeVault, running_vault
from tests.support.bot import DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.deploy_flow import choose_brokerage, choose_project, open_deploy_modal, submit_modal
from tests.support.examples import EXAMPLE_PROFILES
from tests.support.waiting import eventually

TRADERS = "STRADERS"
IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"][1]
PROFILE_PATH = "qc-bot/profiles/ib-vault"


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with running_vault() as server:
        server.put(PROFILE_PATH, {"brokerage": "InteractiveBrokersBrokerage", **IB_CREDENTIALS})
        server.add_token("t-bot")
        yield server


@pytest.fixture
def bot(tmp_path: Path, vault: FakeVault) -> Iterator[BotHarness]:
    env = {
        "SECRET_BACKENDS": "env,vault",
        "VAULT_ADDR": vault.url,
        "VAULT_TOKEN": "t-bot",
        "REQUESTER_GROUP_IDS": TRADERS,
    }
    with FakeSlack() as slack, running_bot(tmp_path, env=env, slack=slack) as harness:
        slack.set_usergroup(TRADERS, [REQUESTER])
        harness.services.notifier.min_interval = 0.02
        yield harness


def filled_modal(bot: BotHarness, project: str) -> tuple[dict[str, Any], int]:
    """The deploy modal with Interactive Brokers and the project chosen, ready to submit."""
    project_id = bot.qc.add_project(project)
    view = choose_brokerage(bot, open_deploy_modal(bot), "InteractiveBrokersSettings")
    return choose_project(bot, view, project_id, project), project_id


FIELDS = {Block.PROFILE: "ib-vault", "ib-trading-mode": "live", Block.REASON: "Slow backends today"}


def ephemerals(bot: BotHarness) -> list[str]:
    return [e["text"] for e in bot.slack.ephemerals(REQUESTER)]


def stored(bot: BotHarness, project_id: int) -> DeployRequest:
    return eventually(
        lambda: next(iter(bot.services.store.list_requests(project_id=project_id)), None),
        what="the request stored after the ack",
    )


def assert_announced_after_the_note(bot: BotHarness, request: DeployRequest) -> None:
    eventually(lambda: getattr(bot.services.store.get_request(request.id), "message_ts", None), what="card")
    posted = eventually(
        lambda: next((t for t in ephemerals(bot) if f"`{request.id}`" in t and "is posted" in t), None),
        what="the confirmation",
    )
    told = ephemerals(bot)
    note = next(t for t in told if "takes longer than Slack lets a form wait" in t)
    assert told.index(note) < told.index(posted), "the note comes first, then the outcome"
    assert bot.slack.messages(DEPLOY_CHANNEL), "the card is in the deploy channel"


def test_slow_user_group_look_up_finishes_after_the_ack_and_the_request_is_announced(
    bot: BotHarness,
) -> None:
    view, project_id = filled_modal(bot, "Slow Groups")
    # Slack rate-limits the look-up three times; the client waits out each Retry-After before asking again.
    bot.slack.rate_limit("usergroups.users.list", times=3, retry_after=1)
    answer = submit_modal(bot, view, FIELDS)
    assert answer is None, "the form closed within Slack's time"
    # At the moment of the answer the requester check was still waiting on Slack: nothing was stored.
    assert bot.slack.calls_to("usergroups.users.list") == []
    assert bot.services.store.list_requests(project_id=project_id) == []
    request = stored(bot, project_id)
    assert bot.slack.calls_to("usergroups.users.list"), "the look-up finished after the ack"
    assert request.requester_id == REQUESTER and request.reason == "Slow backends today"
    assert_announced_after_the_note(bot, request)


def test_slow_secret_backend_finishes_after_the_ack_and_the_request_is_announced(
    bot: BotHarness, vault: FakeVault
) -> None:
    view, project_id = filled_modal(bot, "Slow Vault")
    before = profile_reads(vault)
    bot.services.profiles.resolve("ib-vault", registry.get("InteractiveBrokersSettings"))
    one_round = profile_reads(vault) - before
    vault.delay_reads(PROFILE_PATH, 3.5)
    before = profile_reads(vault)
    answer = submit_modal(bot, view, FIELDS)
    assert answer is None, "the form closed within Slack's time"
    assert bot.services.store.list_requests(project_id=project_id) == []
    request = stored(bot, project_id)
    # One round of secret reads for the submission, not one for the form and another for the request.
    assert profile_reads(vault) - before == one_round
    assert_announced_after_the_note(bot, request)


def profile_reads(vault: FakeVault) -> int:
    return sum(1 for r in vault.requests if r.method == "GET" and r.path.endswith(PROFILE_PATH))


def test_slow_look_up_that_refuses_tells_the_person_and_stores_nothing(bot: BotHarness) -> None:
    view, project_id = filled_modal(bot, "Slow Refusal")
    bot.slack.set_usergroup(TRADERS, ["USOMEONEELSE"])
    bot.slack.rate_limit("usergroups.users.list", times=3, retry_after=1)
    assert submit_modal(bot, view, FIELDS) is None
    refusal = eventually(
        lambda: next((t for t in ephemerals(bot) if "was not stored" in t), None), what="the refusal"
    )
    assert "Only requesters can request deployments" in refusal and "Slow Refusal" in refusal
    assert bot.services.store.list_requests(project_id=project_id) == []
    assert not bot.slack.messages(DEPLOY_CHANNEL)


def test_an_outcome_is_reported_by_exactly_one_side() -> None:
    late = Submission(user_id="U1", reply_channel="C1", project_label="P")
    assert late.wait(0.01) is None and late.detach() is None
    assert late.finish(Refused({"project": "gone"})) is True, "detached: the submission thread reports"
    early = Submission(user_id="U1", reply_channel="C1", project_label="P")
    assert early.finish(Refused({"project": "gone"})) is False
    assert early.detach() == Refused({"project": "gone"}), "known before the ack: the listener reports"
