"""Ordered schema migration steps and the code that applies the missing ones on start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.store import tables

# Any constant works: it only has to be the same in every process migrating the same PostgreSQL database.
_PG_MIGRATION_LOCK_KEY = 0x71C_B07


@dataclass(frozen=True)
class MigrationStep:
    """One schema change, applied once, in order, inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _create_everything(connection: sa.Connection) -> None:
    tables.metadata.create_all(connection)


# Append new steps at the end; never edit or reorder applied ones. Step 1 creates the schema exactly as
# tables.py describes it today, so a fresh database gets step 1 and is stamped with every later version:
# a later step only ever runs on a database created before it (and must also update tables.py).
def _leases_and_outbox(connection: sa.Connection) -> None:
    """Replica leases, request ownership and settling, deployment lease start, the Slack outbox."""
    add = "ALTER TABLE {table} ADD COLUMN {column}"
    timestamp = "TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else "DATETIME"
    for column in (
        "owner VARCHAR(200)",
        f"owned_since {timestamp}",
        f"deploying_since {timestamp}",
        "previous_deploy_id VARCHAR(200)",
        f"settle_deadline {timestamp}",
        f"next_check_at {timestamp}",
        "settle_note TEXT",
    ):
        connection.exec_driver_sql(add.format(table="requests", column=column))
    connection.exec_driver_sql(add.format(table="deployments", column=f"lease_since {timestamp}"))
    # Deployment leases now last as long as their owner replica's lease (tables.replicas).
    connection.exec_driver_sql("ALTER TABLE deployments DROP COLUMN lease_expires_at")
    connection.exec_driver_sql("UPDATE deployments SET lease_owner = NULL")
    tables.replicas.create(connection)
    tables.outbox.create(connection)


def _notifications(connection: sa.Connection) -> None:
    """The QuantConnect notifications a request asks for: event names and preset names."""
    for column in ("notify_events", "notify_targets"):
        connection.exec_driver_sql(f"ALTER TABLE requests ADD COLUMN {column} JSON NOT NULL DEFAULT '[]'")


def _fills_statistics_digests(connection: sa.Connection) -> None:
    """Where the following of each deployment's orders stands, its last runtime statistics, digest claims."""
    for table in (tables.fill_cursors, tables.live_statistics, tables.digest_claims):
        table.create(connection)


def _book_source(connection: sa.Connection) -> None:
    """Where a request's holdings and cash came from (QuantConnect's portfolio or an earlier request)."""
    kind = "JSON" if connection.dialect.name == "postgresql" else "TEXT"
    connection.exec_driver_sql(f"ALTER TABLE requests ADD COLUMN book_source {kind}")


def _redeploy_of(connection: sa.Connection) -> None:
    """The earlier request a redeploy request repeats, indexed to find the redeploys of a request."""
    connection.exec_driver_sql("ALTER TABLE requests ADD COLUMN redeploy_of VARCHAR(32)")
    connection.exec_driver_sql("CREATE INDEX ix_requests_redeploy_of ON requests (redeploy_of)")


def _reminded_at(connection: sa.Connection) -> None:
    """The claim of the one reminder a pending real-money request's approvers get."""
    timestamp = "TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else "DATETIME"
    connection.exec_driver_sql(f"ALTER TABLE requests ADD COLUMN reminded_at {timestamp}")


def _emergency_stops(connection: sa.Connection) -> None:
    """One stop-all at a time, owned by the replica that runs it (taken over when its lease ends)."""
    tables.emergency_stops.create(connection)


def _equity_and_leaders(connection: sa.Connection) -> None:
    """The last equity of each deployment (and when it was read), and the leader roles (live/list poller)."""
    add = "ALTER TABLE deployments ADD COLUMN {column}"
    postgresql = connection.dialect.name == "postgresql"
    timestamp = "TIMESTAMP WITH TIME ZONE" if postgresql else "DATETIME"
    connection.exec_driver_sql(add.format(column="equity DOUBLE PRECISION" if postgresql else "equity FLOAT"))
    connection.exec_driver_sql(add.format(column=f"equity_at {timestamp}"))
    tables.leaders.create(connection)


def _fill_volume(connection: sa.Connection) -> None:
    """The runtime statistics' volume each fill cursor last saw, and when it changed (reads on evidence).

    Step 4 creates fill_cursors as tables.py describes it now, so a database that took step 4 after this
    column was added has it already.
    """
    timestamp = "TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else "DATETIME"
    present = {column["name"] for column in sa.inspect(connection).get_columns("fill_cursors")}
    for column, kind in (("volume", "VARCHAR(64)"), ("volume_changed_at", timestamp)):
        if column not in present:
            connection.exec_driver_sql(f"ALTER TABLE fill_cursors ADD COLUMN {column} {kind}")


STEPS: tuple[MigrationStep, ...] = (
    MigrationStep(1, "create all tables", _create_everything),
    MigrationStep(2, "replica leases, request ownership and settling, Slack outbox", _leases_and_outbox),
    MigrationStep(3, "QuantConnect notification events and presets of a request", _notifications),
    MigrationStep(4, "fill cursors, live runtime statistics, daily digest claims", _fills_statistics_digests),
    MigrationStep(5, "where a request's holdings and cash came from", _book_source),
    MigrationStep(6, "the request a request redeploys", _redeploy_of),
    MigrationStep(7, "when a pending request's approvers were reminded", _reminded_at),
    MigrationStep(8, "the emergency stop-all claim", _emergency_stops),
    MigrationStep(9, "deployment equity, leader roles (live/list poller)", _equity_and_leaders),
    MigrationStep(10, "the runtime volume each fill cursor last saw (orders read on evidence)", _fill_volume),
)

LATEST_VERSION: int = STEPS[-1].version


def current_version(connection: sa.Connection) -> int:
    """The highest applied version, 0 when the database has never been migrated."""
    if not sa.inspect(connection).has_table(tables.schema_version.name):
        return 0
    return connection.execute(sa.select(sa.func.max(tables.schema_version.c.version))).scalar_one() or 0


def migrate(engine: sa.Engine) -> int:
    """Apply every missing step in one transaction (serialized across processes); return the new version."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # SQLite is already serialized by BEGIN IMMEDIATE; PostgreSQL needs an explicit lock so two
            # replicas starting together do not both create the tables.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
        version = current_version(connection)
        pending = STEPS if version == 0 else tuple(step for step in STEPS if step.version > version)
        if version == 0:
            STEPS[0].apply(connection)
        else:
            for step in pending:
                step.apply(connection)
        now = datetime.now(UTC)
        for step in pending:
            connection.execute(
                sa.insert(tables.schema_version).values(
                    version=step.version, description=step.description, applied_at=now
                )
            )
        return max(version, LATEST_VERSION)


def is_current(engine: sa.Engine) -> bool:
    """True when the database is reachable and carries every migration step."""
    try:
        with engine.begin() as connection:
            return current_version(connection) == LATEST_VERSION
    except sa.exc.SQLAlchemyError:
        return False
