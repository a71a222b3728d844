"""What services queue about a request for Slack: a card refresh, a thread reply, a readable error list.

Services queue these in the same store transaction as the change they report (bot/store/outbox.py); the
notifier delivers them. The deployer and the watcher see the notifier only through `CardNotifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.blocks.common import Block, error_list_messages, escape, truncate
from bot.store.models import Notice
from bot.store.outbox import CARD, THREAD


class CardNotifier(Protocol):
    """The part of the Notifier the deployer and watcher use; it never raises."""

    def refresh_card(self, request_id: str) -> None: ...

    def thread(self, request_id: str, text: str) -> None: ...

    def post_error_list(self, request_id: str, title: str, errors: Sequence[str]) -> None: ...


def card_notice() -> Notice:
    """A refresh of the request's card, rendered from the store when it is sent."""
    return Notice(kind=CARD)


def thread_notice(text: str, blocks: list[Block] | None = None) -> Notice:
    """A mrkdwn reply in the request's card thread; callers escape() the data in it."""
    return Notice(kind=THREAD, text=text, blocks=blocks)


def error_notices(title: str, errors: Sequence[str]) -> list[Notice]:
    """A readable error list as thread replies, split to fit Slack's limits (plain text in)."""
    messages = error_list_messages(title, list(errors))
    notices = []
    for index, blocks in enumerate(messages, start=1):
        part = f" (part {index} of {len(messages)})" if len(messages) > 1 else ""
        # The title is plain text (the blocks escape it too); the fallback text is mrkdwn.
        notices.append(thread_notice(escape(truncate(title, 200)) + part, blocks))
    return notices
