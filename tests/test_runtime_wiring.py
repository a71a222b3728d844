"""Runtime wiring: approvers' App Home follows card changes, lease defaults, the debouncer."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from bot.brokerages import registry
from bot.config import ConfigError, Settings
from bot.debounce import Debouncer
from bot.forms import DeployForm
from bot.ids import Action
from bot.requests import RequestRejected
from tests.fakes.slack_requests import new_trigger_id
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.waiting import eventually

IB_PROFILES = {
    "ib-main": (
        "InteractiveBrokersBrokerage",
        {"ib-user-name": "u", "ib-password": "pw-1234", "ib-account": "U1"},
    )
}


def ib_form(bot: BotHarness, project: str, reason: str) -> DeployForm:
    """A valid real-money Interactive Brokers request for a new project of the fake QuantConnect."""
    model = registry.get("InteractiveBrokersSettings")
    return DeployForm(
        model_key=model.key,
        profile="ib-main",
        project_id=bot.qc.add_project(project),
        project_name=project,
        version_id="17202",
        settings=model.validate_settings(
            {"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"}
        ),
        reason=reason,
    )


MINIMAL_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "DEPLOY_CHANNEL_ID": "C123", "APPROVER_USER_IDS": "U123"}


def test_lease_settings_default_to_seconds_and_are_checked() -> None:
    default = Settings.from_env(MINIMAL_ENV, mode="cli", dotenv_path=None)
    assert (default.lease_seconds, default.heartbeat_seconds) == (15, 5)
    assert default.settle_window_seconds == 30 + 600
    # The setting's former name still works.
    former = Settings.from_env({**MINIMAL_ENV, "WATCH_LEASE_SECONDS": "45"}, mode="cli", dotenv_path=None)
    assert former.lease_seconds == 45
    explicit = Settings.from_env(
        {**MINIMAL_ENV, "WATCH_LEASE_SECONDS": "45", "LEASE_SECONDS": "12"}, mode="cli", dotenv_path=None
    )
    assert explicit.lease_seconds == 12
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {**MINIMAL_ENV, "LEASE_SECONDS": "10", "HEARTBEAT_SECONDS": "6", "SETTLE_SECONDS": "60"},
            mode="cli",
            dotenv_path=None,
        )
    problems = " ".join(refused.value.problems)
    assert "HEARTBEAT_SECONDS" in problems and "SETTLE_SECONDS" in problems


def test_debouncer_merges_a_burst_into_few_runs() -> None:
    runs: list[float] = []
    done = threading.Event()

    def callback() -> None:
        runs.append(time.monotonic())
        done.set()

    debouncer = Debouncer(callback, interval=0.2)
    try:
        debouncer.trigger()
        assert done.wait(5), "the first trigger runs at once"
        done.clear()
        for _ in range(199):
            debouncer.trigger()
        # The burst is one more run, an interval after the first, and nothing after it.
        assert done.wait(5), "the burst runs once"
        time.sleep(0.5)
        assert len(runs) == 2
        assert runs[1] - runs[0] >= 0.2
    finally:
        debouncer.close()


def test_approvers_home_tabs_follow_the_card(tmp_path: Path) -> None:
    """Without anyone opening App Home, a new request and its approval re-publish the approvers' tabs."""
    env = {"APPROVALS_LIVE": "1"}
    with running_bot(tmp_path, env=env, profiles=IB_PROFILES) as bot:
        form = ib_form(bot, "HomeTab", "home tab test")
        request = bot.services.requests.create(form, requester_id=REQUESTER)
        bot.services.requests.announce(request)

        def published_mentioning(text: str) -> bool:
            return all(
                any(
                    text in str(call.body.get("view"))
                    for call in bot.slack.calls_to("views.publish")
                    if call.body.get("user_id") == approver
                )
                for approver in APPROVERS
            )

        eventually(
            lambda: published_mentioning("HomeTab"), what="approvers' Home tabs refreshed after the request"
        )

        before = len(bot.slack.calls_to("views.publish"))
        card = bot.slack.message(DEPLOY_CHANNEL, bot.services.store.get_request(request.id).message_ts)
        bot.sender.action(
            Action.APPROVE, request.id, user_id=APPROVERS[0], channel_id=DEPLOY_CHANNEL, message=card
        )
        eventually(
            lambda: len(bot.slack.calls_to("views.publish")) > before, what="Home tabs after the approval"
        )


def test_a_card_that_never_went_out_is_posted_after_a_restart(tmp_path: Path) -> None:
    """A request saved just before the process stopped, its card still queued, is not lost."""
    with running_bot(tmp_path, profiles=IB_PROFILES) as bot:
        form = ib_form(bot, "Orphan", "card lost in a crash")
        # Stored but never announced: what a crash between the ack and the card post leaves behind.
        request = bot.services.requests.create(form, requester_id=REQUESTER)
        assert bot.services.store.get_request(request.id).message_ts is None
        bot.restart()
        eventually(
            lambda: bot.services.store.get_request(request.id).message_ts, what="the card after the restart"
        )
        posted = bot.services.store.get_request(request.id)
        card = bot.slack.message(DEPLOY_CHANNEL, posted.message_ts)
        assert "Orphan" in str(card)
        assert any(block.get("type") == "actions" for block in card["blocks"]), "the card has no buttons"


def test_a_profile_value_in_the_wrong_format_is_refused_before_approval(tmp_path: Path) -> None:
    """An OANDA account id QuantConnect would refuse is caught at request time, and never echoed."""
    bad_account = "9981234"
    profiles = {
        "oanda-main": ("OandaBrokerage", {"oanda-account-id": bad_account, "oanda-access-token": "tok-5678"})
    }
    with running_bot(tmp_path, profiles=profiles) as bot:
        project_id = bot.qc.add_project("FX")
        model = registry.get("OandaSettings")
        form = DeployForm(
            model_key=model.key,
            profile="oanda-main",
            project_id=project_id,
            project_name="FX",
            version_id="17202",
            settings=model.validate_settings({"oanda-environment": "Trade"}),
            reason="fx",
        )
        with pytest.raises(RequestRejected) as refused:
            bot.services.requests.create(form, requester_id=REQUESTER)
        assert refused.value.field == "profile"
        assert "OANDA account id" in refused.value.user_message
        assert "###-###-######-###" in refused.value.user_message
        assert bad_account not in refused.value.user_message
        assert bot.services.store.list_requests() == []


def test_stopping_lets_a_listener_finish_its_slack_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop while a listener waits on Slack after its ack waits for it instead of cutting its connection."""
    with running_bot(tmp_path) as bot:
        bot.slack.delay("views.open", 0.5)
        trigger = new_trigger_id()
        assert bot.sender.command("deploy", user_id=REQUESTER, trigger_id=trigger).status_code == 200
        bot.stop()
        opened = [c for c in bot.slack.calls_to("views.open") if c.body.get("trigger_id") == trigger]
        assert len(opened) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def test_settings_read_a_dotenv_file_under_the_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "SLACK_BOT_TOKEN='xoxb-from-file$NOT_EXPANDED'\nDEPLOY_CHANNEL_ID=CFILE\nAPPROVER_USER_IDS=UFILE\n"
        "HTTP_THREADS=3\n"
    )
    settings = Settings.from_env({"DEPLOY_CHANNEL_ID": "CENV"}, mode="cli", dotenv_path=dotenv)
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-file$NOT_EXPANDED"  # taken literally
    assert settings.deploy_channel_id == "CENV"  # the real environment wins over the file
    assert settings.http_threads == 3 and settings.policy.approver_user_ids == frozenset({"UFILE"})
    assert settings.environ["HTTP_THREADS"] == "3"  # the secret backends read the same mapping
