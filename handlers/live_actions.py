"""The Stop and Liquidate buttons (card and `/qc liquidate` reply): ack at once, then act through LiveOps."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.ids import Action

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.live_ops import LiveOpResult
    from bot.services import Services

log = logging.getLogger("bot.handlers.live_actions")


def clicked_by(body: dict[str, Any]) -> str:
    """The user who clicked."""
    return str((body.get("user") or {}).get("id", ""))


def clicked_in(body: dict[str, Any], default: str) -> str:
    """The channel of the clicked message (the deploy channel when Slack does not say)."""
    return str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or default
    )


def button_value(action: dict[str, Any]) -> str:
    """The button's value: a request id (or a project id for deployments the bot did not make)."""
    return str(action.get("value") or "").strip()


def register(app: App, services: Services) -> None:
    """Register the stop and liquidate button listeners."""

    def answer(body: dict[str, Any], result: LiveOpResult) -> None:
        channel = clicked_in(body, services.settings.deploy_channel_id)
        services.notifier.ephemeral(channel, clicked_by(body), result.message)

    @app.action(Action.STOP.value)
    def stop(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        # Slack's confirm dialog already asked; ack first, QuantConnect may take seconds.
        ack()
        result = services.live_ops.stop(button_value(action), clicked_by(body))
        log.info("stop button", extra={"user_id": clicked_by(body), "ok": result.ok})
        answer(body, result)

    @app.action(Action.LIQUIDATE.value)
    def liquidate(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        result = services.live_ops.liquidate(button_value(action), clicked_by(body))
        log.info("liquidate button", extra={"user_id": clicked_by(body), "ok": result.ok})
        answer(body, result)
