"""The server-level database that holds API keys and the audit log.

SWITCHYARD_DATABASE_URL (Postgres) or, by default, SQLite at `$SWITCHYARD_HOME/server.db`.
The server and the `switchyard keys` command open the same one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.store.engine import create_engine
from switchyard.store.tables import api_keys, audit_log, metadata


class ServerDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the server database is not open")
        return self._engine

    async def open(self) -> ServerDatabase:
        if self._engine is None:
            engine = create_engine(self.url)
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: metadata.create_all(sync, tables=[api_keys, audit_log]))
                await conn.run_sync(_upgrade)
            self._engine = engine
        return self

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    @property
    def backend(self) -> str:
        return "postgres" if self.url.startswith("postgresql") else "sqlite"


def _upgrade(sync_conn: Any) -> None:
    """Bring tables created by an earlier schema up to this one (idempotent): add missing
    nullable columns, drop the old unique constraint on api_keys.name (a rotated key shares
    its name with its successor), create missing indexes."""
    inspector = inspect(sync_conn)
    dialect = sync_conn.dialect.name
    for table in (api_keys, audit_log):
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable and not column.primary_key:
                kind = column.type.compile(dialect=sync_conn.dialect)
                sync_conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
    unique_on_name = [u for u in inspector.get_unique_constraints("api_keys") if u["column_names"] == ["name"]]
    unique_on_name += [i for i in inspector.get_indexes("api_keys")
                       if i.get("unique") and i["column_names"] == ["name"]]
    if dialect == "sqlite" and not unique_on_name:
        # Inline column constraints show up only as sqlite_autoindex_* indexes.
        for row in sync_conn.execute(text("PRAGMA index_list(api_keys)")).all():
            if row[2]:  # unique
                columns = [r[2] for r in sync_conn.execute(text(f"PRAGMA index_info('{row[1]}')")).all()]
                if columns == ["name"]:
                    unique_on_name.append({"name": row[1]})
    if unique_on_name:
        if dialect == "postgresql":
            for item in unique_on_name:
                if item.get("name"):
                    sync_conn.execute(text(f'ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS "{item["name"]}"'))
                    sync_conn.execute(text(f'DROP INDEX IF EXISTS "{item["name"]}"'))
        else:  # SQLite cannot drop a table constraint: rebuild the table
            names = ", ".join(c.name for c in api_keys.columns)
            sync_conn.execute(text("ALTER TABLE api_keys RENAME TO api_keys_old"))
            for index in api_keys.indexes:
                sync_conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            api_keys.create(sync_conn)
            sync_conn.execute(text(f"INSERT INTO api_keys ({names}) SELECT {names} FROM api_keys_old"))
            sync_conn.execute(text("DROP TABLE api_keys_old"))
    for table in (api_keys, audit_log):
        for index in table.indexes:
            index.create(sync_conn, checkfirst=True)
