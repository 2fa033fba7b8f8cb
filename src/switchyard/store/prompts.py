"""Custom prompts (the reference's `POST /api/prompts/custom`) and the files kept with them.

A custom prompt belongs to the agent, not to a key: only admins make or delete one (the
scope table), and every caller that may read the agent's prompts sees it. A prompt's attached
file is a row of `blobs`, named `blob:<id>`: resolving the prompt lists that URI and
GET /api/resources/{uri}/content reads it back. Deleting the prompt deletes its file, in the
same transaction."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from switchyard.errors import ConflictError, NotFoundError
from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.tables import blobs, custom_prompts

BLOB_SCHEME = "blob:"


def _prompt_dict(row: Any) -> dict[str, Any]:
    prompt: dict[str, Any] = {"name": row.name, "content": row.content,
                              "createdAt": row.created_at, "updatedAt": row.updated_at}
    for key, value in (("title", row.title), ("description", row.description),
                       ("arguments", row.arguments), ("resourceUri", row.resource_uri)):
        if value:
            prompt[key] = value
    return prompt


def _exists(name: str) -> ConflictError:
    return ConflictError(f"Prompt already exists: {name}", code="prompt_already_exists",
                         details={"name": name})


class CustomPromptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, agent_id: str) -> list[dict[str, Any]]:
        """Oldest first (the order they were made in)."""
        query = (select(custom_prompts, blobs.c.mime_type, blobs.c.original_name)
                 .select_from(custom_prompts.outerjoin(blobs, (blobs.c.agent_id == custom_prompts.c.agent_id)
                                                       & (BLOB_SCHEME + blobs.c.id == custom_prompts.c.resource_uri)))
                 .where(custom_prompts.c.agent_id == agent_id)
                 .order_by(custom_prompts.c.created_at, custom_prompts.c.name))

        def run(conn: Connection) -> list[dict[str, Any]]:
            found = []
            for row in conn.execute(query).all():
                prompt = _prompt_dict(row)
                if row.resource_uri:
                    prompt["resourceMetadata"] = {k: v for k, v in (("mimeType", row.mime_type),
                                                                    ("originalName", row.original_name)) if v}
                found.append(prompt)
            return found
        return await self.db.read(run)

    async def create(self, agent_id: str, prompt: dict[str, Any], *,
                     resource: dict[str, Any] | None = None) -> dict[str, Any]:
        """`prompt`: name (already a slug), content, title?, description?, arguments?.
        `resource`: {data: bytes, mimeType, filename?}, kept as a blob. ConflictError when the
        agent has a custom prompt of that name."""
        now = now_ms()
        row = {"agent_id": agent_id, "name": prompt["name"], "content": prompt["content"],
               "title": prompt.get("title"), "description": prompt.get("description"),
               "arguments": prompt.get("arguments"), "resource_uri": None,
               "created_at": now, "updated_at": now}

        def run(conn: Connection) -> None:
            taken = conn.execute(select(custom_prompts.c.name).where(
                custom_prompts.c.agent_id == agent_id, custom_prompts.c.name == prompt["name"])).first()
            if taken is not None:
                raise _exists(prompt["name"])
            if resource is not None:
                blob_id = secrets.token_hex(16)
                conn.execute(insert(blobs).values(
                    agent_id=agent_id, id=blob_id, mime_type=resource["mimeType"],
                    original_name=resource.get("filename"), size=len(resource["data"]), source="system",
                    data=resource["data"], created_at=now))
                row["resource_uri"] = BLOB_SCHEME + blob_id
            conn.execute(insert(custom_prompts).values(**row))
        try:
            await self.db.write(run)
        except IntegrityError:   # made at the same moment by another request or replica
            raise _exists(prompt["name"]) from None
        return _prompt_dict(SimpleNamespace(**row))   # the row just written, not read back

    async def delete(self, agent_id: str, name: str) -> None:
        def run(conn: Connection) -> None:
            found = conn.execute(select(custom_prompts.c.resource_uri).where(
                custom_prompts.c.agent_id == agent_id, custom_prompts.c.name == name)).first()
            if found is None:
                raise NotFoundError(f"Prompt not found: {name}", code="prompt_not_found",
                                    details={"name": name})
            conn.execute(delete(custom_prompts).where(custom_prompts.c.agent_id == agent_id,
                                                      custom_prompts.c.name == name))
            if found.resource_uri:
                conn.execute(delete(blobs).where(blobs.c.agent_id == agent_id,
                                                 blobs.c.id == found.resource_uri.removeprefix(BLOB_SCHEME)))
        await self.db.write(run)

    async def blob(self, agent_id: str, uri: str, *, with_data: bool = True) -> dict[str, Any] | None:
        """The stored file `blob:<id>`: {mimeType, originalName?, size, source, createdAt, data?};
        None when there is none."""
        if not uri.startswith(BLOB_SCHEME):
            return None
        columns = [blobs.c.mime_type, blobs.c.original_name, blobs.c.size, blobs.c.source, blobs.c.created_at]
        if with_data:
            columns.append(blobs.c.data)
        query = select(*columns).where(blobs.c.agent_id == agent_id, blobs.c.id == uri.removeprefix(BLOB_SCHEME))
        row = await self.db.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        found: dict[str, Any] = {"mimeType": row.mime_type, "size": row.size, "source": row.source,
                                 "createdAt": row.created_at}
        if row.original_name:
            found["originalName"] = row.original_name
        if with_data:
            found["data"] = bytes(row.data)
        return found


    async def list_blobs(self, agent_id: str, *, exclude_source: str = "system") -> list[dict[str, Any]]:
        """The agent's stored files without their data, oldest first: {uri, mimeType, size, source,
        createdAt, originalName?}. Those of `exclude_source` are left out: the reference does not
        list its `system` files (a custom prompt's attachment) as resources."""
        query = (select(blobs.c.id, blobs.c.mime_type, blobs.c.original_name, blobs.c.size, blobs.c.source,
                        blobs.c.created_at)
                 .where(blobs.c.agent_id == agent_id, blobs.c.source != exclude_source)
                 .order_by(blobs.c.created_at, blobs.c.id))
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [{"uri": BLOB_SCHEME + row.id, "mimeType": row.mime_type, "size": row.size, "source": row.source,
                 "createdAt": row.created_at, **({"originalName": row.original_name} if row.original_name else {})}
                for row in rows]
