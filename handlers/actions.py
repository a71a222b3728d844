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

if TYPE_CHECKING:
    from slack_bolt import Ack, App
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.actions")

REASON_ERROR_LIMIT = 1900


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _channel(body: dict[str, Any], services: Services) -> str:
    """The channel the card was clicked in (the deploy channel when Slack does not say)."""
    return str(
        (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or services.settings.deploy_channel_id
    )


def _value(action: dict[str, Any]) -> str:
    return str(action.get("value") or "")


def register(app: App, services: Services) -> None:
    """Register the card buttons and the reject-reason modal."""
    requests = services.requests
    notifier = services.notifier

    def tell(body: dict[str, Any], message: str) -> None:
        if message:
            notifier.ephemeral(_channel(body, services), _user(body), message)

    def open_view(client: WebClient, body: dict[str, Any], view: dict[str, Any], what: str) -> None:
        try:
            client.views_open(trigger_id=body.get("trigger_id"), view=view)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "no answer"
            log.warning("views.open failed", extra={"error": error, "what": what})
            tell(body, f"Slack could not open the {what} ({escape(str(error))}); click the button again.")

    @app.action(Action.APPROVE.value)
    def approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        outcome = requests.approve(_value(action), _user(body))
        tell(body, outcome.message)

    @app.action(Action.CANCEL.value)
    def cancel(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        outcome = requests.cancel(_value(action), _user(body))
        tell(body, outcome.message)

    @app.action(Action.REJECT.value)
    def reject(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        request_id = _value(action)
        # Refuse before the modal opens, so nobody types a reason that cannot be used.
        outcome = requests.may_reject(request_id, _user(body))
        if not outcome.changed or outcome.request is None:
            tell(body, outcome.message)
            return
        metadata = json.dumps({"request_id": request_id, "channel_id": _channel(body, services)})
        open_view(client, body, reject_modal(outcome.request, private_metadata=metadata), "reject form")

    @app.view(Callback.REJECT_REASON.value)
    def reject_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        request_id = str(metadata.get("request_id") or "")
        state = (view.get("state") or {}).get("values") or {}
        note = ((state.get(Block.REJECT_REASON.value) or {}).get(Action.VALUE.value) or {}).get("value")
        outcome = requests.reject(request_id, _user(body), note)
        if outcome.changed:
            ack()
            return
        # Shown inside the modal, where the approver is looking.
        ack(
            response_action="errors",
            errors={Block.REJECT_REASON.value: (outcome.message or "Nothing changed.")[:REASON_ERROR_LIMIT]},
        )

    @app.action(Action.PREVIEW.value)
    def preview(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        # Raises a BotError for anyone but approvers and the requester; the error handler tells them.
        result = requests.preview(_value(action), _user(body))
        view = preview_modal(
            result.request, model_name=result.model_name, body=result.body, problems=result.problems
        )
        open_view(client, body, view, "preview")
