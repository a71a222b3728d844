"""`/qc stop-all` and its modal (callback `stop-all`): approvers only, typed confirmation, one at a time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.common import escape
from bot.blocks.stop_all import stop_all_modal
from bot.emergency import StopMode
from bot.errors import BotError
from bot.ids import Block, Callback
from bot.modal_state import read_state
from handlers.commands import CommandContext, subcommand
from handlers.views import update_view

if TYPE_CHECKING:
    from slack_bolt import Ack, App
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.stop_all")


@subcommand(
    "stop-all",
    "emergency: stop (or liquidate) every running deployment, after you type STOP (approvers only)",
    "/qc stop-all",
)
def stop_all(ctx: CommandContext) -> None:
    """Refuse non-approvers; open the modal at once, then list what runs (QuantConnect can be slow)."""
    ctx.ack()
    services = ctx.services
    decision = services.stop_all.may(StopMode.STOP, ctx.user_id)
    if not decision:
        ctx.tell(escape(decision.reason))
        return
    try:
        response = ctx.client.views_open(
            trigger_id=str(ctx.command.get("trigger_id") or ""), view=stop_all_modal(None)
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        log.warning("views.open failed for stop-all: %s", error)
        ctx.tell(f"Slack could not open the stop-all form ({escape(error)}); run `/qc stop-all` again.")
        return
    opened = response.get("view") or {}
    services.after_ack.submit(
        _list_running, ctx.client, services, str(opened.get("id") or ""), opened.get("hash")
    )


def _list_running(client: WebClient, services: Services, view_id: str, view_hash: str | None) -> None:
    try:
        view = stop_all_modal(services.stop_all.targets())
    except BotError as exc:
        view = stop_all_modal(None, error=exc.user_message)
    try:
        update_view(client, view_id, view_hash, view)
    except SlackApiError:
        log.warning("stop-all modal not updated", exc_info=True)


def parse_stop_all(state_values: Mapping[str, Any]) -> tuple[StopMode | None, dict[str, str]]:
    """The chosen mode, or errors by block id (the typed word must match the mode, in capitals)."""
    values = read_state(state_values)
    try:
        mode = StopMode(str(values.get(Block.STOP_ALL_MODE) or ""))
    except ValueError:
        return None, {Block.STOP_ALL_MODE.value: "Choose stop or liquidate."}
    typed = str(values.get(Block.STOP_ALL_CONFIRM) or "").strip()
    if typed != mode.word:
        return None, {
            Block.STOP_ALL_CONFIRM.value: f"Type {mode.word} (in capitals) to {mode.value} every running "
            "deployment. Nothing was stopped."
        }
    return mode, {}


def register(app: App, services: Services) -> None:
    """Register the stop-all modal's submission."""

    @app.view(Callback.STOP_ALL.value)
    def on_stop_all(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        mode, errors = parse_stop_all((view.get("state") or {}).get("values") or {})
        if mode is None:
            ack(response_action="errors", errors=errors)
            return
        decision = services.stop_all.may(mode, user_id)
        if not decision:
            ack(response_action="errors", errors={Block.STOP_ALL_CONFIRM.value: decision.reason[:1900]})
            return
        claim = services.stop_all.start(mode, user_id)
        if not claim.claimed:
            since = claim.started_at.strftime("%H:%M:%S UTC")
            busy = (
                f"A {claim.mode}-all started by Slack user {claim.started_by} at {since} is still running; "
                "its report follows in the deploy channel. Nothing more was stopped."
            )
            ack(response_action="errors", errors={Block.STOP_ALL_CONFIRM.value: busy})
            return
        log.info("stop-all started", extra={"user_id": user_id, "mode": mode.value})
        ack()
