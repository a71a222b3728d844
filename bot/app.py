"""create_app(settings, services) -> slack_bolt.App: registers handlers and the one error handler."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ssl import SSLContext
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
RESPONSE_URL_TIMEOUT_SECONDS = 5


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
    """Bolt's `respond()`, through the outbound filter, that always reaches the person who acted.

    The answer goes to the request's response_url (shown only to them). Where Slack gave none (a click on
    the App Home, a view submission) or the post fails, `fallback` shows it as an ephemeral message instead.
    """

    def __init__(
        self,
        *,
        response_url: str | None,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
        fallback: Callable[[str, list[dict[str, Any]] | None], object] | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.fallback = fallback

    def __call__(self, text: str | dict[str, Any] = "", **kwargs: Any) -> WebhookResponse | None:  # type: ignore[override]
        """Answer privately: to the response_url after the outbound filter, else through `fallback`."""
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            kwargs.setdefault("response_type", "ephemeral")
            message = _build_message(text=text, **kwargs)
        if self.response_url is not None:
            client = OutboundWebhookClient(
                url=self.response_url, proxy=self.proxy, ssl=self.ssl, timeout=RESPONSE_URL_TIMEOUT_SECONDS
            )
            try:
                response = client.send_dict(message)
            except Exception as exc:  # any transport failure: the fallback still tells them
                if self.fallback is None:
                    raise
                log.info("response_url not reachable: %s", type(exc).__name__)
            else:
                if response.status_code == 200 or self.fallback is None:
                    return response
                log.info("response_url refused the answer", extra={"status": response.status_code})
        if self.fallback is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        self.fallback(str(message.get("text") or ""), message.get("blocks"))
        return None


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
        # Bolt's own respond() would post to the response_url unfiltered, and only where there is one.
        context["respond"] = OutboundRespond(
            response_url=context.response_url,
            proxy=services.slack.proxy,
            ssl=services.slack.ssl,
            fallback=_ephemeral_to(context, services),
        )
        return next()

    handlers.register(app, services)

    @app.error
    def handle_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None, context: BoltContext
    ) -> BoltResponse | None:
        return _answer_error(error, body, response, context)

    return app


def _ephemeral_to(
    context: BoltContext, services: Services
) -> Callable[[str, list[dict[str, Any]] | None], object]:
    """Show a text to the person who acted, in their channel (or the deploy channel), as an ephemeral."""

    def show(text: str, blocks: list[dict[str, Any]] | None) -> object:
        if not context.user_id:
            return False
        channel = context.channel_id or services.settings.deploy_channel_id
        # The notifier falls back to a direct message when the channel cannot reach them; it never raises.
        return services.notifier.ephemeral(channel, context.user_id, text, blocks)

    return show


def _answer_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None, context: BoltContext
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
    if context.respond is not None:
        context.respond(escape(message))
    return BoltResponse(status=200, body="") if not acked else None
