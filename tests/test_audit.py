"""The audit trail: readable lines, `/qc audit`, and `python -m bot audit` telling each request's story."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.audit_export import main, parse_moment
from bot.blocks.audit import event_line
from bot.ids import Action, Block
from bot.store import AuditEvent, NewRequest, RequestStatus, Store
from tests.support.bot import BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, click, status_of
from tests.support.waiting import eventually

S = RequestStatus
T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def new_request(project_id: int, requester: str = "UREQUESTER") -> NewRequest:
    """A minimal request for the store."""
    return NewRequest(
        project_id=project_id,
        project_name=f"Project {project_id}",
        model_key="QuantConnectSettings",
        brokerage_id="QuantConnectBrokerage",
        profile="paper",
        version_id="-1",
        node_id=None,
        settings={},
        holdings=[],
        cash=[],
        data_providers=("QuantConnectBrokerage",),
        automatic_redeploy=False,
        reason="Test <run> & check",
        requester_id=requester,
        is_paper=True,
        approvals_needed=1,
        channel_id="CDEPLOY",
        expires_at=T0 + timedelta(hours=1),
    )


def test_event_line_is_readable_and_escaped() -> None:
    event = AuditEvent(
        id=7,
        at=T0,
        request_id="r-1234abcd",
        project_id=42,
        actor="UAPPROVER1",
        action="rejected",
        detail={"status": "rejected", "note": "Wrong <mode> &\nsize", "empty": None},
    )
    line = event_line(event)
    assert line == (
        "`2026-11-01 09:30:00 UTC` <@UAPPROVER1> *rejected* `r-1234abcd` — status=rejected, "
        "note=Wrong &lt;mode&gt; &amp; size"
    )
    bot_event = event.model_copy(update={"actor": "watcher", "request_id": None, "detail": {}})
    assert event_line(bot_event) == "`2026-11-01 09:30:00 UTC` _watcher_ *rejected* project `42`"


def test_parse_moment_dates_are_utc_and_until_covers_the_day() -> None:
    assert parse_moment("2026-11-01") == T0.replace(hour=0, minute=0)
    assert parse_moment("2026-11-01", end_of_day=True) == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_moment("2026-11-01T09:30:00Z") == T0
    assert parse_moment("2026-11-01T10:30:00+01:00") == T0


def run_export(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    """Run `python -m bot audit` in-process with only DATABASE_URL set."""
    code = main(list(args), environ={"DATABASE_URL": url})
    out, err = capsys.readouterr()
    return code, out, err


def test_export_filters_by_time_and_project_in_csv_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    store = Store(url)
    first = store.create_request(new_request(1), now=T0)
    store.add_approval(first.id, "UAPPROVER1", now=T0 + timedelta(minutes=5))
    store.create_request(new_request(2), now=T0 + timedelta(days=1))
    store.add_event(
        "UAPPROVER2", "stop", project_id=1, detail={"project_name": "Project 1"}, now=T0 + timedelta(days=3)
    )
    store.dispose()

    code, out, _ = run_export(
        capsys, url, "--since", "2026-11-01", "--until", "2026-11-01", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("UREQUESTER", "requested"),
        ("UAPPROVER1", "approved"),
    ]
    assert (
        rows[0]["at"] == "2026-11-01T09:30:00+00:00" and rows[0]["detail"]["reason"] == "Test <run> & check"
    )

    code, out, _ = run_export(capsys, url, "--since", "2026-11-01", "--project", "1", "--format", "csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["action"] for r in table] == ["requested", "approved", "stop"]
    assert json.loads(table[2]["detail"]) == {"project_name": "Project 1"}

    out_file = tmp_path / "out.json"
    code, out, err = run_export(
        capsys, url, "--since", "2026-11-02", "--format", "json", "--output", str(out_file)
    )
    assert code == 0 and out == "" and "Wrote 2 audit events" in err
    assert [r["project_id"] for r in json.loads(out_file.read_text())] == [2, 1]


def test_export_refuses_bad_dates_and_a_database_without_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    code, _, err = run_export(capsys, url, "--since", "November")
    assert code == 2 and "'November' is not a date" in err
    code, _, err = run_export(capsys, url, "--since", "2026-11-02", "--until", "2026-11-01T00:00:00")
    assert code == 2 and "--until must be after --since" in err
    code, _, err = run_export(capsys, url, "--since", "2026-11-01")
    assert code == 1 and "no current bot schema" in err


# -- the whole story, through the running bot -------------------------------------------------------------


def story(rows: list[dict[str, Any]], request_id: str) -> list[tuple[str, str]]:
    """(actor, action) of one request's events, in export order."""
    return [(r["actor"], r["action"]) for r in rows if r["request_id"] == request_id]


def test_exported_story_of_each_request_is_complete_and_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_bot(tmp_path, profiles=IB_PROFILES) as bot:
        store = bot.services.store
        # 1. Asked, approved, deployed, watched to Running, stopped by another approver.
        live = ask(bot, "Alpha Momentum")
        click(bot, Action.APPROVE, live.id, "UAPPROVER1")
        eventually(
            lambda: (d := store.get_deployment(live.id)) is not None and d.status == "Running", what="Running"
        )
        click(bot, Action.STOP, live.id, "UAPPROVER2")
        eventually(lambda: status_of(bot, live.id) is S.ENDED, what="ended")

        # 2. Asked and rejected with a reason typed into the reject modal.
        rejected = ask(bot, "Beta Carry")
        click(bot, Action.REJECT, rejected.id, "UAPPROVER2")
        modal = bot.slack.wait_for("views.open").body["view"]
        assert bot.sender is not None
        bot.sender.submit(
            modal, {Block.REJECT_REASON.value: {Action.VALUE.value: "Wrong size"}}, user_id="UAPPROVER2"
        )
        eventually(lambda: status_of(bot, rejected.id) is S.REJECTED, what="rejected")

        # 3. Asked, approved, and failed to build.
        failed = ask(bot, "Gamma Breakout")
        bot.qc.build_error(failed.project_id, ["Main.cs(12,5): error CS1002: ; expected"])
        click(bot, Action.APPROVE, failed.id, "UAPPROVER1")
        eventually(lambda: status_of(bot, failed.id) is S.FAILED, what="failed")

        # Slash command: the trail of one project, readable, only to the asker (an approver).
        text = json.dumps(audit_reply(bot, f"audit {live.project_id}", "UAPPROVER1").get("blocks"))
        assert "<@UREQUESTER> *requested*" in text and "<@UAPPROVER2> *stop*" in text
        assert f"`{live.id}`" in text and "status:Running" in text
        unknown = audit_reply(bot, "audit No Such Project", "UAPPROVER1")
        assert "I know no request for a project called *No Such Project*" in unknown["text"]
        by_name = audit_reply(bot, "audit beta carry", "UAPPROVER1")
        assert "Wrong size" in json.dumps(by_name["blocks"])
        url = bot.settings.database_url
        bot.services.notifier.flush()

    today = datetime.now(UTC).date().isoformat()
    out_file = tmp_path / "audit.json"
    code, _, _ = run_export(capsys, url, "--since", today, "--format", "json", "--output", str(out_file))
    assert code == 0
    rows = json.loads(out_file.read_text())
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)

    live_story = story(rows, live.id)
    expected_live = [
        ("UREQUESTER", "requested"),
        ("UAPPROVER1", "approved"),
        ("bot", "compile_started"),
        ("bot", "build_succeeded"),
        ("bot", "node_chosen"),
        ("bot", "deploying"),
        ("bot", "deployed"),
        ("bot", "status:LoggingIn"),
        ("bot", "status:Initializing"),
        ("bot", "status:Running"),
        ("UAPPROVER2", "stop"),
        ("bot", "status:Stopped"),
        ("watcher", "ended"),
    ]
    assert_in_order(live_story, expected_live)
    statuses = [action for _, action in live_story if action.startswith("status:")]
    assert len(statuses) == len(set(statuses)), "each status is recorded once"
    assert_in_order(story(rows, rejected.id), [("UREQUESTER", "requested"), ("UAPPROVER2", "rejected")])
    rejection = next(r for r in rows if r["request_id"] == rejected.id and r["action"] == "rejected")
    assert rejection["detail"]["note"] == "Wrong size"
    failed_story = story(rows, failed.id)
    assert_in_order(
        failed_story, [("UREQUESTER", "requested"), ("UAPPROVER1", "approved"), ("bot", "deploy_failed")]
    )
    failure = next(r for r in rows if r["request_id"] == failed.id and r["action"] == "deploy_failed")
    assert "CS1002" in json.dumps(failure["detail"])
    # Credentials never reach the trail.
    assert "fake-ib-password" not in out_file.read_text()


def audit_reply(bot: BotHarness, text: str, user: str) -> dict[str, Any]:
    """Type `/qc <text>` as `user` and return the private answer that follows the acknowledgement."""
    assert bot.sender is not None
    before = len(bot.slack.ephemerals(user))
    assert bot.sender.command(text, user_id=user).status_code == 200
    return eventually(
        lambda: (told := bot.slack.ephemerals(user)) and len(told) > before and told[-1],
        what=f"the answer to /qc {text}",
    )


def assert_in_order(actual: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    """Every expected (actor, action) occurs in `actual`, in this order."""
    position = 0
    for step in expected:
        try:
            position = actual.index(step, position) + 1
        except ValueError:
            raise AssertionError(f"{step} missing after position {position} in {actual}") from None
