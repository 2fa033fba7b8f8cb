"""The store on each backend a test should pass on: a SQLite file, SQLite in memory, and
Postgres when SWITCHYARD_TEST_POSTGRES_URL is set (skipped, saying why, when it is not).

    from tests.support.stores import agent, store  # noqa: F401 - fixtures
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from switchyard.store import Store
from switchyard.store.engine import postgres_async_url
from tests.conftest import postgres_url

STORE_KINDS = ("sqlite-file", "sqlite-memory", "postgres")


def store_url(kind: str, folder: Path, name: str = "store.db") -> str:
    """The database URL of a backend `kind` (a file named `name` in `folder` for sqlite-file)."""
    if kind == "sqlite-file":
        return f"sqlite+aiosqlite:///{folder / name}"
    if kind == "sqlite-memory":
        return "sqlite+aiosqlite://"
    if not postgres_url():
        pytest.skip("SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
    return postgres_async_url(postgres_url())


@pytest.fixture(params=STORE_KINDS)
async def store(request, tmp_path):
    opened = await Store(store_url(request.param, tmp_path)).open()
    yield opened
    await opened.close()


@pytest.fixture
def agent() -> str:
    """An agent id of its own (Postgres is shared by the tests of a run)."""
    return f"agent-{uuid.uuid4().hex[:10]}"
