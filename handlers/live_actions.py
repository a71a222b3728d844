"""The Stop and Liquidate buttons (card and `/qc liquidate` reply): ack at once, then act through LiveOps."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.ids import Action
from handlers.actions import button_value

if TYPE_CHECKING:
    from slack_bolt import Ack, App, BoltContext, Respond

    from bot.services import Services

log = logging.getLogger("bot.handlers.live_actions")


def register(app: App, services: Services) -> None:
    """Register the stop and liquidate button listeners."""

    @app.action(Action.STOP.value)
    def stop(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        # Slack's confirm dialog already asked; ack first, QuantConnect may take seconds.
        ack()
        user_id = context.user_id or ""
        result = services.live_ops.stop(button_value(action), user_id)
        log.info("stop button", extra={"user_id": user_id, "ok": result.ok})
        respond(result.message)

    @app.action(Action.LIQUIDATE.value)
    def liquidate(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        user_id = context.user_id or ""
        result = services.live_ops.liquidate(button_value(action), user_id)
        log.info("liquidate button", extra={"user_id": user_id, "ok": result.ok})
        respond(result.message)
