"""SQL conditions for work owned by replicas: whose lease lives, and what may be claimed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.tables import UTCDateTime, replicas


def alive_replicas(now: datetime) -> sa.Select[Any]:
    """The ids of replicas whose lease has not expired at `now`."""
    return sa.select(replicas.c.id).where(replicas.c.lease_expires_at > now)


def is_alive(owner: str, now: datetime) -> sa.ColumnElement[bool]:
    """SQL condition: `owner` is a replica whose lease has not expired at `now`."""
    return sa.exists(alive_replicas(now).where(replicas.c.id == owner))


def claimable(column: sa.ColumnElement[Any], owner: str, now: datetime) -> sa.ColumnElement[bool]:
    """SQL condition: the work is free, already `owner`'s, or held by a replica whose lease has expired."""
    return sa.or_(column.is_(None), column == owner, column.not_in(alive_replicas(now)))


def since(
    column: sa.ColumnElement[Any], owner_column: sa.ColumnElement[Any], owner: str, now: datetime
) -> Any:
    """Keep the claim's start when the owner keeps it; a new owner's claim starts `now`."""
    return sa.case((owner_column == owner, column), else_=sa.bindparam(None, now, type_=UTCDateTime))
