"""`python -m bot check` against the fake Slack, the fake QuantConnect and real databases."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.doctor import main
from bot.store import NewRequest, Store
from tests.fakes.fake_quantconnect import FakeQuantConnect
from tests.fakes.fake_slack import FakeSlack
from tests.support.bot import DEPLOY_CHANNEL, base_env
from tests.support.examples import EXAMPLE_PROFILES, profile_env
from tests.support.paths import REPO_ROOT

IB_SETTINGS, IB_CREDENTIALS = EXAMPLE_PROFILES["InteractiveBrokersSettings"]


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeSlack, FakeQuantConnect]]:
    """One fake Slack (with the deploy channel) and one fake QuantConnect for the module."""
    with FakeSlack() as slack, FakeQuantConnect() as qc:
        slack.add_channel(DEPLOY_CHANNEL, "deploys", is_member=True)
        yield slack, qc


def good_env(tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]) -> dict[str, str]:
    """A complete environment whose database has the current schema and whose profile is complete."""
    slack, qc = fakes
    env = {
        **base_env(tmp_path, slack, qc),
        **profile_env({"ib-main": ("InteractiveBrokersBrokerage", IB_CREDENTIALS)}),
    }
    Store(env["DATABASE_URL"]).dispose()  # creates the schema, as the bot does at start
    return env


def check(env: Mapping[str, str], *args: str) -> tuple[int, list[str]]:
    """Run the checks in-process; (exit code, printed lines)."""
    out = io.StringIO()
    code = main(list(args), environ=env, out=out)
    return code, out.getvalue().splitlines()


def secrets_of(env: Mapping[str, str]) -> list[str]:
    """The values that must never be printed."""
    return [
        env["SLACK_BOT_TOKEN"],
        env["SLACK_SIGNING_SECRET"],
        env["QC_API_TOKEN"],
        *([env["SLACK_APP_TOKEN"]] if "SLACK_APP_TOKEN" in env else []),
        *IB_CREDENTIALS.values(),
    ]


def test_every_check_passes_on_a_ready_setup(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]
) -> None:
    env = good_env(tmp_path, fakes)
    code, lines = check(env)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok    config",
        "ok    slack",
        "ok    slack channel",
        "ok    slack app token",
        "ok    quantconnect",
        "ok    database",
        "ok    replicas",
        "ok    profile ib-main",
    ]
    assert "the bot is a member of #deploys (CDEPLOY)" in lines[2]
    assert "Slack hands out Socket Mode connections" in lines[3]
    assert "No replica is running" in lines[6]
    assert "complete for Interactive Brokers" in lines[7]
    assert lines[-1].startswith("All checks passed")
    text = "\n".join(lines)
    assert not [s for s in secrets_of(env) if s in text]


def test_check_shows_which_replica_holds_which_work(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]
) -> None:
    env = good_env(tmp_path, fakes)
    now = datetime.now(UTC)
    running = Store(env["DATABASE_URL"], replica_id="host-a-101-abc123")
    gone = Store(env["DATABASE_URL"], replica_id="host-b-202-def456", migrate=False)
    try:
        running.heartbeat(now, 20)
        gone.heartbeat(now - timedelta(minutes=5), 20)
        request = gone.create_request(_ib_request(), now=now)
        gone.claim_request(request.id, now - timedelta(minutes=5))  # before its lease ran out
    finally:
        running.dispose()
        gone.dispose()
    _, lines = check(env)
    replicas = {line.split(": ")[1]: line for line in lines if line.startswith("ok    replicas")}
    assert set(replicas) == {"host-a-101-abc123", "host-b-202-def456"}
    assert "up since" in replicas["host-a-101-abc123"] and "holds nothing" in replicas["host-a-101-abc123"]
    gone_line = replicas["host-b-202-def456"]
    assert "gone: its lease ran out" in gone_line and f"approved {request.id} (Momentum)" in gone_line


def _ib_request() -> NewRequest:
    return NewRequest(
        project_id=4242,
        project_name="Momentum",
        model_key="InteractiveBrokersSettings",
        brokerage_id="InteractiveBrokersBrokerage",
        profile="ib-main",
        version_id="17202",
        requester_id="UREQUESTER",
        is_paper=False,
        approvals_needed=0,
    )


def test_every_problem_is_listed_in_one_run_and_no_secret_is_printed(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]
) -> None:
    slack, _ = fakes
    slack.add_channel("COUTSIDE", "elsewhere", is_member=False)
    incomplete = {k: v for k, v in IB_CREDENTIALS.items() if k != "ib-password"}
    env = {
        **good_env(tmp_path, fakes),
        **profile_env(
            {"ib-half": ("InteractiveBrokersBrokerage", incomplete), "odd": ("NoSuchBrokerage", {})}
        ),
        "APPROVALS_LIVE": "many",  # a configuration problem
        "DEPLOY_CHANNEL_ID": "COUTSIDE",  # the bot is not in it
        "QC_API_TOKEN": "wrong-token-5f1e2d",  # QuantConnect refuses it
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-started.sqlite3'}",  # no schema yet
    }
    app_token = env.pop("SLACK_APP_TOKEN")  # Socket Mode needs it
    code, lines = check(env)
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    text = "\n".join(lines)
    assert any("APPROVALS_LIVE" in line for line in failed)
    assert any(line.startswith("FAIL  config: SLACK_APP_TOKEN") for line in failed)
    assert "FAIL  slack app token: SLACK_APP_TOKEN is not set" in text
    assert app_token not in text
    assert "ok    slack: the bot token works" in text  # checks go on after the configuration failed
    assert any("the bot is not in #elsewhere (COUTSIDE)" in line and "/invite" in line for line in failed)
    assert any(line.startswith("FAIL  quantconnect:") for line in failed)
    assert any("schema is missing or old: start the bot once" in line for line in failed)
    assert any(
        line.startswith("FAIL  profile ib-half:") and "IB password (ib-password)" in line for line in failed
    )
    assert any(
        line.startswith("FAIL  profile odd:") and "'NoSuchBrokerage' is unknown" in line for line in failed
    )
    assert "ok    profile ib-main: InteractiveBrokersBrokerage: complete for Interactive Brokers" in text
    assert f"{len(failed)} check(s) failed" in lines[-1]
    assert not [s for s in [*secrets_of(env), "wrong-token-5f1e2d"] if s in text]


def test_slack_token_refused_and_database_unreachable(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]
) -> None:
    env = {
        **good_env(tmp_path, fakes),
        "SLACK_BOT_TOKEN": "xoxb-revoked-0000",
        "DATABASE_URL": "postgresql+psycopg://bot:hunter2pw@127.0.0.1:1/qcbot",
    }
    code, lines = check(env, "--http")
    assert code == 1
    text = "\n".join(lines)
    assert "FAIL  slack: auth.test answered invalid_auth: SLACK_BOT_TOKEN is wrong or revoked" in text
    assert "FAIL  database: cannot connect to the postgresql database in DATABASE_URL" in text
    assert "hunter2pw" not in text and "xoxb-revoked-0000" not in text
    assert "ok    quantconnect" in text


@pytest.mark.parametrize(
    ("token", "error", "hint"),
    [
        ("xapp-1-A0FAKE-1-revoked", "invalid_auth", "wrong or was revoked"),
        ("bot", "not_allowed_token_type", "not an app-level token (xapp-...)"),
    ],
)
def test_an_app_level_token_slack_refuses_is_named_with_the_fix(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect], token: str, error: str, hint: str
) -> None:
    slack, _ = fakes
    env = good_env(tmp_path, fakes)
    env["SLACK_APP_TOKEN"] = slack.bot_token if token == "bot" else token
    code, lines = check(env)
    assert code == 1
    [refused] = [line for line in lines if line.startswith("FAIL  slack app token")]
    assert f"Slack refused SLACK_APP_TOKEN ({error})" in refused and hint in refused
    assert "App-Level Tokens" in refused and "connections:write" in refused
    assert env["SLACK_APP_TOKEN"] not in "\n".join(lines)
    # HTTP mode does not use the app-level token, so it does not check it.
    code, lines = check(env, "--http")
    assert not [line for line in lines if "app token" in line]


def test_python_m_bot_check_runs_as_a_command(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeQuantConnect]
) -> None:
    dotenv = tmp_path / "empty.env"
    dotenv.write_text("# everything comes from the environment\n")
    env = {**os.environ, **good_env(tmp_path, fakes), "DOTENV_PATH": str(dotenv)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database" in result.stdout and "All checks passed" in result.stdout
