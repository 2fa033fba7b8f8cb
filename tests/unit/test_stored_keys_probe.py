"""`switchyard serve` looks for stored provider keys before it starts (server/model_settings.py):
a read-only sqlite3 look answers "none stored" without opening (or creating) the server database,
and anything it cannot tell is left to the full read."""

from __future__ import annotations

import asyncio

from switchyard.server.model_settings import _sqlite_holds_no_key, load_stored_keys
from switchyard.store.database import Database
from switchyard.store.tables import provider_keys


def _url(path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def test_a_missing_database_holds_no_key_and_is_not_created(tmp_path):
    path = tmp_path / "server.db"
    assert _sqlite_holds_no_key(_url(path)) is True
    assert load_stored_keys(_url(path), {}) == {}
    assert not path.exists()


def test_an_empty_table_holds_no_key_and_a_stored_row_is_read_in_full(tmp_path):
    url = _url(tmp_path / "server.db")

    async def make(with_row: bool) -> None:
        db = Database(url)
        await db.open()
        if with_row:
            await db.write(lambda conn: conn.execute(provider_keys.insert().values(
                provider="openai", ciphertext="not-a-real-ciphertext", updated_at=1)))
        await db.close()

    asyncio.run(make(False))
    assert _sqlite_holds_no_key(url) is True
    asyncio.run(make(True))
    assert _sqlite_holds_no_key(url) is False    # the full read decides (and decrypts)


def test_what_it_cannot_tell_is_left_to_the_full_read(tmp_path):
    assert _sqlite_holds_no_key("postgresql+asyncpg://u@127.0.0.1/db") is False
    (tmp_path / "garbage.db").write_bytes(b"this is not a sqlite database" * 100)
    assert _sqlite_holds_no_key(_url(tmp_path / "garbage.db")) is False
    (tmp_path / "other.db").touch()      # a database without the table (a sqlite3 error)
    assert _sqlite_holds_no_key(_url(tmp_path / "other.db")) is False
