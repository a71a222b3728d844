"""Thin Slack listeners: parse, authorize, ack within 3 s, hand off to bot services."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.services import Services


def register(app: App, services: Services) -> None:
    """Register every listener module on the app."""
    from handlers import actions, commands, home, live_actions, redeploy, stop_all, views

    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    live_actions.register(app, services)
    redeploy.register(app, services)
    stop_all.register(app, services)
    home.register(app, services)
