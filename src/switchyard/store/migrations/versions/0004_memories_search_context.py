"""Memories, full-text search over messages, and where the model's context starts.

- `memories` and `memory_tags`: the memories API keys keep for an agent (store/memories.py).
- `messages.text`: each message's searchable text, filled in here for the messages already
  stored; the full-text index over it: on SQLite an FTS5 external-content table with its
  sync triggers, on Postgres a GIN index over to_tsvector('english', text).
- `sessions.context_start_seq`: where the model's context starts (clear-context, compaction).

The DDL is written out here rather than imported from store/fulltext.py: a migration records
the schema of its moment.

Revision ID: 0004_memories_search_context
Revises: 0002_drop_memories
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_memories_search_context"
down_revision = "0003_automation"
branch_labels = None
depends_on = None

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
    "text, content='messages', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL "
    "BEGIN INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL "
    "BEGIN INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF text ON messages "
    "BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) SELECT 'delete', old.rowid, old.text "
    "WHERE old.text IS NOT NULL; "
    "INSERT INTO messages_fts(rowid, text) SELECT new.rowid, new.text WHERE new.text IS NOT NULL; "
    "END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
)
_POSTGRES_FTS = ("CREATE INDEX IF NOT EXISTS ix_messages_fts ON messages USING GIN "
                 "(to_tsvector('english', coalesce(text, '')))",)


def _text_of(body: object) -> str | None:
    content = body.get("content") if isinstance(body, dict) else None
    if isinstance(content, str):
        found = content
    elif isinstance(content, list):
        found = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    else:
        found = ""
    return found if found.strip() else None


def _backfill_text(bind: sa.Connection) -> None:
    messages = sa.table("messages", sa.column("agent_id", sa.String), sa.column("session_id", sa.String),
                        sa.column("seq", sa.Integer), sa.column("body", sa.JSON), sa.column("text", sa.Text))
    rows = bind.execute(sa.select(messages.c.agent_id, messages.c.session_id, messages.c.seq,
                                  messages.c.body)).all()
    update = (sa.update(messages)
              .where(messages.c.agent_id == sa.bindparam("a"), messages.c.session_id == sa.bindparam("s"),
                     messages.c.seq == sa.bindparam("q"))
              .values(text=sa.bindparam("t")))
    batch = [{"a": r.agent_id, "s": r.session_id, "q": r.seq, "t": _text_of(r.body)} for r in rows]
    batch = [b for b in batch if b["t"] is not None]
    for start in range(0, len(batch), 1000):
        bind.execute(update, batch[start:start + 1000])


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "memories",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200)),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16)),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_memories_owner", "memories", ["agent_id", "owner", "updated_at"])
    op.create_table(
        "memory_tags",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("memory_id", sa.String(64), primary_key=True),
        sa.Column("tag", sa.String(50), primary_key=True),
    )
    op.create_index("ix_memory_tags_tag", "memory_tags", ["agent_id", "tag"])
    op.add_column("sessions", sa.Column("context_start_seq", sa.Integer))
    op.add_column("messages", sa.Column("text", sa.Text))
    _backfill_text(bind)
    for statement in (_SQLITE_FTS if bind.dialect.name == "sqlite" else _POSTGRES_FTS):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("messages_fts_update", "messages_fts_delete", "messages_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_messages_fts")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("text")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("context_start_seq")
    op.drop_table("memory_tags")
    op.drop_table("memories")
