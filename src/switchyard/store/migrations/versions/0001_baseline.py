"""Baseline: sessions, messages, API keys and the audit log, as they were before migrations.

Also adopts a database made before migrations existed (it has no alembic_version table, so
Alembic starts here): tables it has are kept with their rows, tables it lacks are created, and
two older shapes of the key store are repaired (the work the server's own `_upgrade` used to
repeat at every start): missing nullable columns are added, and the unique constraint on
api_keys.name is dropped (a rotated key shares its name with its successor).

The table definitions are written out here, not imported from store/tables.py: a migration
records the schema of its moment and must not change when tables.py does.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _api_keys_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("revoked_at", sa.BigInteger),
        sa.Column("last_used_at", sa.BigInteger),
        sa.Column("rate_limit", sa.String(64)),
        sa.Column("replaced_by", sa.String(64)),
        sa.Column("created_by", sa.String(100)),
    ]


def _audit_log_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(100)),
        sa.Column("address", sa.String(100)),
        sa.Column("route", sa.String(300)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("details", sa.JSON),
    ]


_INDEXES = [
    ("ix_sessions_activity", "sessions", ["agent_id", "last_activity"]),
    ("ix_messages_session", "messages", ["agent_id", "session_id", "seq"]),
    ("ix_api_keys_name", "api_keys", ["name"]),
    ("ix_audit_ts", "audit_log", ["ts"]),
    ("ix_audit_action", "audit_log", ["action"]),
    ("ix_audit_key", "audit_log", ["key_name"]),
]


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    if "sessions" not in existing:
        op.create_table(
            "sessions",
            sa.Column("agent_id", sa.String(100), primary_key=True),
            sa.Column("id", sa.String(200), primary_key=True),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("last_activity", sa.BigInteger, nullable=False),
            sa.Column("title", sa.String(200)),
            sa.Column("parent_session_id", sa.String(200)),
            sa.Column("owner", sa.String(200)),
            sa.Column("message_count", sa.Integer, nullable=False),
            sa.Column("next_seq", sa.Integer, nullable=False),
            sa.Column("input_tokens", sa.BigInteger, nullable=False),
            sa.Column("output_tokens", sa.BigInteger, nullable=False),
            sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
            sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
            sa.Column("cache_write_tokens", sa.BigInteger, nullable=False),
            sa.Column("llm_override", sa.JSON),
        )
    if "messages" not in existing:
        op.create_table(
            "messages",
            sa.Column("agent_id", sa.String(100), nullable=False),
            sa.Column("session_id", sa.String(200), nullable=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("id", sa.String(64), nullable=False),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("body", sa.JSON, nullable=False),
            sa.UniqueConstraint("agent_id", "session_id", "seq", name="uq_messages_seq"),
        )
    if "api_keys" in existing:
        _repair_api_keys(bind)
    else:
        op.create_table("api_keys", *_api_keys_columns())
    if "audit_log" in existing:
        _add_missing_nullable_columns(bind, "audit_log", _audit_log_columns())
    else:
        op.create_table("audit_log", *_audit_log_columns())
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name in ("audit_log", "api_keys", "messages", "sessions"):
        op.drop_table(name)


# --- adopting the key store's older shapes -----------------------------------------------

def _add_missing_nullable_columns(bind: sa.Connection, table: str, columns: list[sa.Column]) -> None:
    present = {c["name"] for c in sa.inspect(bind).get_columns(table)}
    for column in columns:
        if column.name not in present and column.nullable and not column.primary_key:
            op.add_column(table, column)


def _repair_api_keys(bind: sa.Connection) -> None:
    _add_missing_nullable_columns(bind, "api_keys", _api_keys_columns())
    unique_on_name = _unique_on_name(bind)
    if not unique_on_name:
        return
    if bind.dialect.name == "postgresql":
        for name in unique_on_name:
            op.execute(f'ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS "{name}"')
            op.execute(f'DROP INDEX IF EXISTS "{name}"')
        return
    # SQLite cannot drop a constraint: rebuild the table and copy its rows over.
    names = ", ".join(c.name for c in _api_keys_columns())
    op.rename_table("api_keys", "api_keys_old")
    for index_name, table, _ in _INDEXES:
        if table == "api_keys":
            op.execute(f"DROP INDEX IF EXISTS {index_name}")
    op.create_table("api_keys", *_api_keys_columns())
    op.execute(f"INSERT INTO api_keys ({names}) SELECT {names} FROM api_keys_old")
    op.drop_table("api_keys_old")


def _unique_on_name(bind: sa.Connection) -> list[str]:
    """Names of unique constraints or indexes on api_keys(name) alone."""
    inspector = sa.inspect(bind)
    found = [u.get("name") for u in inspector.get_unique_constraints("api_keys") if u["column_names"] == ["name"]]
    found += [i.get("name") for i in inspector.get_indexes("api_keys")
              if i.get("unique") and i["column_names"] == ["name"]]
    if bind.dialect.name == "sqlite" and not any(found):
        # An inline UNIQUE shows up only as an sqlite_autoindex_* index.
        for row in bind.exec_driver_sql("PRAGMA index_list(api_keys)").all():
            if row[2]:  # unique
                columns = [r[2] for r in bind.exec_driver_sql(f"PRAGMA index_info('{row[1]}')").all()]
                if columns == ["name"]:
                    found.append(row[1])
    return [name for name in found if name]
