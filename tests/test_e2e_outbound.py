"""End to end: nothing unsafe leaves the bot, whatever QuantConnect or a user puts into the text it shows.

Project names and QuantConnect's errors, build logs and live/read messages carrying `<!channel>`, `<!here>`
and a link are shown as text in every Slack call; QuantConnect errors that echo a credential (plain,
JSON-escaped, repr-escaped, URL-encoded) reach no Slack call, log line, database row or audit export, and
the marker left in their place names the field.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from bot import audit_export
from bot.brokerages import registry
from bot.forms import DeployForm
from bot.ids import Action, Block, Callback
from bot.logging_setup import JsonFormatter, TextFormatter
from bot.store import DeployRequest, RequestStatus
from tests.fakes.fake_quantconnect import FAKE_LEAN_VERSION
from tests.fakes.slack_requests import app_home_opened_event
from tests.support.bot import APPROVERS, DEPLOY_CHANNEL, REQUESTER, BotHarness, running_bot
from tests.support.examples import EXAMPLE_PROFILES, example_profiles
from tests.support.flows import quick, wait_for, wait_live_status
from tests.support.outbound import call_bodies, foreign_sequences, leaked_spellings

S = RequestStatus
APPROVER = APPROVERS[0]
EVIL = "Alpha <!channel> <!here> <https://evil.example|Approve here>"
EVIL_ERRORS = [
    "<!channel> Brokerage login failed: <https://evil.example|Approve here>",
    "see <!here> & retry",
]

# A profile whose values differ in every spelling: quotes, slash, ampersand, angle brackets, non-ASCII, plus.
USER_NAME = "trader.joe+1@desk"
PASSWORD = 'c0rrect horse$battery "quoted"/é&<x>'
ACCOUNT = "DU7654321"
ECHO_PROFILES = {
    **example_profiles(),
    "ib-echo": (
        "InteractiveBrokersBrokerage",
        {"ib-user-name": USER_NAME, "ib-password": PASSWORD, "ib-account": ACCOUNT},
    ),
}
SECRETS = (USER_NAME, PASSWORD, ACCOUNT)


def request_for(
    bot: BotHarness,
    name: str,
    arrange: Callable[[int], None] = lambda _pid: None,
    *,
    model_key: str = "QuantConnectSettings",
    profile: str = "quantconnect",
    settings: dict[str, Any] | None = None,
    reason: str = "e2e",
) -> DeployRequest:
    """Create and announce a request for a fresh project, QuantConnect's behaviour arranged first."""
    project_id = bot.qc.add_project(name)
    arrange(project_id)
    model = registry.get(model_key)
    form = DeployForm(
        model_key=model_key,
        profile=profile,
        project_id=project_id,
        project_name=name,
        settings=model.validate_settings(
            settings if settings is not None else EXAMPLE_PROFILES[model_key][0]
        ),
        reason=reason,
        version_id=str(FAKE_LEAN_VERSION),
    )
    request = bot.services.requests.create(form, requester_id=REQUESTER)
    bot.services.requests.announce(request)
    return request


def answer(bot: BotHarness, response: httpx.Response) -> dict[str, Any]:
    """An acknowledgement's JSON body (empty when Slack got a bare 200)."""
    assert response.status_code == 200
    return json.loads(response.text) if response.text else {}


def command(bot: BotHarness, text: str, user: str = APPROVER) -> dict[str, Any]:
    """Type `/qc <text>` and return the acknowledgement's body."""
    assert bot.sender is not None
    return answer(bot, bot.sender.command(text, user_id=user, channel_id=DEPLOY_CHANNEL))


def settled(bot: BotHarness) -> None:
    assert bot.services.notifier.flush(20)


def test_user_and_quantconnect_text_never_becomes_a_mention_or_a_link(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=example_profiles()) as bot:
        quick(bot)
        acks: list[dict[str, Any]] = []
        # Compile: a build log; deploy: live/create refused; after deploy: live/read's DeployError message.
        built = request_for(bot, f"{EVIL} build", lambda pid: bot.qc.build_error(pid, EVIL_ERRORS))
        wait_for(bot, built.id, {S.FAILED})
        refused = request_for(bot, f"{EVIL} refused", lambda _pid: bot.qc.refuse("live/create", EVIL_ERRORS))
        wait_for(bot, refused.id, {S.FAILED})
        crashed = request_for(
            bot, f"{EVIL} crashed", lambda pid: bot.qc.deploy_error_after(pid, 2, EVIL_ERRORS[0])
        )
        wait_for(bot, crashed.id, {S.FAILED})
        # A running algorithm whose status messages carry the same text, then every command about it.
        live = request_for(bot, f"{EVIL} live")
        wait_live_status(bot, live.id, "Running")
        bot.qc.set_status(live.project_id, "Initializing", message=EVIL_ERRORS[1])
        wait_live_status(bot, live.id, "Initializing")
        bot.qc.set_status(live.project_id, "Running", message=EVIL_ERRORS[0])
        wait_live_status(bot, live.id, "Running")
        for text in (
            "status",
            f"status {live.project_id}",
            f"liquidate {EVIL} live",
            "audit",
            f"audit {live.id}",
            "<!channel>",
            "stop <!here> <https://evil.example|nowhere>",
            f"stop {live.project_id}",
        ):
            acks.append(command(bot, text))
        wait_for(bot, live.id, {S.ENDED})
        # A real-money request waiting for approval: card, Home tab, Preview and the reject modal and note.
        pending = request_for(
            bot,
            f"{EVIL} pending",
            model_key="InteractiveBrokersSettings",
            profile="interactivebrokers",
            settings={"ib-trading-mode": "live", "ib-weekly-restart-utc-time": "21:00:00"},
            reason=f"because {EVIL}",
        )
        assert bot.sender is not None
        assert bot.sender.event(app_home_opened_event(APPROVER)).status_code == 200
        for action in (Action.PREVIEW, Action.REJECT):
            acks.append(
                answer(
                    bot, bot.sender.action(action, pending.id, user_id=APPROVER, channel_id=DEPLOY_CHANNEL)
                )
            )
        bot.slack.wait_for(
            "views.open",
            lambda call: call.body["view"].get("callback_id") == Callback.REJECT_REASON.value,
            timeout=20,
        )
        reject_view = bot.slack.last_view(Callback.REJECT_REASON.value)
        acks.append(
            answer(
                bot,
                bot.sender.submit(
                    reject_view, {Block.REJECT_REASON.value: {"value": EVIL}}, user_id=APPROVER
                ),
            )
        )
        wait_for(bot, pending.id, {S.REJECTED})
        settled(bot)

        bodies = call_bodies(bot.slack.calls) + acks
        assert foreign_sequences(bodies) == []
        # Shown as text, not dropped: the escaped name reached the card, the thread and the Home tab.
        sent = bot.slack.all_text()
        assert "Alpha &lt;!channel&gt; &lt;!here&gt; &lt;https://evil.example|Approve here&gt;" in sent
        assert "&lt;!channel&gt; Brokerage login failed" in sent
        methods = {call.method for call in bot.slack.calls}
        assert {
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "views.publish",
            "views.open",
        } <= methods
    # running_bot has also checked that the outbound guard never had to step in: the builders escaped it all.


@contextmanager
def formatted_logs() -> Iterator[list[io.StringIO]]:
    """Every log line of the test in the bot's text and JSON formats, as production writes them."""
    root = logging.getLogger()
    streams = [io.StringIO(), io.StringIO()]
    handlers = [logging.StreamHandler(stream) for stream in streams]
    handlers[0].setFormatter(TextFormatter())
    handlers[1].setFormatter(JsonFormatter())
    saved = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield streams
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(saved)


def database_text(bot: BotHarness) -> str:
    """Every row of every table of the bot's SQLite file, read with sqlite3 rather than through the store."""
    path = bot.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')
        )


def exported(bot: BotHarness, tmp_path: Path, fmt: str) -> str:
    out = tmp_path / f"audit.{fmt}"
    code = audit_export.main(
        ["--since", "2000-01-01", "--format", fmt, "--output", str(out)],
        environ={"DATABASE_URL": bot.env["DATABASE_URL"]},
    )
    assert code == 0
    return out.read_text(encoding="utf-8")


def test_credentials_echoed_by_quantconnect_are_masked_everywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echoes = [
        f"Login failed for user {USER_NAME} on account {ACCOUNT}",
        "Request was " + json.dumps({"ib-user-name": USER_NAME, "ib-password": PASSWORD}),
        f"GET /login?user={quote_plus(USER_NAME)}&password={quote(PASSWORD, safe='')}&next={quote(PASSWORD)}",
        f"settings: {{'ib-password': {PASSWORD!r}}}",
    ]
    ib = {
        "model_key": "InteractiveBrokersSettings",
        "profile": "ib-echo",
        "settings": EXAMPLE_PROFILES["InteractiveBrokersSettings"][0],
    }
    with formatted_logs() as (text_log, json_log), running_bot(tmp_path, profiles=ECHO_PROFILES) as bot:
        quick(bot)
        refused = request_for(bot, "Echo refused", lambda _p: bot.qc.refuse("live/create", echoes), **ib)
        wait_for(bot, refused.id, {S.FAILED})
        built = request_for(bot, "Echo build", lambda pid: bot.qc.build_error(pid, echoes), **ib)
        wait_for(bot, built.id, {S.FAILED})
        crashed = request_for(
            bot, "Echo login", lambda pid: bot.qc.deploy_error_after(pid, 2, " / ".join(echoes)), **ib
        )
        wait_for(bot, crashed.id, {S.FAILED})
        # Someone pastes a credential into a command: the acknowledgement itself is masked.
        ack = command(bot, USER_NAME)
        settled(bot)

        slack_text = bot.slack.all_text()
        per_string = json.dumps(call_bodies(bot.slack.calls), ensure_ascii=False)
        db_text = database_text(bot)
        stored_errors = bot.services.store.get_request(refused.id).errors  # type: ignore[union-attr]
        logs = caplog.text + text_log.getvalue() + json_log.getvalue()
        csv_text, json_text = exported(bot, tmp_path, "csv"), exported(bot, tmp_path, "json")

    for where, text in {
        "Slack": slack_text + per_string + json.dumps(ack),
        "logs": logs,
        "database": db_text,
        "CSV export": csv_text,
        "JSON export": json_text,
    }.items():
        assert leaked_spellings(SECRETS, text) == [], f"a credential reached the {where}"
    # The marker names the field, so a reader still knows what the error was about.
    for text in (slack_text, db_text, json_text):
        assert "***ib-user-name***" in text and "***ib-password***" in text and "***ib-account***" in text
    assert stored_errors[0] == "Login failed for user ***ib-user-name*** on account ***ib-account***"
    assert ack["text"].startswith("I don't know `/qc ***ib-user-name***`")
