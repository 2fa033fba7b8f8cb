"""The full-text index over messages, one per backend, and the text it indexes.

- SQLite: an FTS5 external-content table `messages_fts` over `messages.text` (keyed by the
  messages' rowid, porter stemming), kept in sync by triggers on `messages`: every write of
  the store, and any other, updates it in the same transaction.
- Postgres: a GIN index over `to_tsvector('english', coalesce(text, ''))`; queries use the
  very same expression (`TSVECTOR`) so that the planner uses the index.

`messages.text` is the message's searchable text (`message_text`), written by the session
store with each message. The DDL is attached to the `messages` table (`attach`), so a new
database made from tables.py has it; migration 0003 makes it for an existing one.

SQLite's VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY: Switchyard
never runs it; after a manual VACUUM, `REBUILD_SQLITE` re-indexes (what migration 0003 runs).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Table, event

POSTGRES_CONFIG = "english"
TSVECTOR = f"to_tsvector('{POSTGRES_CONFIG}', coalesce(messages.text, ''))"

SQLITE_DDL = (
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
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS messages_fts_update", "DROP TRIGGER IF EXISTS messages_fts_delete",
               "DROP TRIGGER IF EXISTS messages_fts_insert", "DROP TABLE IF EXISTS messages_fts")
REBUILD_SQLITE = "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')"

POSTGRES_DDL = (f"CREATE INDEX IF NOT EXISTS ix_messages_fts ON messages USING GIN "
                f"(to_tsvector('{POSTGRES_CONFIG}', coalesce(text, '')))",)
POSTGRES_DROP = ("DROP INDEX IF EXISTS ix_messages_fts",)


def attach(messages: Table) -> None:
    """Make the index whenever `messages` is created from the metadata."""
    for statement in SQLITE_DDL:
        event.listen(messages, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in POSTGRES_DDL:
        event.listen(messages, "after_create", DDL(statement).execute_if(dialect="postgresql"))


def include_name(name: str | None, type_: str, _parents: Any = None) -> bool:
    """For Alembic's autogenerate: the FTS5 table and its shadow tables, and the Postgres
    index, are not in tables.py (they are DDL of this module): a schema comparison leaves
    them out."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("messages_fts")
    return not (type_ == "index" and name == "ix_messages_fts")


def message_text(message: dict[str, Any]) -> str | None:
    """What a search finds a message by: its text content (a string, or its text parts)."""
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(str(part.get("text", "")) for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    else:
        text = ""
    return text if text.strip() else None
