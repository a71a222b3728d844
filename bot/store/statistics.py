"""The live statistics aggregate: a running deployment's last runtime statistics, and the card refresh
that shows them (at most every few minutes), queued in the same transaction as the new values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from bot.store.base import StoreBase, aware
from bot.store.models import Notice
from bot.store.outbox import CARD, queue_notices
from bot.store.tables import deployments, digest_claims, live_statistics


class LiveStatistics(BaseModel):
    """QuantConnect's runtime statistics of a deployment as the card last showed them (text as written)."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    statistics: dict[str, str]
    read_at: datetime
    shown_at: datetime | None = None


class StatisticsStore(StoreBase):
    """Record runtime statistics; claim the daily digest of a channel once."""

    def record_statistics(
        self, request_id: str, statistics: Mapping[str, str], *, now: datetime, show_every: float
    ) -> bool:
        """Keep new statistics for the card; True when it will show them (refresh queued in this transaction).

        The card is refreshed only when the values changed and it last showed them `show_every` seconds ago
        or more, so a card is edited at most every few minutes however often live/read is asked.
        """
        aware(now)
        values = {str(k): str(v) for k, v in statistics.items()}
        query = sa.select(live_statistics, deployments.c.equity_at).select_from(
            deployments.outerjoin(live_statistics, live_statistics.c.request_id == deployments.c.request_id)
        )
        query = query.where(deployments.c.request_id == request_id)
        # Most polls bring nothing to show: decide on a read, and take the write lock only to show.
        with self._reader.begin() as connection:
            if not self._due(connection.execute(query).first(), values, now, show_every):
                return False
        with self._writing() as connection:
            row = connection.execute(query).first()
            if not self._due(row, values, now, show_every):
                return False  # another poll showed them meanwhile
            update: dict[str, Any] = {"statistics": values, "read_at": now, "shown_at": now}
            if row is None or row.request_id is None:  # no statistics yet
                connection.execute(sa.insert(live_statistics), {"request_id": request_id, **update})
            else:
                connection.execute(
                    sa.update(live_statistics)
                    .where(live_statistics.c.request_id == request_id)
                    .values(**update)
                )
            card = [Notice(kind=CARD)]
            queued = queue_notices(connection, request_id, card, owner=self.replica_id, now=now)
        self._queued(queued)
        return True

    @staticmethod
    def _due(row: sa.Row[Any] | None, values: dict[str, str], now: datetime, show_every: float) -> bool:
        """New values the card has not shown, and its section last showed something `show_every` seconds ago
        or more: the statistics, or before there were any, the equity from live/list (one refresh policy)."""
        period = timedelta(seconds=show_every)
        if row is None:
            return True
        if row.request_id is None:  # no statistics yet: the section showed the list's equity, if anything
            return row.equity_at is None or now - row.equity_at >= period
        if dict(row.statistics) == values:
            return False
        return row.shown_at is None or now - row.shown_at >= period

    def get_statistics(self, request_id: str) -> LiveStatistics | None:
        """The last statistics of a request's deployment, or None."""
        with self._reader.begin() as connection:
            row = connection.execute(
                sa.select(live_statistics).where(live_statistics.c.request_id == request_id)
            ).first()
            return None if row is None else LiveStatistics.model_validate(row._asdict())

    def digest_claimed(self, day: str, channel_id: str) -> bool:
        """Whether `day`'s digest of `channel_id` was claimed (posted or queued) already."""
        query = sa.select(digest_claims.c.day).where(
            digest_claims.c.day == day, digest_claims.c.channel_id == channel_id
        )
        with self._reader.begin() as connection:
            return connection.execute(query).first() is not None

    def claim_digest(self, day: str, channel_id: str, notices: Sequence[Notice], *, now: datetime) -> bool:
        """Claim `day`'s digest of `channel_id` and queue it in one transaction: True for exactly one caller
        across replicas and restarts (the outbox then delivers it once)."""
        aware(now)
        try:
            with self._writing() as connection:
                connection.execute(
                    sa.insert(digest_claims),
                    {"day": day, "channel_id": channel_id, "claimed_by": self.replica_id, "claimed_at": now},
                )
                queued = queue_notices(
                    connection, None, notices, owner=self.replica_id, now=now, channel_id=channel_id
                )
        except sa.exc.IntegrityError:
            return False
        self._queued(queued)
        return True
