"""Reading the Slack outbox straight from the database: what a test (or a bench) checks was queued."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store import OutboxMessage, Store
from bot.store.rows import message_of
from bot.store.tables import outbox


def outbox_messages(store: Store, request_id: str | None = None) -> list[OutboxMessage]:
    """Queued and delivered messages (of one request), oldest first."""
    query = sa.select(outbox).order_by(outbox.c.id)
    if request_id is not None:
        query = query.where(outbox.c.request_id == request_id)
    with store.engine.connect() as connection:
        return [message_of(row) for row in connection.execute(query)]
