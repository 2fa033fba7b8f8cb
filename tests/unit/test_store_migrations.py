"""Migrations: a database made before migrations existed is adopted without losing a row, a
migrated database matches store/tables.py, concurrent openers migrate once, and opening a
current database does not import Alembic. SQLite files always; Postgres (each test in a
database of its own, dropped afterwards) when SWITCHYARD_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import (JSON, BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, insert, text)

from switchyard.errors import StoreError
from switchyard.server.security.audit import AuditLog
from switchyard.server.security.keys import ApiKeyStore, generate_key, key_hash, key_prefix
from switchyard.store import Store
from switchyard.store.database import Database
from switchyard.store.engine import postgres_async_url, sync_sqlite_url
from switchyard.store.migrations import HEAD
from tests.conftest import postgres_url

# --- the schema the code had before migrations (a frozen copy; tables.py has moved on) ----

def legacy_metadata(*, key_name_unique: bool = False, with_created_by: bool = True) -> MetaData:
    """What `Store.open()` (metadata.create_all) made before migrations. The defaults are the
    last such schema; `key_name_unique=True, with_created_by=False` is the first one, which
    the server's old `_upgrade` repaired at every start."""
    md = MetaData()
    Table("sessions", md,
          Column("agent_id", String(100), primary_key=True), Column("id", String(200), primary_key=True),
          Column("created_at", BigInteger, nullable=False), Column("last_activity", BigInteger, nullable=False),
          Column("title", String(200)), Column("parent_session_id", String(200)), Column("owner", String(200)),
          Column("message_count", Integer, nullable=False, default=0),
          Column("next_seq", Integer, nullable=False, default=0),
          *[Column(c, BigInteger, nullable=False, default=0) for c in (
              "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens")],
          Column("llm_override", JSON),
          Index("ix_sessions_activity", "agent_id", "last_activity"))
    Table("messages", md,
          Column("agent_id", String(100), nullable=False), Column("session_id", String(200), nullable=False),
          Column("seq", Integer, nullable=False), Column("id", String(64), nullable=False),
          Column("role", String(16), nullable=False), Column("created_at", BigInteger, nullable=False),
          Column("body", JSON, nullable=False),
          UniqueConstraint("agent_id", "session_id", "seq", name="uq_messages_seq"),
          Index("ix_messages_session", "agent_id", "session_id", "seq"))
    Table("api_keys", md,
          Column("id", String(64), primary_key=True),
          Column("name", String(100), nullable=False, unique=key_name_unique),
          Column("prefix", String(32), nullable=False),
          Column("key_hash", String(64), nullable=False, unique=True),
          Column("scopes", JSON, nullable=False), Column("created_at", BigInteger, nullable=False),
          Column("expires_at", BigInteger), Column("revoked_at", BigInteger), Column("last_used_at", BigInteger),
          Column("rate_limit", String(64)), Column("replaced_by", String(64)),
          *([Column("created_by", String(100)), Index("ix_api_keys_name", "name")] if with_created_by else []))
    Table("audit_log", md,
          Column("id", Integer, primary_key=True, autoincrement=True), Column("ts", Float, nullable=False),
          Column("action", String(64), nullable=False), Column("key_name", String(100)),
          Column("address", String(100)), Column("route", String(300)), Column("outcome", String(32)),
          Column("details", JSON),
          Index("ix_audit_ts", "ts"), Index("ix_audit_action", "action"),
          *([Index("ix_audit_key", "key_name")] if with_created_by else []))
    Table("memories", md,
          Column("agent_id", String(100), primary_key=True), Column("id", String(64), primary_key=True),
          Column("content", Text, nullable=False), Column("tags", JSON), Column("metadata", JSON),
          Column("created_at", BigInteger, nullable=False), Column("updated_at", BigInteger, nullable=False))
    return md


SESSIONS = 3
MESSAGES_EACH = 4
AUDIT_ROWS = 5


def run_legacy(url: str, fn) -> None:  # noqa: ANN001
    """Run fn(sync connection) in one transaction, as the code before migrations did."""
    if url.startswith("sqlite"):
        engine = create_engine(sync_sqlite_url(url))
        try:
            with engine.begin() as conn:
                fn(conn)
        finally:
            engine.dispose()
        return

    async def go() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(fn)
        finally:
            await engine.dispose()
    asyncio.run(go())


def fill(md: MetaData, url: str, *, tables: list[str] | None = None) -> str:
    """Make the legacy tables and put rows in them; returns the secret of the one API key."""
    secret = generate_key()
    chosen = [md.tables[name] for name in tables] if tables else None

    def write(conn) -> None:  # noqa: ANN001
        md.create_all(conn, tables=chosen)
        names = set(tables or md.tables)
        if "sessions" in names:
            for i in range(SESSIONS):
                conn.execute(insert(md.tables["sessions"]).values(
                    agent_id="a", id=f"s{i}", created_at=1, last_activity=2 + i, title=f"t{i}",
                    owner="k", message_count=MESSAGES_EACH, next_seq=MESSAGES_EACH,
                    input_tokens=1, output_tokens=2, reasoning_tokens=0, cache_read_tokens=0,
                    cache_write_tokens=0))
                conn.execute(insert(md.tables["messages"]), [
                    {"agent_id": "a", "session_id": f"s{i}", "seq": n, "id": f"m{i}-{n}",
                     "role": "user", "created_at": 1, "body": {"id": f"m{i}-{n}", "role": "user",
                                                                "content": f"hello {i}.{n}"}}
                    for n in range(MESSAGES_EACH)])
            conn.execute(insert(md.tables["memories"]).values(agent_id="a", id="x", content="unused",
                                                             created_at=1, updated_at=1))
        values = {"id": uuid.uuid4().hex, "name": "legacy", "prefix": key_prefix(secret),
                  "key_hash": key_hash(secret), "scopes": ["chat"], "created_at": 1}
        conn.execute(insert(md.tables["api_keys"]).values(**values))
        conn.execute(insert(md.tables["audit_log"]), [
            {"ts": 1000.0 + n, "action": "key.create", "key_name": "root", "outcome": "ok",
             "details": {"n": n}} for n in range(AUDIT_ROWS)])
    run_legacy(url, write)
    return secret


async def check_everything_is_there(url: str, secret: str, *, sessions: bool = True) -> None:
    store = await Store(url).open()
    try:
        if sessions:
            found = await store.sessions.list("a")
            assert sorted(s["id"] for s in found) == [f"s{i}" for i in range(SESSIONS)]
            for i in range(SESSIONS):
                history = await store.sessions.history("a", f"s{i}")
                assert [m["content"] for m in history] == [f"hello {i}.{n}" for n in range(MESSAGES_EACH)]
            # The migrated tables take new writes where the old ones left off.
            assert await store.sessions.append("a", "s0", [{"id": "new", "role": "user", "content": "x"}]) \
                == MESSAGES_EACH + 1
            # Messages stored before the full-text index are found by it (0003 indexed them).
            from switchyard.store.memories import ALL
            hits, total = await store.search.messages("a", ALL, "hello", limit=5)
            assert total == SESSIONS * MESSAGES_EACH and len(hits) == 5
        keys = ApiKeyStore(store.db)
        assert [r.name for r in await keys.list()] == ["legacy"]
        assert (await keys.verify(secret)).ok
        # A rotated key shares its name with its successor (the first schema forbade that).
        await keys.rotate("legacy", grace_seconds=60)
        assert [r.name for r in await keys.list()] == ["legacy", "legacy"]
        entries, total = await AuditLog(store.db).query(action="key.create", limit=100)
        assert total == AUDIT_ROWS and sorted(e["details"]["n"] for e in entries) == list(range(AUDIT_ROWS))

        def schema_facts(conn):  # noqa: ANN001, ANN202
            from sqlalchemy import inspect
            return (conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all(),
                    {c["name"] for c in inspect(conn).get_columns("memories")})
        # The unused legacy `memories` table is gone; the one there is 0003's, with owners.
        version, memory_columns = await store.db.read(schema_facts)
        assert version == [HEAD] and "owner" in memory_columns
    finally:
        await store.close()


# --- where the databases live --------------------------------------------------------------

@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty Postgres database (the shared test database keeps other tests' tables)."""
    base = postgres_url()
    if not base:
        pytest.skip("SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
    name = f"sy_migrate_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        import asyncpg
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request, tmp_path) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or a new Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        with fresh_postgres() as url:
            yield postgres_async_url(url)


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match store/tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from switchyard.store.fulltext import include_name
    from switchyard.store.tables import metadata

    found: list = []
    run_legacy(url, lambda conn: found.extend(compare_metadata(
        MigrationContext.configure(conn, opts={"include_name": include_name}), metadata)))
    return found


# --- adopting a database made before migrations --------------------------------------------

def test_an_agent_database_from_before_migrations_keeps_every_row(fresh_url):
    secret = fill(legacy_metadata(), fresh_url)
    asyncio.run(check_everything_is_there(fresh_url, secret))
    assert schema_differences(fresh_url) == []


def test_a_server_database_from_before_migrations_keeps_every_row(fresh_url):
    secret = fill(legacy_metadata(), fresh_url, tables=["api_keys", "audit_log"])
    asyncio.run(check_everything_is_there(fresh_url, secret, sessions=False))
    assert schema_differences(fresh_url) == []


def test_the_first_key_store_schema_is_repaired(fresh_url):
    """Unique key names and no created_by column: what the server's `_upgrade` used to fix."""
    md = legacy_metadata(key_name_unique=True, with_created_by=False)
    secret = fill(md, fresh_url, tables=["api_keys", "audit_log"])
    asyncio.run(check_everything_is_there(fresh_url, secret, sessions=False))
    assert schema_differences(fresh_url) == []


# --- new databases, and the migrations themselves -----------------------------------------

def test_a_new_database_matches_the_tables(fresh_url):
    async def open_and_close() -> None:
        await (await Store(fresh_url).open()).close()
    asyncio.run(open_and_close())
    assert schema_differences(fresh_url) == []
    versions: list = []
    run_legacy(fresh_url, lambda conn: versions.extend(
        conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    assert versions == [HEAD]


def test_the_migrations_build_the_same_schema_as_the_tables(fresh_url):
    """A new database is made from tables.py and stamped: the migrations, run from nothing,
    must arrive at exactly that (so a migrated database and a new one never differ)."""
    from switchyard.store.schema import run_migrations
    run_legacy(fresh_url, run_migrations)
    assert schema_differences(fresh_url) == []


def test_head_names_the_newest_migration():
    from alembic.script import ScriptDirectory

    from switchyard.store.schema import MIGRATIONS_DIR
    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == HEAD, (
        "set HEAD in src/switchyard/store/migrations/__init__.py to the newest revision")


def test_concurrent_openers_migrate_once(fresh_url):
    """Replicas starting together: each opens (in its own event loop, so with its own engine)
    while the database is new; the lock lets one migrate and the others find it current."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def replica() -> None:
        async def go() -> None:
            start.wait()
            db = await Database(fresh_url).open()
            await db.close()
        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    versions: list = []
    run_legacy(fresh_url, lambda conn: versions.extend(
        conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    assert versions == [HEAD]


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'newer.db'}"

    async def open_and_close() -> None:
        await (await Database(url).open()).close()
    asyncio.run(open_and_close())
    run_legacy(url, lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '9999_later'")))
    with pytest.raises(StoreError) as caught:
        asyncio.run(open_and_close())
    assert caught.value.code == "store_schema_unknown" and "'9999_later'" in caught.value.message


def test_an_older_replica_runs_on_a_newer_schema_during_a_rolling_upgrade(tmp_path, monkeypatch):
    # docs/production.md: migrations are additive, so with SWITCHYARD_ALLOW_NEWER_SCHEMA an
    # older version opens a database a newer one migrated, uses it, and leaves its revision.
    url = f"sqlite+aiosqlite:///{tmp_path / 'rolling.db'}"

    async def open_use_close() -> int:
        db = await Database(url).open()
        try:
            return len(await db.write(lambda conn: conn.execute(text("SELECT * FROM sessions")).all()))
        finally:
            await db.close()
    asyncio.run(open_use_close())
    run_legacy(url, lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '9999_later'")))
    monkeypatch.setenv("SWITCHYARD_ALLOW_NEWER_SCHEMA", "true")
    assert asyncio.run(open_use_close()) == 0
    versions: list = []
    run_legacy(url, lambda conn: versions.extend(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    assert versions == ["9999_later"]


def test_only_a_database_to_migrate_imports_alembic(tmp_path):
    def opening_imports_alembic(url: str) -> bool:
        script = f"""
import asyncio, sys
from switchyard.store import Store
async def main():
    store = await Store({url!r}).open()
    await store.close()
asyncio.run(main())
print("alembic" in sys.modules)
"""
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip() == "True"

    url = f"sqlite+aiosqlite:///{tmp_path / 'current.db'}"
    assert not opening_imports_alembic(url)                   # new: made from tables.py
    assert not opening_imports_alembic(url)                   # current: one query
    assert not opening_imports_alembic("sqlite+aiosqlite://")  # in memory: new at every open
    legacy = f"sqlite+aiosqlite:///{tmp_path / 'legacy.db'}"
    fill(legacy_metadata(), legacy)
    assert opening_imports_alembic(legacy)                    # before migrations: migrated


def test_a_failed_migration_leaves_the_database_as_it_was(fresh_url, monkeypatch):
    """The upgrade is one transaction, DDL included: if it fails, nothing of it stays."""
    from sqlalchemy import inspect

    from switchyard.store import schema

    secret = fill(legacy_metadata(key_name_unique=True, with_created_by=False), fresh_url,
                  tables=["api_keys", "audit_log"])
    real = schema.run_migrations

    def fail_at_the_end(conn) -> None:  # noqa: ANN001
        real(conn)
        raise RuntimeError("the disk is on fire")
    monkeypatch.setattr(schema, "run_migrations", fail_at_the_end)

    async def open_and_close() -> None:
        await (await Database(fresh_url).open()).close()
    with pytest.raises(StoreError) as caught:
        asyncio.run(open_and_close())
    assert caught.value.code == "store_unavailable" and "the disk is on fire" in caught.value.message

    facts: list = []
    run_legacy(fresh_url, lambda conn: facts.extend([
        sorted(inspect(conn).get_table_names()),
        "created_by" in {c["name"] for c in inspect(conn).get_columns("api_keys")}]))
    assert facts == [["api_keys", "audit_log"], False]
    monkeypatch.setattr(schema, "run_migrations", real)
    asyncio.run(check_everything_is_there(fresh_url, secret, sessions=False))
