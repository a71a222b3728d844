"""The App Home tab: published whenever a user opens it (bot/home.py builds it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt import App, BoltContext

    from bot.services import Services


def register(app: App, services: Services) -> None:
    """Publish the Home tab whenever a user opens it."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], context: BoltContext) -> None:
        if event.get("tab", "home") == "home" and context.user_id:
            services.home.publish(context.user_id)
