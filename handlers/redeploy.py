"""Redeploy: the card's Redeploy button and `/qc redeploy <project>` open the deploy modal with the earlier
request's choices; the submission is a new request with its own approval (handlers/views.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.common import escape
from bot.blocks.modal import deploy_modal
from bot.errors import BotError
from bot.ids import Action
from bot.redeploy import check_redeployable, redeploy_inputs, request_to_redeploy
from handlers.actions import button_value
from handlers.after_ack import run_after_ack
from handlers.commands import CommandContext, subcommand
from handlers.deploy_command import fill_in

if TYPE_CHECKING:
    from slack_bolt import Ack, App, BoltContext, Respond
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.redeploy")


def open_redeploy(
    client: WebClient,
    services: Services,
    named: str,
    *,
    trigger_id: str,
    channel_id: str,
    tell: Callable[[str], None],
) -> None:
    """Open the modal for the named request (store reads only); the slow parts follow once it is open."""
    try:
        request = request_to_redeploy(services.store, named)
        check_redeployable(request)
        inputs = redeploy_inputs(
            request, channel_id=channel_id, deploy_channel_id=services.settings.deploy_channel_id
        )
    except BotError as exc:
        tell(escape(exc.user_message))
        return
    try:
        response = client.views_open(trigger_id=trigger_id, view=deploy_modal(inputs))
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        log.warning("views.open failed for redeploy: %s", error)
        tell(f"Slack could not open the redeploy form ({escape(error)}); try again.")
        return
    opened = response.get("view") or {}
    view_id, view_hash = str(opened.get("id") or ""), opened.get("hash")
    run_after_ack(services.after_ack, tell, lambda: fill_in(client, services, inputs, view_id, view_hash))


@subcommand(
    "redeploy",
    "open the deploy form with a project's last request filled in (a new request, approved anew)",
    "/qc redeploy Momentum",
)
def redeploy(ctx: CommandContext) -> None:
    """Acknowledge, then open the modal with the project's last request (trigger ids live 3 s)."""
    ctx.ack()
    open_redeploy(
        ctx.client,
        ctx.services,
        ctx.args,
        trigger_id=str(ctx.command.get("trigger_id") or ""),
        channel_id=ctx.channel_id,
        tell=ctx.tell,
    )


def register(app: App, services: Services) -> None:
    """Register the card's Redeploy button."""

    @app.action(Action.REDEPLOY.value)
    def on_redeploy(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
    ) -> None:
        ack()
        open_redeploy(
            client,
            services,
            button_value(action),
            trigger_id=str(body.get("trigger_id") or ""),
            channel_id=context.channel_id or services.settings.deploy_channel_id,
            tell=lambda text: respond(text),
        )
