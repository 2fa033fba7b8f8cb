"""The Alembic environment, for developers writing a migration with the `alembic` command.
Switchyard itself never runs this file: store/schema.py applies the migrations when a
database is opened.

Adding a migration (a new column, a new table):

1. Change the tables in src/switchyard/store/tables.py.
2. Make a database at the current head, e.g. start Python with
   `asyncio.run(Database("sqlite+aiosqlite:////tmp/head.db").open())`.
3. From the repository root, let Alembic compare it with tables.py and write the migration:

       alembic -c src/switchyard/store/migrations/alembic.ini -x url=sqlite:////tmp/head.db \\
           revision --autogenerate --rev-id 0003_what_it_does -m "what it does"

   Read what it wrote (autogenerate misses renames and server defaults), make it work on
   SQLite and Postgres (`op.batch_alter_table` for SQLite's ALTER limits: it is what
   autogenerate writes here), and never import store/tables.py from a migration.
4. Set HEAD in migrations/__init__.py to the new revision id.
5. Run tests/test_store_migrations.py: it checks HEAD, and that a migrated database matches
   tables.py on SQLite and Postgres.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection, create_engine

from switchyard.store.engine import postgres_async_url, sync_sqlite_url
from switchyard.store.fulltext import include_name
from switchyard.store.tables import metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("SWITCHYARD_DATABASE_URL")
    if not url:
        raise SystemExit("give the database: alembic ... -x url=sqlite:////path/to.db (or postgresql://...)")
    return url


def _migrate(conn: Connection) -> None:
    # The full-text index's tables are DDL of store/fulltext.py, not of tables.py.
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    engine = create_async_engine(postgres_async_url(url))
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate)
    finally:
        await engine.dispose()


def main() -> None:
    url = _url()
    if url.startswith("sqlite"):
        engine = create_engine(sync_sqlite_url(url))
        try:
            with engine.connect() as conn:
                _migrate(conn)
        finally:
            engine.dispose()
    else:
        asyncio.run(_migrate_postgres(url))


main()
