"""The only place that writes to the deploy channel: request cards, thread replies, error lists, ephemerals.

Card refreshes and thread replies are queued in the store's outbox (services queue them in the same
transaction as the change they report) and delivered by one background sender thread, so deployer and
watcher threads never wait on Slack and a crash loses nothing: what this process had not delivered, the next
process (or another replica, once this one's lease expires) delivers. Writes are paced per channel (Slack
allows about one message per second per channel); an HTTP 429 is waited out by the Slack client's own retry
handler (bot/app.py build_slack_client), never retried again here. A card refresh queued while another of the
same card still waits is the same refresh: cards are rendered from the store when they are sent, so the
latest state always wins while thread replies keep their order.
A Slack failure is logged and recorded as a `slack_error` audit event; it is never raised into the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.card import request_card
from bot.blocks.common import Block, escape
from bot.brokerages import registry
from bot.notices import card_notice, error_notices, thread_notice
from bot.periodic import PeriodicWorker
from bot.store.models import Notice, OutboxMessage
from bot.store.outbox import CARD

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.web import SlackResponse

    from bot.heartbeat import LeaseHolder
    from bot.store import DeployRequest, Store

log = logging.getLogger("bot.notifier")

# Errors after which an ephemeral cannot reach the user in that channel; a direct message still can.
_EPHEMERAL_UNREACHABLE = frozenset({"user_not_in_channel", "channel_not_found", "not_in_channel"})
# chat.update errors meaning the card message is gone: post a fresh card instead of losing the update.
_CARD_GONE = frozenset({"message_not_found", "cant_update_message", "channel_not_found"})
SENT = "sent"


class Notifier(PeriodicWorker):
    """Posts and updates request cards in the deploy channel, paced, from one sender thread (its passes)."""

    name = "slack-notifier"

    def __init__(
        self,
        client: WebClient,
        store: Store,
        channel_id: str,
        *,
        clock: Callable[[], datetime],
        min_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        idle_poll_seconds: float = 1.0,
        batch_size: int = 50,
        lease: LeaseHolder | None = None,
    ) -> None:
        # Between passes the sender waits this long, unless a queued message wakes it.
        super().__init__(idle_poll_seconds)
        self.client = client
        self.store = store
        self.channel_id = channel_id
        self.clock = clock
        self.min_interval = min_interval
        self.batch_size = batch_size
        # Messages last as long as this replica's lease: once it may have run out, another replica delivers.
        self.lease = lease
        self._sleep = sleep
        self._closed = False
        self._pace_lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        # One card per request: serializes "has it been posted yet?" with the posting itself.
        self._post_lock = threading.Lock()
        # Called with the request id after its card was posted or updated (e.g. to refresh App Home tabs).
        self.on_card_changed: Callable[[str], object] | None = None
        # Messages queued by the store (in a state change's transaction) wake the sender at once.
        store.on_queued = self.wake

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sender thread (also started by the first queued message); not again once closed."""
        if not self._closed:
            super().start()

    def wake(self) -> None:
        """Tell the sender that messages are waiting."""
        self.start()
        super().wake()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message this process queued (or took over) is delivered; False on timeout."""
        deadline = time.monotonic() + timeout
        self.wake()
        while True:
            try:
                if self.store.undelivered() == 0:
                    return True
            except Exception:
                log.exception("could not count undelivered Slack messages")
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (at most `timeout` seconds), then stop the sender thread."""
        self.flush(timeout)
        self._closed = True
        self.stop(timeout)

    # -- public API ----------------------------------------------------------------------------------------

    def post_card(self, request: DeployRequest) -> str | None:
        """Post the request's card now and store where it is; returns its ts, or None if Slack refused."""
        with self._post_lock:
            current = self.store.get_request(request.id) or request
            if current.message_ts:
                return current.message_ts  # already posted (a redelivered submission): never post twice
            channel = current.channel_id or self.channel_id
            self._pace(channel)
            # Rendered after the pacing wait, so that what goes out is the state of that moment.
            text, blocks = self.render(current)
            response = self._call(
                "chat_postMessage", request_id=current.id, channel=channel, text=text, blocks=blocks
            )
            if response is None:
                return None
            ts = str(response["ts"])
            self.store.set_card(current.id, str(response.get("channel") or channel), ts, now=self.clock())
            self._card_changed(current.id)
            return ts

    def refresh_card(self, request_id: str) -> None:
        """Queue a re-render of the card from the store; queued refreshes of one card coalesce."""
        self._queue(request_id, [card_notice()])

    def thread(self, request_id: str, text: str, blocks: list[Block] | None = None) -> None:
        """Queue a short mrkdwn reply in the card's thread (in order); callers escape() the data in it."""
        self._queue(request_id, [thread_notice(text, blocks)])

    def post_error_list(self, request_id: str, title: str, errors: Sequence[str]) -> None:
        """Queue a readable error list as thread replies, split to fit Slack's limits (plain text in)."""
        self._queue(request_id, error_notices(title, errors))

    def ephemeral(self, channel: str, user: str, text: str, blocks: list[Block] | None = None) -> bool:
        """Show mrkdwn `text` to one user now; falls back to a direct message when the channel cannot."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        failure: list[str] = []
        if (
            self._call(
                "chat_postEphemeral",
                request_id=None,
                quiet={*_EPHEMERAL_UNREACHABLE},
                failure=failure,
                **kwargs,
            )
            is not None
        ):
            return True
        if failure and failure[0] in _EPHEMERAL_UNREACHABLE:
            direct: dict[str, Any] = {"channel": user, "text": text}
            if blocks:
                direct["blocks"] = blocks
            return self._call("chat_postMessage", request_id=None, **direct) is not None
        return False

    def permalink(self, channel: str, message_ts: str) -> str | None:
        """A link to a message, or None when Slack cannot give one."""
        response = self._call("chat_getPermalink", request_id=None, channel=channel, message_ts=message_ts)
        return None if response is None else str(response.get("permalink") or "") or None

    def render(self, request: DeployRequest) -> tuple[str, list[Block]]:
        """The card of a request as it stands in the store now."""
        return request_card(
            request,
            approvals=self.store.approvals(request.id),
            deployment=self.store.get_deployment(request.id),
            model_name=registry.display_name(request.model_key),
            now=self.clock(),
        )

    # -- sender thread -------------------------------------------------------------------------------------

    def _queue(self, request_id: str, notices: Sequence[Notice]) -> None:
        try:
            self.store.enqueue(request_id, notices, now=self.clock())
        except Exception:
            # The database is unreachable: nothing durable can be queued, so say it now, best effort.
            log.exception(
                "could not queue Slack messages; sending them directly", extra={"request_id": request_id}
            )
            threading.Thread(
                target=self._send_directly,
                args=(request_id, list(notices)),
                name="notifier-direct",
                daemon=True,
            ).start()
            return
        self.wake()

    def _send_directly(self, request_id: str, notices: list[Notice]) -> None:
        request = self.store.get_request(request_id)
        if request is None:
            return
        for notice in notices:
            if notice.kind == CARD:
                self._update_card(request)
            else:
                self._reply(request, notice.text, notice.blocks)

    def run_pass(self) -> int:
        """Deliver what this replica holds in the outbox, a batch at a time; returns how many were sent."""
        delivered = 0
        while not self.stopping:
            held = self.lease is None or self.lease.holds()
            batch = self.store.claim_outbox(self.clock(), self.batch_size) if held else []
            for message in batch:
                if self.lease is not None and not self.lease.holds():
                    return delivered
                try:
                    self._deliver(message)
                    delivered += 1
                except Exception:
                    log.exception("Slack message failed", extra={"request_id": message.request_id})
            if len(batch) < self.batch_size:
                return delivered
        return delivered

    def _deliver(self, message: OutboxMessage) -> None:
        """Send one queued message and record the outcome (Slack failures are recorded, not retried)."""
        if not self.store.start_message(message.id, self.clock()):
            return  # delivered or taken over meanwhile
        request = self.store.get_request(message.request_id) if message.request_id else None
        if request is None:
            log.warning("no such request for a Slack message", extra={"request_id": message.request_id})
            self.store.finish_message(message.id, self.clock(), "no_such_request")
            return
        if message.kind == CARD:
            outcome = self._update_card(request)
        else:
            outcome = self._reply(
                request, str(message.payload.get("text") or ""), message.payload.get("blocks")
            )
        self.store.finish_message(message.id, self.clock(), outcome)

    def _update_card(self, request: DeployRequest) -> str:
        if not request.message_ts or not request.channel_id:
            # The first post failed (Slack was down): post the card now so the channel still hears of it.
            return SENT if self.post_card(request) else "post_failed"
        self._pace(request.channel_id)
        # Rendered after the pacing wait so that the latest state is what goes out.
        fresh = self.store.get_request(request.id) or request
        text, blocks = self.render(fresh)
        failure: list[str] = []
        response = self._call(
            "chat_update",
            request_id=request.id,
            failure=failure,
            channel=request.channel_id,
            ts=request.message_ts,
            text=text,
            blocks=blocks,
        )
        if response is not None:
            self._card_changed(request.id)
            return SENT
        if failure and failure[0] in _CARD_GONE:
            log.warning("card message gone; posting a new one", extra={"request_id": request.id})
            with self._post_lock:
                self._pace(self.channel_id)
                posted = self._call(
                    "chat_postMessage",
                    request_id=request.id,
                    channel=self.channel_id,
                    text=text,
                    blocks=blocks,
                )
                if posted is not None:
                    channel = str(posted.get("channel") or self.channel_id)
                    self.store.set_card(request.id, channel, str(posted["ts"]), now=self.clock())
                    self._card_changed(request.id)
                    return SENT
        return failure[0] if failure else "failed"

    def _card_changed(self, request_id: str) -> None:
        if self.on_card_changed is None:
            return
        try:
            self.on_card_changed(request_id)
        except Exception:
            log.exception("card-changed hook failed", extra={"request_id": request_id})

    def _reply(self, request: DeployRequest, text: str, blocks: list[Block] | None) -> str:
        channel = request.channel_id or self.channel_id
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        if request.message_ts:
            kwargs["thread_ts"] = request.message_ts
        else:
            # No card to thread under: say which request this is about in the channel itself.
            kwargs["text"] = f"Request `{escape(request.id)}` ({escape(request.project_name)}): {text}"
        self._pace(channel)
        failure: list[str] = []
        sent = self._call("chat_postMessage", request_id=request.id, failure=failure, **kwargs)
        return SENT if sent is not None else (failure[0] if failure else "failed")

    # -- Slack calls ---------------------------------------------------------------------------------------

    def _pace(self, channel: str) -> None:
        """Wait for this channel's next write slot (about one write per `min_interval` per channel)."""
        if self.min_interval <= 0:
            return
        with self._pace_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(channel, 0.0))
            self._next_slot[channel] = slot + self.min_interval
        if slot > now:
            self._sleep(slot - now)

    def _call(
        self,
        method: str,
        *,
        request_id: str | None,
        quiet: set[str] | None = None,
        failure: list[str] | None = None,
        **kwargs: Any,
    ) -> SlackResponse | None:
        """Call a Web API method once (the client's retry handlers wait out 429s); on failure log, audit and
        return None."""
        try:
            return getattr(self.client, method)(**kwargs)  # type: ignore[no-any-return]
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", None)
            error = str(response.get("error") or f"http_{status}") if response is not None else "no_response"
        except Exception as exc:
            # Network trouble. Not retried here: a post may have reached Slack, and the client's own
            # connection retry handler already covers dropped connections. Log the type only: the text may
            # carry URLs.
            error = type(exc).__name__
        if failure is not None:
            failure.append(error)
        if quiet and error in quiet:
            return None
        self._record_failure(method, error, request_id)
        return None

    def _record_failure(self, method: str, error: str, request_id: str | None) -> None:
        api_method = method.replace("_", ".", 1)
        log.warning(
            "Slack call failed", extra={"method": api_method, "error": error, "request_id": request_id}
        )
        try:
            self.store.add_event(
                "bot",
                "slack_error",
                request_id=request_id,
                detail={"method": api_method, "error": error},
                now=self.clock(),
            )
        except Exception:
            log.exception("could not record a slack_error audit event")
