"""The Slack clients the bot sends with: every Web API call and response_url post passes the outbound filter.

Filtering in the client rather than in each caller means no message, block or view can bypass it: the
notifier, the handlers (Bolt hands listeners this client), Bolt's `say`, and any call added later.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.blocks.outbound import outbound_payload
from bot.slack_transport import PooledWebClient


class OutboundWebClient(PooledWebClient):
    """The pooled Web API client whose request arguments are masked and mrkdwn-guarded before sending."""

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        """Send a Web API call after the outbound filter; the token authenticating the call is left alone.

        The token travels in the headers, or as a `token` argument (slack_sdk sends the app-level token of
        apps.connections.open that way): it is the call's credential for Slack, not content to mask.
        """
        return super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=_filtered(data, api_method),
            params=_filtered(params, api_method),
            json=_filtered(json, api_method),
            headers=headers,
            auth=auth,
        )


def _filtered(arguments: dict[str, Any] | None, api_method: str) -> dict[str, Any] | None:
    """The call's arguments after the outbound filter, its own `token` argument untouched."""
    if arguments is None:
        return None
    content = {key: value for key, value in arguments.items() if key != "token"}
    filtered = outbound_payload(content, where=api_method)
    return {**filtered, "token": arguments["token"]} if "token" in arguments else filtered


class OutboundWebhookClient(WebhookClient):
    """A response_url client whose messages pass the outbound filter."""

    def send_dict(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> WebhookResponse:
        """Post a message to the response_url after the outbound filter."""
        return super().send_dict(outbound_payload(body, where="response_url"), headers)
