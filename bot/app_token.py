"""The app-level token (SLACK_APP_TOKEN): ask Slack for a Socket Mode URL, and say what a refusal means.

Used at start, to refuse to run with a token Slack will never accept, and by `python -m bot check`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import BotError

if TYPE_CHECKING:
    from slack_sdk import WebClient

_NEW_TOKEN = (
    "create an App-Level Token with the connections:write scope (app settings > Basic Information > "
    "App-Level Tokens) and put it in SLACK_APP_TOKEN"
)

# apps.connections.open errors that mean the token itself is unusable: waiting and retrying cannot help.
REFUSALS: dict[str, str] = {
    "not_authed": f"SLACK_APP_TOKEN is empty: {_NEW_TOKEN}",
    "invalid_auth": f"SLACK_APP_TOKEN is wrong or was revoked: {_NEW_TOKEN}",
    "token_revoked": f"SLACK_APP_TOKEN was revoked: {_NEW_TOKEN}",
    "token_expired": f"SLACK_APP_TOKEN has expired: {_NEW_TOKEN}",
    "account_inactive": f"the app or workspace behind SLACK_APP_TOKEN is inactive: {_NEW_TOKEN}",
    "not_allowed_token_type": (
        "SLACK_APP_TOKEN is not an app-level token (xapp-...), e.g. the bot token (xoxb-...) was pasted: "
        + _NEW_TOKEN
    ),
    "missing_scope": f"SLACK_APP_TOKEN lacks the connections:write scope: {_NEW_TOKEN}",
}


class AppTokenRefused(BotError):
    """Slack refused the app-level token, so Socket Mode cannot connect until someone replaces it."""

    def __init__(self, error: str) -> None:
        super().__init__(f"Slack refused SLACK_APP_TOKEN ({error}): {REFUSALS[error]}")
        self.error = error


def open_socket_url(client: WebClient, app_token: str) -> str:
    """A fresh Socket Mode URL from apps.connections.open; AppTokenRefused when Slack refuses the token.

    Other failures (Slack unreachable, a 5xx, rate limits) propagate as slack_sdk raises them: they pass.
    """
    from slack_sdk.errors import SlackApiError

    try:
        response = client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in REFUSALS:
            raise AppTokenRefused(error) from None
        raise
    return str(response["url"])
