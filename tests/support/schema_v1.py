"""The schema as migration step 1 created it, frozen: upgrade tests start from a database of that version."""

from __future__ import annotations

import sqlalchemy as sa


def v1_tables() -> sa.MetaData:
    """The schema as migration step 1 created it before step 2 existed (frozen copy)."""
    metadata = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "schema_version",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("applied_at", ts, nullable=False),
    )
    sa.Table(
        "requests",
        metadata,
        *(
            sa.Column(name, kind, nullable=nullable)
            for name, kind, nullable in (
                ("project_id", sa.BigInteger, False),
                ("project_name", sa.String(200), False),
                ("model_key", sa.String(100), False),
                ("brokerage_id", sa.String(100), False),
                ("profile", sa.String(100), False),
                ("node_id", sa.String(100), True),
                ("version_id", sa.String(50), False),
                ("settings", sa.JSON, False),
                ("holdings", sa.JSON, False),
                ("cash", sa.JSON, False),
                ("data_providers", sa.JSON, False),
                ("automatic_redeploy", sa.Boolean, False),
                ("reason", sa.Text, False),
                ("requester_id", sa.String(50), False),
                ("is_paper", sa.Boolean, False),
                ("approvals_needed", sa.Integer, False),
                ("status", sa.String(20), False),
                ("channel_id", sa.String(50), True),
                ("message_ts", sa.String(50), True),
                ("compile_id", sa.String(200), True),
                ("node_used", sa.String(100), True),
                ("deploy_id", sa.String(200), True),
                ("errors", sa.JSON, False),
                ("created_at", ts, False),
                ("updated_at", ts, False),
                ("expires_at", ts, True),
                ("decided_by", sa.String(50), True),
                ("decided_at", ts, True),
                ("decision_note", sa.Text, True),
                ("revision", sa.Integer, False),
            )
        ),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
    )
    sa.Table(
        "approvals",
        metadata,
        sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("user_id", sa.String(50), primary_key=True),
        sa.Column("created_at", ts, nullable=False),
    )
    sa.Table(
        "deployments",
        metadata,
        sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("project_id", sa.BigInteger, nullable=False),
        sa.Column("deploy_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("launched", ts, nullable=True),
        sa.Column("stopped", ts, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("next_poll_at", ts, nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", ts, nullable=True),
    )
    sa.Table(
        "audit_events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("project_id", sa.BigInteger, nullable=True),
        sa.Column("actor", sa.String(50), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    sa.Table(
        "project_locks",
        metadata,
        sa.Column("project_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.String(32), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("holder_id", sa.String(50), nullable=False),
        sa.Column("acquired_at", ts, nullable=False),
    )
    return metadata


V1_METADATA = v1_tables()


def create_version_1_database(store_url: str, applied_at: object) -> None:
    """A database as migration step 1 left it before step 2 existed: the frozen tables, version 1 recorded."""
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            V1_METADATA.create_all(connection)
            connection.execute(
                sa.text(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (1, 'create all tables', :now)"
                ),
                {"now": applied_at},
            )
    finally:
        engine.dispose()
