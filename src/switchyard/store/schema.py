"""Bring a database to the schema the code expects, with the Alembic migrations shipped in
store/migrations/, when it is opened (no separate migration step for the user).

Opening a database that is already current costs one small query (the `alembic_version`
row compared with `migrations.HEAD`) and no Alembic import. A new, empty database is made
from store/tables.py and stamped with HEAD, as Alembic recommends (also without importing it:
in-memory databases are new at every open); tests/test_store_migrations.py checks that the
migrations build the very same schema. Alembic is imported only when there is something to
migrate. A database made before migrations existed (tables, but no `alembic_version`) is
adopted by the first migration, which creates only what is missing and keeps every row.

Two processes may open one database at once (replicas on Postgres; the server and the
`switchyard keys` command on SQLite), so the upgrade runs under a lock and re-reads the
version inside it: a Postgres advisory lock held for the migration's transaction, or SQLite's
write lock (BEGIN IMMEDIATE). Both backends run DDL inside the transaction, so a failed
migration leaves the database as it was."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.errors import StoreError
from switchyard.store.migrations import HEAD
from switchyard.store.tables import metadata

log = logging.getLogger("switchyard.store")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock's key for "migrating Switchyard's schema" ("SWYDMIGR" in ASCII).
POSTGRES_LOCK_KEY = 0x535759444D494752
# Every table a database made before migrations could hold: with none of them and no version
# table, a database is new.
PRE_MIGRATION_TABLES = frozenset({"sessions", "messages", "api_keys", "audit_log", "memories"})
# Alembic's own version table, as it creates it.
_version_table = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False),
                       PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"))


def newer_schema_allowed() -> bool:
    """SWITCHYARD_ALLOW_NEWER_SCHEMA: an older replica may run on a schema a newer one migrated
    (read when a database is opened, never per query)."""
    return os.environ.get("SWITCHYARD_ALLOW_NEWER_SCHEMA", "").strip().lower() in ("1", "true", "yes", "on")


def current_revision(conn: Connection) -> str | None:
    """The migration the database is at; None for a new database or one made before migrations."""
    if not conn.dialect.has_table(conn, VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def is_current(conn: Connection) -> bool:
    return current_revision(conn) == HEAD


def upgrade_sqlite(engine: Engine, *, in_memory: bool) -> None:
    with engine.connect() as conn:
        if is_current(conn):
            return
    if in_memory:  # nobody else can see it: no lock needed
        with engine.begin() as conn:
            create_or_migrate(conn)
        return
    locking = _sqlite_locking_engine(engine)
    try:
        with locking.begin() as conn:
            create_or_migrate(conn)
    finally:
        locking.dispose()


async def upgrade_postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        if await conn.run_sync(is_current):
            return
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_postgres_locked)


def _upgrade_postgres_locked(conn: Connection) -> None:
    # Held until this transaction ends: a replica that opens the database meanwhile waits
    # here, then finds it current and runs nothing.
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
    create_or_migrate(conn)


def _sqlite_locking_engine(engine: Engine) -> Engine:
    """A one-off engine on the same file whose transactions begin with BEGIN IMMEDIATE (the
    file's write lock, held to the commit) and include DDL. The store's own engine keeps the
    driver's default transaction handling, which its hot path was measured with."""
    from sqlalchemy import create_engine

    locking = create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(locking, "connect")
    def _manual_transactions(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        dbapi_conn.isolation_level = None   # the driver emits no BEGIN of its own
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(locking, "begin")
    def _begin_immediate(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return locking


def create_or_migrate(conn: Connection) -> None:
    """Inside the caller's transaction (which holds the lock): make a new database at HEAD,
    or migrate an existing one to it."""
    current = current_revision(conn)
    if current == HEAD:
        return  # another process got there while we waited for the lock
    if current is None and not PRE_MIGRATION_TABLES & set(conn.dialect.get_table_names(conn)):
        metadata.create_all(conn)
        _version_table.create(conn)
        conn.execute(_version_table.insert().values(version_num=HEAD))
        return
    run_migrations(conn)


def run_migrations(conn: Connection) -> None:
    """Upgrade to HEAD inside the caller's transaction (which holds the lock)."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    current = current_revision(conn)
    if current == HEAD:
        return  # another process migrated it while we waited for the lock
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        if newer_schema_allowed():
            # A rolling upgrade (docs/production.md): a newer replica migrated the database
            # already; every migration of a release is additive, so this older one runs on it.
            log.warning("the database schema is at revision %r, newer than this version's %r: running on it "
                        "(SWITCHYARD_ALLOW_NEWER_SCHEMA); finish the upgrade of every replica", current, HEAD)
            return
        raise StoreError(f"the database schema is at revision {current!r}, which this version of "
                         "Switchyard does not know (was it upgraded by a newer version? During a rolling "
                         "upgrade set SWITCHYARD_ALLOW_NEWER_SCHEMA=true on the older replicas)",
                         code="store_schema_unknown", details={"revision": current, "head": HEAD})

    def upgrade(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(HEAD, rev)  # what `alembic upgrade` runs

    context = MigrationContext.configure(connection=conn, opts={"fn": upgrade, "script": script})
    with Operations.context(context):
        context.run_migrations()
