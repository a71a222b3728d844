"""App Home: the pure builder within Slack's limits, and the tab published and used through the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.blocks.card import request_card
from bot.blocks.home import MAX_PENDING_SHOWN, MAX_RUNNING_SHOWN, PendingItem, RunningItem, home_view
from bot.ids import Action, Block
from bot.store import Deployment, DeployRequest, RequestStatus
from tests.fakes.fake_slack import view_errors
from tests.fakes.slack_requests import app_home_opened_event
from tests.support.bot import BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask
from tests.support.requests import stored_request

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
S = RequestStatus


def make_request(index: int = 1, **overrides: Any) -> DeployRequest:
    """A stored-looking request, numbered by `index`; `overrides` change any column."""
    values: dict[str, Any] = {
        "id": f"r-{index:08d}",
        "project_id": 1000 + index,
        "project_name": f"Momentum <{index}> & Co",
        "settings": {"ib-trading-mode": "live"},
        "reason": "Rebalance " * 40,
        "approvals_needed": 1,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(minutes=60),
    }
    return stored_request(**{**values, **overrides})


def deployment(request: DeployRequest, status: str) -> Deployment:
    """The deployment row of a live request."""
    return Deployment(
        request_id=request.id,
        project_id=request.project_id,
        deploy_id=f"L-{request.id}",
        status=status,
        message=None,
        launched=NOW,
        stopped=None,
        created_at=NOW,
        updated_at=NOW,
        next_poll_at=None,
        lease_owner=None,
        lease_since=None,
    )


def view_text(view: dict[str, Any]) -> str:
    """Every text of a view, joined (to look for what a reader sees)."""
    import json

    return json.dumps(view["blocks"], ensure_ascii=False)


def action_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions blocks of a view."""
    return [b for b in view["blocks"] if b["type"] == "actions"]


def test_home_carries_the_cards_own_buttons_for_each_pending_request() -> None:
    pending = [PendingItem(make_request(i), [], "Interactive Brokers") for i in (1, 2)]
    view = home_view(
        viewer_id="UAPPROVER1",
        is_approver=True,
        pending=pending,
        running=[],
        finished=[],
        channel_id="CDEPLOY",
        now=NOW,
    )
    assert view_errors(view) == []
    actions = action_blocks(view)
    assert [b["block_id"] for b in actions] == [
        f"{Block.REQUEST_ACTIONS.value}:r-00000001",
        f"{Block.REQUEST_ACTIONS.value}:r-00000002",
    ]
    _, card = request_card(pending[0].request, approvals=[], model_name="Interactive Brokers", now=NOW)
    card_buttons = next(b for b in card if b.get("block_id") == Block.REQUEST_ACTIONS)["elements"]
    by_id = {e["action_id"]: e for e in card_buttons}
    home_buttons = actions[0]["elements"]
    assert {e["action_id"] for e in home_buttons} == {Action.APPROVE, Action.REJECT, Action.PREVIEW}
    for element in home_buttons:
        # Same ids, values and confirm dialogs as the card in the channel.
        assert element == by_id[element["action_id"]]
        assert element["value"] == "r-00000001"


def test_home_stays_within_100_blocks_and_summarizes_the_overflow() -> None:
    pending = [PendingItem(make_request(i), ["UAPPROVER2"], "Interactive Brokers") for i in range(1, 53)]
    live = [make_request(100 + i, status=S.LIVE, deploy_id=f"L-{i}") for i in range(60)]
    running = [RunningItem(r, deployment(r, "Running"), "Interactive Brokers") for r in live]
    finished = [
        make_request(
            300 + i,
            status=S.FAILED,
            errors=("Brokerage login failed " * 30,),
            project_name="A very long project name " * 4,
        )
        for i in range(20)
    ]
    view = home_view(
        viewer_id="UAPPROVER1",
        is_approver=True,
        pending=pending,
        running=running,
        finished=finished,
        channel_id="CDEPLOY",
        now=NOW,
    )
    assert len(view["blocks"]) <= 100
    assert view_errors(view) == []
    text = view_text(view)
    assert f"and {52 - MAX_PENDING_SHOWN} more pending — see <#CDEPLOY>" in text
    assert f"and {60 - MAX_RUNNING_SHOWN} more running — see <#CDEPLOY>" in text
    assert len(action_blocks(view)) == MAX_PENDING_SHOWN
    # Every one of the 20 finished requests is listed.
    assert all(f"r-{300 + i:08d}" in text for i in range(20))


def test_approvers_see_which_replica_holds_which_work() -> None:
    lines = ["host-a-1-abc: up since 2026-11-30 12:00:00 UTC; deploying r-00000001 (A <b>) since …"]
    kwargs = {"pending": [], "running": [], "finished": [], "channel_id": "CDEPLOY", "now": NOW}
    approver = home_view(viewer_id="UAPPROVER1", is_approver=True, holders=lines, **kwargs)  # type: ignore[arg-type]
    assert view_errors(approver) == []
    text = view_text(approver)
    assert "Bot replicas and the work they hold" in text and "deploying r-00000001 (A &lt;b&gt;)" in text


def test_home_for_someone_who_is_not_an_approver_has_no_buttons() -> None:
    running = [RunningItem(make_request(5, status=S.COMPILING), None, "Interactive Brokers")]
    finished = [make_request(6, status=S.REJECTED, decided_by="UAPPROVER2")]
    view = home_view(
        viewer_id="UTRADER",
        is_approver=False,
        pending=[],
        running=running,
        finished=finished,
        channel_id="CDEPLOY",
        now=NOW,
        pending_elsewhere=3,
    )
    assert view_errors(view) == []
    assert action_blocks(view) == []
    text = view_text(view)
    assert "you are not an approver" in text and "3 request(s) are pending" in text
    assert "compiling" in text and "rejected by <@UAPPROVER2>" in text
    assert "&lt;5&gt; &amp; Co" in text  # project names are escaped


# -- through the running bot -----------------------------------------------------------------------------


def open_home(bot: BotHarness, user_id: str) -> dict[str, Any]:
    """Send app_home_opened for `user_id` and return the Home tab Slack then holds."""
    assert bot.sender is not None
    before = len(bot.slack.calls_to("views.publish"))
    assert bot.sender.event(app_home_opened_event(user_id)).status_code == 200
    bot.slack.wait_for(
        "views.publish",
        lambda c: c.body.get("user_id") == user_id and len(bot.slack.calls_to("views.publish")) > before,
    )
    home = bot.slack.home(user_id)
    assert home is not None
    return home


def test_app_home_lists_pending_and_an_approve_click_from_home_counts(tmp_path: Path) -> None:
    with running_bot(tmp_path, profiles=IB_PROFILES) as bot:
        first = ask(bot, "Alpha Momentum")
        ask(bot, "Beta Carry", requester="UAPPROVER1")
        home = open_home(bot, "UAPPROVER1")
        text = view_text(home)
        assert "Alpha Momentum" in text
        # Their own request is not theirs to approve (self-approval is off by default).
        assert [b["block_id"] for b in action_blocks(home)] == [f"{Block.REQUEST_ACTIONS.value}:{first.id}"]

        assert bot.sender is not None
        bot.sender.action(Action.APPROVE.value, first.id, user_id="UAPPROVER1", view=home)
        live = bot.slack.wait_for("chat.update", lambda c: "Running" in str(c.body.get("text")), timeout=15)
        assert live.body["channel"] == "CDEPLOY"
        assert bot.services.store.approvals(first.id) == ["UAPPROVER1"]

        home = open_home(bot, "UAPPROVER1")
        assert action_blocks(home) == []
        assert "Alpha Momentum" in view_text(home) and "Running deployments (1)" in view_text(home)

        trader_home = open_home(bot, "UTRADER")
        assert "you are not an approver" in view_text(trader_home)
