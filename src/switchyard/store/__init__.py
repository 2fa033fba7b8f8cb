"""Persistence behind one interface (SQLAlchemy Core): SQLite, in-memory, Postgres.

    tables.py           the one metadata: sessions, messages, memories, custom_prompts, blobs,
                        api_keys, audit_log, and automation's webhooks,
                        webhook_deliveries, leases, schedules, schedule_runs
    engine.py           where a database is (URLs) and the engine that reaches it
    engine_registry.py  one engine per URL in a process, ref-counted
    database.py         Database: a handle on that engine; write/read run one transaction
    schema.py           brings a database to the current schema when it is opened
    migrations/         the Alembic migrations that do it
    sessions.py         SessionStore: sessions and their history (and where the model's
                        context starts: clear-context, compaction)
    memories.py         MemoryStore: the memories API keys keep for an agent
    prompts.py          CustomPromptStore: an agent's custom prompts and their stored files
    fulltext.py         the full-text index over messages (SQLite FTS5, Postgres GIN)
    search.py           MessageSearch: ranked, highlighted full-text search over it
    workspaces.py       WorkspaceStore: an agent's workspaces, one active
    preferences.py      PreferenceStore: small per-key preferences (the model picker's state)

API keys and the audit log keep their logic in server/security/ (keys.py, audit.py) and run
their SQL through a `Database` on these tables."""

from __future__ import annotations

from switchyard.store.database import Database
from switchyard.store.engine import database_url
from switchyard.store.memories import MemoryStore
from switchyard.store.preferences import PreferenceStore
from switchyard.store.prompts import CustomPromptStore
from switchyard.store.search import MessageSearch
from switchyard.store.sessions import SessionStore
from switchyard.store.tables import metadata
from switchyard.store.workspaces import WorkspaceStore


class Store:
    """An agent's database and the stores on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        self.sessions = SessionStore(self.db)
        self.memories = MemoryStore(self.db)
        self.prompts = CustomPromptStore(self.db)
        self.search = MessageSearch(self.db)
        self.workspaces = WorkspaceStore(self.db)
        self.preferences = PreferenceStore(self.db)

    async def open(self) -> "Store":
        await self.db.open()
        return self

    async def close(self) -> None:
        await self.db.close()

    @property
    def backend(self) -> str:
        return self.db.backend


__all__ = ["Store", "SessionStore", "MemoryStore", "MessageSearch", "Database", "database_url", "metadata"]
