"""The database schema as SQLAlchemy Core tables (the latest version; see migrations.py for upgrades)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from bot.secrets.masking import redact, redact_data


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that only accepts aware datetimes, is stored as UTC and always comes back aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"refusing a naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC text so string comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _json() -> sa.JSON:
    # none_as_null: a Python None is SQL NULL rather than the JSON literal 'null'.
    return sa.JSON(none_as_null=True)


# Columns holding words from users and QuantConnect (names, reasons, error lists, status messages, audit
# details) pass the one outbound mask on every write, whichever store method writes them: a QuantConnect
# error that echoes a credential is stored as `***ib-password***`. Same DDL as the plain types.


class MaskedString(sa.TypeDecorator[str]):
    """A VARCHAR whose written values are masked (and kept within the column's length)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        masked = redact(value)
        length = self.impl_instance.length
        return masked[:length] if length else masked


class MaskedText(sa.TypeDecorator[str]):
    """A TEXT whose written values are masked."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else redact(value)


class MaskedJSON(sa.TypeDecorator[Any]):
    """A JSON column whose every string (at any depth) is masked when written."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return redact_data(value)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.BigInteger, nullable=False),
    sa.Column("project_name", MaskedString(200), nullable=False),
    sa.Column("model_key", sa.String(100), nullable=False),
    sa.Column("brokerage_id", sa.String(100), nullable=False),
    sa.Column("profile", sa.String(100), nullable=False),
    sa.Column("node_id", sa.String(100), nullable=True),
    sa.Column("version_id", sa.String(50), nullable=False),
    sa.Column("settings", MaskedJSON(), nullable=False),
    sa.Column("holdings", MaskedJSON(), nullable=False),
    sa.Column("cash", MaskedJSON(), nullable=False),
    sa.Column("data_providers", _json(), nullable=False),
    sa.Column("automatic_redeploy", sa.Boolean, nullable=False),
    # QuantConnect notifications: event names and preset names (the values stay in the secret store).
    sa.Column("notify_events", _json(), nullable=False, server_default="[]"),
    sa.Column("notify_targets", _json(), nullable=False, server_default="[]"),
    sa.Column("reason", MaskedText, nullable=False),
    sa.Column("requester_id", sa.String(50), nullable=False),
    sa.Column("is_paper", sa.Boolean, nullable=False),
    sa.Column("approvals_needed", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("channel_id", sa.String(50), nullable=True),
    sa.Column("message_ts", sa.String(50), nullable=True),
    sa.Column("compile_id", sa.String(200), nullable=True),
    sa.Column("node_used", MaskedString(100), nullable=True),
    sa.Column("deploy_id", sa.String(200), nullable=True),
    sa.Column("errors", MaskedJSON(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(50), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decision_note", MaskedText, nullable=True),
    sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
    sa.Column("revision", sa.Integer, nullable=False),
    # In-flight work (approved, compiling, deploying) belongs to one replica while that replica's lease lives.
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("owned_since", UTCDateTime, nullable=True),
    # Set when the request moves to deploying: live/create may be sent from then on.
    sa.Column("deploying_since", UTCDateTime, nullable=True),
    sa.Column("previous_deploy_id", sa.String(200), nullable=True),
    # While QuantConnect has not confirmed the outcome of live/create: when to ask again, and until when.
    sa.Column("settle_deadline", UTCDateTime, nullable=True),
    sa.Column("next_check_at", UTCDateTime, nullable=True),
    sa.Column("settle_note", MaskedText, nullable=True),
    # Step 5: where the holdings and cash came from (bot/book.py BookSource), None when typed by hand.
    sa.Column("book_source", _json(), nullable=True),
    # Step 6: the earlier request this one redeploys (both cards link to each other).
    sa.Column("redeploy_of", sa.String(32), nullable=True),
    sa.Index("ix_requests_redeploy_of", "redeploy_of"),
    # Step 7: when the approvers of a pending real-money request were reminded (once, claimed by a CAS).
    sa.Column("reminded_at", UTCDateTime, nullable=True),
    sa.Index("ix_requests_status_expires", "status", "expires_at"),
    sa.Index("ix_requests_project", "project_id", "created_at"),
    sa.Index("ix_requests_requester", "requester_id", "created_at"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("user_id", sa.String(50), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("project_id", sa.BigInteger, nullable=False),
    sa.Column("deploy_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("message", MaskedText, nullable=True),
    sa.Column("launched", UTCDateTime, nullable=True),
    sa.Column("stopped", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("next_poll_at", UTCDateTime, nullable=True),
    # The replica watching the deployment; its claim lasts as long as that replica's lease.
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_since", UTCDateTime, nullable=True),
    # The last equity live/list reported that the card shows, and when it was read (migration step 9).
    sa.Column("equity", sa.Float, nullable=True),
    sa.Column("equity_at", UTCDateTime, nullable=True),
    sa.Index("ix_deployments_status_poll", "status", "next_poll_at"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("request_id", sa.String(32), nullable=True),
    sa.Column("project_id", sa.BigInteger, nullable=True),
    sa.Column("actor", sa.String(50), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("detail", MaskedJSON(), nullable=False),
    sa.Index("ix_audit_request", "request_id", "id"),
    sa.Index("ix_audit_project", "project_id", "id"),
)

# One row per running bot process; its lease is renewed by a heartbeat. Work whose owner's lease expired (or
# whose owner has no row) may be taken over by any live replica.
replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("lease_expires_at", UTCDateTime, nullable=False),
)

# Work one replica does for all (e.g. polling QuantConnect's live/list): a row per role naming the replica
# that holds it, for as long as that replica's lease lives; then any live replica may take it over.
leaders = sa.Table(
    "leaders",
    metadata,
    sa.Column("role", sa.String(50), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("owned_since", UTCDateTime, nullable=True),
)

# Slack messages written in the same transaction as the change they report, delivered by the owner replica.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(32), nullable=True),
    sa.Column("channel_id", sa.String(50), nullable=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload", MaskedJSON(), nullable=False),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(100), nullable=True),
    sa.Index("ix_outbox_pending", "sent_at", "id"),
    sa.Index("ix_outbox_request", "request_id", "sent_at"),
)

# Following a running deployment's orders (live/orders/read): every order below `next_index` has been read;
# `open_orders` are the [index, order id] pairs among them that were not final yet. Advanced in the same
# transaction as the thread message that reports the orders, so each is reported exactly once.
fill_cursors = sa.Table(
    "fill_cursors",
    metadata,
    sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("next_index", sa.BigInteger, nullable=False),
    sa.Column("open_orders", _json(), nullable=False),
    sa.Column("next_read_at", UTCDateTime, nullable=True),
    sa.Column("failures", sa.Integer, nullable=False),
    # Reads in a row that found nothing new: the next read waits longer (see bot/fills.py).
    sa.Column("idle", sa.Integer, nullable=False),
    sa.Column("reported", sa.BigInteger, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The runtime statistics' "Volume" last seen and when it last changed: a deployment whose volume has
    # not moved since its orders snapshot was read filled nothing new (no next_read_at until it moves).
    sa.Column("volume", sa.String(64), nullable=True),
    sa.Column("volume_changed_at", UTCDateTime, nullable=True),
)

# The last runtime statistics (equity, P&L, fees, holdings) live/read gave for a running deployment, and
# when the card last showed them (it is refreshed in place at most every few minutes).
live_statistics = sa.Table(
    "live_statistics",
    metadata,
    sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("statistics", MaskedJSON(), nullable=False),
    sa.Column("read_at", UTCDateTime, nullable=False),
    sa.Column("shown_at", UTCDateTime, nullable=True),
)

# One row per day and channel whose daily digest was posted (or is queued): the claim that makes it once.
digest_claims = sa.Table(
    "digest_claims",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("channel_id", sa.String(50), primary_key=True),
    sa.Column("claimed_by", sa.String(200), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
)

project_locks = sa.Table(
    "project_locks",
    metadata,
    sa.Column("project_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("holder_id", sa.String(50), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
)


# Step 8: the stop-all in progress (one row, id "stop-all"); free when finished or its owner's lease ended.
emergency_stops = sa.Table(
    "emergency_stops",
    metadata,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("started_by", sa.String(50), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
)
