"""Card buttons: approve, reject (with its reason modal), cancel and preview. Thin: parse, ack, hand off."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.card import reject_modal
from bot.blocks.common import escape
from bot.blocks.preview import preview_modal
from bot.ids import Action, Block, Callback
from handlers.after_ack import run_after_ack

if TYPE_CHECKING:
    from slack_bolt import Ack, App, BoltContext, Respond
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.actions")

REASON_ERROR_LIMIT = 1900


def button_value(action: dict[str, Any]) -> str:
    """The clicked button's value: a request id (or a project id for deployments the bot did not make)."""
    return str(action.get("value") or "").strip()


def open_view(client: WebClient, respond: Respond, trigger_id: str, view: dict[str, Any], what: str) -> None:
    """views.open; when Slack refuses, the person is told why and what to do."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "no answer"
        log.warning("views.open failed", extra={"error": error, "what": what})
        respond(f"Slack could not open the {what} ({escape(str(error))}); click the button again.")


def register(app: App, services: Services) -> None:
    """Register the card buttons and the reject-reason modal."""
    requests = services.requests

    def tell(respond: Respond, message: str) -> None:
        if message:
            respond(message)

    @app.action(Action.APPROVE.value)
    def approve(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        request_id, user_id = button_value(action), context.user_id or ""
        # The vote, its card refresh and the deployer hand-off run on the decisions pool (handlers/after_ack).
        run_after_ack(services.decisions, respond, lambda: requests.approve(request_id, user_id).message)

    @app.action(Action.CANCEL.value)
    def cancel(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        request_id, user_id = button_value(action), context.user_id or ""
        run_after_ack(services.decisions, respond, lambda: requests.cancel(request_id, user_id).message)

    @app.action(Action.REJECT.value)
    def reject(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
    ) -> None:
        ack()
        request_id = button_value(action)
        # Refuse before the modal opens, so nobody types a reason that cannot be used.
        outcome = requests.may_reject(request_id, context.user_id or "")
        if not outcome.changed or outcome.request is None:
            tell(respond, outcome.message)
            return
        metadata = json.dumps(
            {
                "request_id": request_id,
                "channel_id": context.channel_id or services.settings.deploy_channel_id,
            }
        )
        view = reject_modal(outcome.request, private_metadata=metadata)
        open_view(client, respond, str(body.get("trigger_id") or ""), view, "reject form")

    @app.view(Callback.REJECT_REASON.value)
    def reject_submitted(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        request_id = str(metadata.get("request_id") or "")
        state = (view.get("state") or {}).get("values") or {}
        note = ((state.get(Block.REJECT_REASON.value) or {}).get(Action.VALUE.value) or {}).get("value")
        outcome = requests.reject(request_id, context.user_id or "", note)
        if outcome.changed:
            ack()
            return
        # Shown inside the modal, where the approver is looking.
        ack(
            response_action="errors",
            errors={Block.REJECT_REASON.value: (outcome.message or "Nothing changed.")[:REASON_ERROR_LIMIT]},
        )

    @app.action(Action.PREVIEW.value)
    def preview(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
    ) -> None:
        ack()
        # Raises a BotError for anyone but approvers and the requester; the error handler tells them.
        result = requests.preview(button_value(action), context.user_id or "")
        view = preview_modal(
            result.request, model_name=result.model_name, body=result.body, problems=result.problems
        )
        open_view(client, respond, str(body.get("trigger_id") or ""), view, "preview")
