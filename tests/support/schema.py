"""Take a database back to an earlier schema version, to test that the later migration steps upgrade it."""

from __future__ import annotations

import sqlalchemy as sa

# What each step after 2 added, oldest first: (columns as "table.column", indexes, tables); new steps append.
ADDED_AFTER_VERSION_2: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (("requests.notify_events", "requests.notify_targets"), (), ()),  # 3
    ((), (), ("fill_cursors", "live_statistics", "digest_claims")),  # 4
    (("requests.book_source",), (), ()),  # 5
    (("requests.redeploy_of",), ("ix_requests_redeploy_of",), ()),  # 6
    (("requests.reminded_at",), (), ()),  # 7
    ((), (), ("emergency_stops",)),  # 8
    (("deployments.equity", "deployments.equity_at"), (), ("leaders",)),  # 9
    (("fill_cursors.volume", "fill_cursors.volume_changed_at"), (), ()),  # 10
)


def back_to_version_2(connection: sa.Connection) -> None:
    """Undo every step after 2 (newest first) and record version 2 as the latest applied."""
    for columns, indexes, tables in reversed(ADDED_AFTER_VERSION_2):
        for index in indexes:
            connection.exec_driver_sql(f"DROP INDEX {index}")
        for qualified in columns:
            table, column = qualified.split(".")
            connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        for table in tables:
            connection.exec_driver_sql(f"DROP TABLE {table}")
    connection.exec_driver_sql("DELETE FROM schema_version WHERE version > 2")
