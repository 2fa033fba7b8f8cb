"""The server's own model settings, kept in the server database (so every replica on one
database sees them): custom models (`/api/llm/custom-models`) and one stored API key per
provider (`/api/llm/key`), both keys encrypted at rest (server/secret_box.py).

A stored key serves every hosted agent of its provider whose own key is absent: the agents'
model clients read the environment first, then `host.stored_keys` (runtime/models.py), which
this service fills with the decrypted keys, by their environment variable's name. It is
loaded before the agents are checked at `switchyard serve` (`load_stored_keys`), at start-up,
after each change, and again before each model switch (so a key set on another replica is
used by the next switch here). Keys never leave this module except into that mapping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select

from switchyard.errors import NotFoundError, RequestError
from switchyard.ids import now_ms
from switchyard.llm.presets import PRESETS
from switchyard.server.secret_box import SecretBox, UnreadableSecret, hint_of
from switchyard.store.database import Database
from switchyard.store.tables import custom_models, provider_keys

log = logging.getLogger("switchyard.server")

# Fields of a custom model that a switch to it applies (its name is the model id).
SWITCH_FIELDS = ("provider", "baseURL", "maxInputTokens", "maxOutputTokens", "reasoning")


def key_env_of(provider: str) -> str:
    """The environment variable a provider's key is read from (RequestError when the provider
    takes no key: local models, Ollama, Bedrock's AWS credential chain)."""
    preset = PRESETS.get(provider)
    if preset is None or not preset.key_env:
        raise RequestError(f"provider {provider!r} takes no API key", code="provider_takes_no_key",
                           details={"field": "provider"})
    return preset.key_env


def _upsert(conn: Connection, table: Any, key_column: str, values: dict[str, Any]) -> None:
    found = conn.execute(select(table.c[key_column]).where(table.c[key_column] == values[key_column])).first()
    if found is None:
        conn.execute(table.insert().values(**values))
    else:
        values = {k: v for k, v in values.items() if k != "created_at"}
        conn.execute(table.update().where(table.c[key_column] == values[key_column]).values(**values))


class ModelSettings:
    def __init__(self, db: Database, box: SecretBox, stored_keys: dict[str, str],
                 drop_cached_clients: Any = None) -> None:
        self.db = db
        self.box = box
        self.stored_keys = stored_keys          # the host's: env var name -> key
        self._drop_cached = drop_cached_clients
        self._opened = asyncio.Lock()

    async def open(self) -> None:
        async with self._opened:
            if not self.db.is_open:
                await self.db.open()

    # --- provider keys -------------------------------------------------------------------

    def _decrypt_rows(self, rows: list[Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in rows:
            preset = PRESETS.get(row.provider)
            if preset is None or not preset.key_env:
                continue
            try:
                found[preset.key_env] = self.box.decrypt(row.ciphertext)
            except UnreadableSecret:
                log.warning("the stored API key of provider %s cannot be decrypted with this server's secret "
                            "key (SWITCHYARD_SECRET_KEY or $SWITCHYARD_HOME/secret.key): ignored", row.provider)
        return found

    async def refresh_keys(self) -> None:
        """Read the stored keys into the host's mapping (replacing what was there)."""
        await self.open()
        rows = await self.db.read(lambda conn: conn.execute(select(provider_keys)).all())
        found = self._decrypt_rows(rows) if rows else {}
        if found != self.stored_keys:
            self.stored_keys.clear()
            self.stored_keys.update(found)
            if self._drop_cached is not None:
                await self._drop_cached()

    async def set_key(self, provider: str, api_key: str, *, by: str | None) -> str:
        env_var = key_env_of(provider)
        if not api_key.strip() or api_key != api_key.strip():
            raise RequestError("apiKey must be a non-empty string without surrounding spaces",
                               details={"field": "apiKey"})
        await self.open()
        values = {"provider": provider, "ciphertext": self.box.encrypt(api_key), "hint": hint_of(api_key),
                  "updated_at": now_ms(), "updated_by": by}
        await self.db.write(_upsert, provider_keys, "provider", values)
        await self.refresh_keys()
        return env_var

    async def key_status(self, provider: str, env: Mapping[str, str]) -> dict[str, Any]:
        """Whether the provider has a key, and where from; at most the key's last 4 characters."""
        env_var = key_env_of(provider)
        from_env = env.get(env_var)
        status: dict[str, Any] = {"provider": provider, "envVar": env_var, "hasKey": False}
        if from_env:
            status.update(hasKey=True, source="environment", keyValue=_masked(hint_of(from_env)))
            return status
        await self.open()
        row = await self.db.read(lambda conn: conn.execute(
            select(provider_keys).where(provider_keys.c.provider == provider)).first())
        if row is not None:
            status.update(hasKey=True, source="stored", keyValue=_masked(row.hint))
        return status

    # --- custom models -------------------------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        await self.open()
        rows = await self.db.read(lambda conn: conn.execute(
            select(custom_models).order_by(custom_models.c.created_at, custom_models.c.name)).all())
        return [_public_model(row) for row in rows]

    async def save_model(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add or replace a custom model (by name). Its apiKey is stored encrypted."""
        await self.open()
        api_key = body.pop("apiKey", None)
        now = now_ms()
        values = {"name": body["name"], "body": body, "created_at": now, "updated_at": now,
                  "api_key": self.box.encrypt(api_key) if api_key else None}
        await self.db.write(_upsert, custom_models, "name", values)
        row = await self.db.read(lambda conn: conn.execute(
            select(custom_models).where(custom_models.c.name == body["name"])).first())
        return _public_model(row)

    async def delete_model(self, name: str) -> None:
        await self.open()
        gone = await self.db.write(lambda conn: conn.execute(
            delete(custom_models).where(custom_models.c.name == name)).rowcount)
        if not gone:
            raise NotFoundError(f"custom model {name!r} not found", code="custom_model_not_found",
                                details={"name": name})

    async def switch_defaults(self, name: str) -> dict[str, Any] | None:
        """What switching to the custom model `name` applies (its key decrypted), or None."""
        await self.open()
        row = await self.db.read(lambda conn: conn.execute(
            select(custom_models).where(custom_models.c.name == name)).first())
        if row is None:
            return None
        found = {k: row.body[k] for k in SWITCH_FIELDS if row.body.get(k) is not None}
        if row.api_key:
            try:
                found["apiKey"] = self.box.decrypt(row.api_key)
            except UnreadableSecret:
                log.warning("the API key of custom model %r cannot be decrypted with this server's secret key: "
                            "ignored", name)
        return found

    async def close(self) -> None:
        await self.db.close()


def _masked(hint: str | None) -> str:
    return f"...{hint}" if hint else "..."


def _public_model(row: Any) -> dict[str, Any]:
    model = dict(row.body)
    model["hasApiKey"] = bool(row.api_key)
    model["createdAt"], model["updatedAt"] = row.created_at, row.updated_at
    return model


def load_stored_keys(database_url: str, env: Mapping[str, str]) -> dict[str, str]:
    """The stored keys (env var name -> key) read once, synchronously: `switchyard serve`
    checks its agents with them before anything starts. {} when there are none; a database
    that cannot be read is left for the server's own start to report."""
    if _sqlite_holds_no_key(database_url):
        return {}

    async def load() -> dict[str, str]:
        db = Database(database_url)
        await db.open()
        try:
            rows = await db.read(lambda conn: conn.execute(select(provider_keys)).all())
            return ModelSettings(db, SecretBox(env), {})._decrypt_rows(rows) if rows else {}
        finally:
            await db.close()
    try:
        return asyncio.run(load())
    except Exception as exc:  # noqa: BLE001 - reported again, properly, when the server opens it
        log.warning("could not read the stored provider keys: %s", type(exc).__name__)
        return {}


def _sqlite_holds_no_key(database_url: str) -> bool:
    """Whether the server database is a SQLite file with no stored key (absent, or its table
    empty), asked read-only through the standard library: the usual case, answered in about a
    millisecond instead of opening (and, the first time, creating) the database before the
    server has started. False whenever it cannot tell: the full read then decides."""
    import sqlite3
    from pathlib import Path
    prefix = "sqlite+aiosqlite:///"
    path = database_url[len(prefix):] if database_url.startswith(prefix) else ""
    if not path or path.startswith(":memory:"):
        return False
    file = Path(path)
    if not file.exists():
        return True
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute(f"SELECT 1 FROM {provider_keys.name} LIMIT 1").fetchone() is None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def install_model_settings(app: Any, host: Any, settings: Any) -> ModelSettings:
    """The service on the server database, its keys loaded at start-up (after any the runner
    loaded before the agents started), closed after the agents stop."""
    service = ModelSettings(Database(settings.security.server_database_url()),
                            SecretBox(settings.env, settings.security.home), host.stored_keys,
                            host.drop_cached_clients)
    app.state.model_settings = service

    async def startup() -> None:
        if host.stored_keys or await _any_stored(service):
            await service.refresh_keys()

    app.state.startup_hooks.append(startup)
    app.state.after_stop_hooks.append(service.close)
    return service


async def _any_stored(service: ModelSettings) -> bool:
    """Whether a key is stored (one cheap query; `cryptography` is imported only when one is)."""
    await service.open()
    return await service.db.read(lambda conn: conn.execute(select(provider_keys.c.provider).limit(1)).first()
                                 is not None)


def env_with_stored_keys(request: Any) -> Mapping[str, str]:
    """The server's environment, then the provider keys it stores: what an agent file is
    checked and loaded with while serving (a config reload, an install)."""
    from collections import ChainMap
    env = request.app.state.settings.env
    stored = request.app.state.host.stored_keys
    return ChainMap(env, stored) if stored else env  # type: ignore[arg-type]


def model_settings_of(request: Any) -> ModelSettings:
    return request.app.state.model_settings
