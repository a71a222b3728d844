"""The running bot (bulk watching, the default) against the fakes: live/list, equity on the card, thread."""

from __future__ import annotations

from pathlib import Path

from bot.blocks.live_status import LIVE_STATUS_TEXT
from bot.ids import Action
from tests.support.bot import DEPLOY_CHANNEL, BotHarness, running_bot
from tests.support.examples import IB_PROFILES
from tests.support.flows import ask, click
from tests.support.waiting import eventually


def thread_texts(bot: BotHarness, card_ts: str) -> list[str]:
    return [str(reply.get("text") or "") for reply in bot.slack.thread(DEPLOY_CHANNEL, card_ts)]


def card_updates(bot: BotHarness, card_ts: str) -> list[str]:
    """The blocks of every chat.update of the card, as text."""
    return [
        str(call.body.get("blocks"))
        for call in bot.slack.calls_to("chat.update")
        if call.body.get("ts") == card_ts
    ]


def test_status_and_equity_reach_the_card_and_only_status_the_thread(tmp_path: Path) -> None:
    env = {"STATISTICS_REFRESH_SECONDS": "0.5"}
    with running_bot(tmp_path, env=env, profiles=IB_PROFILES) as bot:
        assert type(bot.services.watcher).__name__ == "BulkWatcher"
        request = ask(bot, "Curve Fit")
        click(bot, Action.APPROVE, request.id, "UAPPROVER1")
        store = bot.services.store
        eventually(
            lambda: (d := store.get_deployment(request.id)) is not None and d.status == "Running",
            what="the deployment to run",
        )
        card_ts = store.get_request(request.id).message_ts  # type: ignore[union-attr]
        assert card_ts is not None
        eventually(lambda: thread_texts(bot, card_ts)[-1:] == [LIVE_STATUS_TEXT["Running"]], what="Running")

        bot.qc.set_equity(request.project_id, 123456.789)
        eventually(
            lambda: any(
                "123,456.79" in blocks and "Equity from QuantConnect's live list as of <!date^" in blocks
                for blocks in card_updates(bot, card_ts)
            ),
            what="the equity on the card",
        )
        bot.qc.set_status(request.project_id, "PendingInput")
        # PendingInput needs a person: its reply is followed by an alert (issue 13) in the same thread.
        eventually(
            lambda: LIVE_STATUS_TEXT["PendingInput"] in thread_texts(bot, card_ts), what="PendingInput"
        )
        bot.services.notifier.flush()
        texts = thread_texts(bot, card_ts)
        assert not any("Equity " in text or "123,456" in text for text in texts)
        assert sum(text.startswith(LIVE_STATUS_TEXT["PendingInput"]) for text in texts) == 1
        # The watcher listed; it read live/read for the changes (LoggingIn, Initializing, Running,
        # PendingInput), the deployer's own looks and the runtime statistics (at most one per
        # STATISTICS_REFRESH_SECONDS, here 0.5 s), never once per pass (the list runs every 0.05 s here;
        # tests/test_bulk_watcher.py counts the reads exactly on a manual clock).
        lists = len(bot.qc.calls_to("live/list"))
        reads = [call for call in bot.qc.calls_to("live/read") if call.body.get("deployId")]
        assert lists > len(reads)
