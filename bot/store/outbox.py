"""The Slack outbox: messages queued in the same transaction as the change they report.

A status change and its thread reply commit together, so a crash can neither report a change that did not
happen nor lose the report of one that did; a replica that takes over delivers what the dead one queued.
Each message is delivered by one replica (its owner) in the order it was queued. Card refreshes coalesce:
a refresh queued while another for the same card still waits to start is the same refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from bot.store.base import StoreBase, aware
from bot.store.jsonsafe import json_safe
from bot.store.models import Notice, OutboxMessage
from bot.store.ownership import alive_replicas, is_alive
from bot.store.rows import message_of
from bot.store.tables import outbox

CARD = "card"
THREAD = "thread"
KINDS = frozenset({CARD, THREAD})


def queue_notices(
    connection: sa.Connection,
    request_id: str | None,
    notices: Sequence[Notice],
    *,
    owner: str,
    now: datetime,
    channel_id: str | None = None,
) -> int:
    """Queue `notices` inside the caller's transaction; returns how many rows were added."""
    added = 0
    for notice in notices:
        if notice.kind not in KINDS:
            raise ValueError(f"unknown notice kind {notice.kind!r}")
        if notice.kind == CARD and request_id is not None and _card_waiting(connection, request_id):
            continue
        payload = {"text": notice.text, "blocks": notice.blocks} if notice.kind == THREAD else {}
        connection.execute(
            sa.insert(outbox),
            {
                "request_id": request_id,
                "channel_id": channel_id,
                "kind": notice.kind,
                "payload": json_safe(payload, "payload"),
                "owner": owner,
                "created_at": now,
                "started_at": None,
                "sent_at": None,
                "outcome": None,
            },
        )
        added += 1
    return added


def _card_waiting(connection: sa.Connection, request_id: str) -> bool:
    """A refresh of this card is queued and has not started rendering yet (it will show the newest state)."""
    query = sa.select(outbox.c.id).where(
        outbox.c.request_id == request_id,
        outbox.c.kind == CARD,
        outbox.c.sent_at.is_(None),
        outbox.c.started_at.is_(None),
    )
    return connection.execute(query.limit(1)).first() is not None


class OutboxStore(StoreBase):
    """Queue Slack messages, claim the ones this replica delivers, and mark them delivered."""

    def enqueue(
        self,
        request_id: str | None,
        notices: Sequence[Notice],
        *,
        now: datetime,
        channel_id: str | None = None,
    ) -> int:
        """Queue messages on their own (not tied to a state change); returns how many rows were added."""
        aware(now)
        with self._writing() as connection:
            added = queue_notices(
                connection, request_id, notices, owner=self.replica_id, now=now, channel_id=channel_id
            )
        self._queued(added)
        return added

    def claim_outbox(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        """Take over undelivered messages of dead replicas; return this replica's next ones, oldest first."""
        aware(now)
        me = self.replica_id
        with self._writing() as connection:
            connection.execute(
                sa.update(outbox)
                .where(
                    outbox.c.sent_at.is_(None),
                    sa.or_(outbox.c.owner.is_(None), outbox.c.owner.not_in(alive_replicas(now))),
                    is_alive(me, now),
                )
                .values(owner=me)
            )
            rows = connection.execute(
                sa.select(outbox)
                .where(outbox.c.sent_at.is_(None), outbox.c.owner == me)
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [message_of(row) for row in rows]

    def start_message(self, message_id: int, now: datetime) -> bool:
        """Mark a message as being delivered now (later card refreshes queue anew); False if not ours."""
        aware(now)
        with self._writing() as connection:
            return (
                connection.execute(
                    sa.update(outbox)
                    .where(
                        outbox.c.id == message_id,
                        outbox.c.owner == self.replica_id,
                        outbox.c.sent_at.is_(None),
                    )
                    .values(started_at=now)
                ).rowcount
                == 1
            )

    def finish_message(self, message_id: int, now: datetime, outcome: str = "sent") -> None:
        """Record that a message was delivered, or given up with the Slack error in `outcome`."""
        aware(now)
        with self._writing() as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == message_id, outbox.c.sent_at.is_(None))
                .values(sent_at=now, outcome=outcome[:100])
            )

    def undelivered(self, mine_only: bool = True) -> int:
        """How many messages wait for delivery (this replica's, or everyone's)."""
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        if mine_only:
            query = query.where(sa.or_(outbox.c.owner == self.replica_id, outbox.c.owner.is_(None)))
        with self._reader.begin() as connection:
            return int(connection.execute(query).scalar_one())

    def prune_outbox(self, delivered_before: datetime) -> int:
        """Delete messages delivered before the given time; returns how many."""
        aware(delivered_before, "delivered_before")
        with self._writing() as connection:
            return connection.execute(sa.delete(outbox).where(outbox.c.sent_at < delivered_before)).rowcount
