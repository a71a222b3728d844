"""create_app(settings, services) -> slack_bolt.App: registers handlers and the one error handler."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookResponse

import handlers
from bot.blocks.common import escape
from bot.blocks.outbound import outbound_body
from bot.config import Settings
from bot.errors import BotError, user_facing_message
from bot.ids import Block, Callback
from bot.services import Services
from bot.slack_client import OutboundWebClient, OutboundWebhookClient

log = logging.getLogger("bot.app")

# Listeners keep their thread after ack() while they wait on Slack (views.open, views.update), and a request
# cannot even ack until a thread is free: Bolt's default 5 let acks miss Slack's 3 s, and 32 still queued
# /qc deploy acks behind views.open at C=20 (bench/ack_latency.py). The threads mostly wait on sockets.
LISTENER_THREADS = 128


class OutboundApp(App):
    """The Bolt app whose answers (ack bodies, error answers) pass the outbound filter, in either mode.

    Both adapters hand every request to `dispatch` and send back what it returns, so this is the one place
    an acknowledgement's text, blocks or view can be masked before Slack sees it.
    """

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        """Dispatch as Bolt does, then filter the answer's body."""
        response = super().dispatch(req)
        response.body = outbound_body(response.body, where="ack")
        return response


class OutboundRespond(Respond):
    """Bolt's `respond()` through the filtering response_url client."""

    def __call__(self, text: str | dict[str, Any] = "", **kwargs: Any) -> WebhookResponse:  # type: ignore[override]
        """Post to the request's response_url, as Bolt's respond() does, after the outbound filter."""
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        message = _build_message(**text) if isinstance(text, dict) else _build_message(text=text, **kwargs)
        client = OutboundWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl)
        return client.send_dict(message)


def build_slack_client(settings: Settings) -> WebClient:
    """A Web API client for SLACK_API_URL on kept-alive connections; waits out 429s, retries dropped ones.

    Every call's arguments pass the outbound filter (secrets masked, stray mrkdwn control sequences shown
    as text): see bot.slack_client.
    """
    client = OutboundWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=15,
        # Without one, every HTTPS call built a new default context (loading the CA bundle) per request.
        ssl=ssl.create_default_context(),
    )
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client


def create_app(settings: Settings, services: Services) -> App:
    """Build the Bolt app with every listener and the error handler; signature checks always on."""
    app = OutboundApp(
        client=services.slack,
        signing_secret=settings.slack_signing_secret.get_secret_value() or None,
        request_verification_enabled=True,
        # auth.test at construction would make start-up depend on Slack being reachable.
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"),
        logger=logging.getLogger("bot.bolt"),
    )

    @app.middleware
    def use_pooled_client(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        """Listeners call Slack through the bot's pooled client, not the one-off urllib client Bolt makes.

        Bolt builds a new WebClient per request (so that an app may swap its token), and that client opens
        a new connection for every call. This bot has one static token and never changes it on a client.
        """
        context["client"] = services.slack
        # Bolt's own respond() would post to the response_url unfiltered.
        if context.response_url:
            context["respond"] = OutboundRespond(
                response_url=context.response_url, proxy=services.slack.proxy, ssl=services.slack.ssl
            )
        return next()

    handlers.register(app, services)

    @app.error
    def handle_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        return _answer_error(error, body, response, services)

    return app


def _answer_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None, services: Services
) -> BoltResponse | None:
    """Turn an error raised by a listener into an answer the person who acted can read."""
    message = user_facing_message(error)
    if isinstance(error, BotError):
        log.warning("refused: %s", message)
    acked = response is not None and response.status == 200
    if not acked:
        # Not yet acknowledged: the HTTP answer itself carries the message.
        if body.get("type") == "view_submission":
            view = body.get("view") or {}
            if view.get("callback_id") == Callback.DEPLOY:
                errors = {Block.REASON.value: message[:1900]}
                return BoltResponse(
                    status=200,
                    body=json.dumps({"response_action": "errors", "errors": errors}),
                    headers={"content-type": "application/json"},
                )
        if body.get("command"):
            return BoltResponse(
                status=200,
                # Error messages are plain text (they also show in modal errors); this answer is mrkdwn.
                body=json.dumps({"response_type": "ephemeral", "text": escape(message)}),
                headers={"content-type": "application/json"},
            )
    _tell_user(body, message, services)
    return BoltResponse(status=200, body="") if not acked else None


def _tell_user(body: dict[str, Any], message: str, services: Services) -> None:
    """Send an ephemeral message to the user in the channel they acted in (or the deploy channel)."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = (
        body.get("channel_id")
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or services.settings.deploy_channel_id
    )
    if user:
        # The notifier falls back to a direct message when the channel cannot reach them; it never raises.
        services.notifier.ephemeral(channel, str(user), escape(message))
