"""The audit log: security-relevant actions, in the server database.

Rows carry time, action, the acting key's *name* (never a secret), client address, route,
outcome and small details. Details pass through the log redactor before they are stored.
The rows live in the `audit_log` table of the store's one metadata and are written and read
through a store `Database`, like every other table.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy import Connection, and_, func, select

from switchyard.logs import redact
from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.store.database import Database
from switchyard.store.tables import audit_log

log = logging.getLogger("switchyard.audit")

MAX_PAGE = 500


def client_address(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _scope_of(request: Any) -> dict[str, Any] | None:
    if request is None:
        return None
    if isinstance(request, dict):
        return request
    return getattr(request, "scope", None)


def _clean(details: Any) -> Any:
    if details is None:
        return None
    try:
        return json.loads(redact(json.dumps(details, default=str)))
    except (TypeError, ValueError):
        return {"value": redact(str(details))}


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, request: Any, action: str, *, outcome: str = "ok",
                     key_name: str | None = None, address: str | None = None,
                     route: str | None = None, details: Any = None) -> None:
        """Write one row. `request` is a Starlette Request, an ASGI scope, or None (CLI).
        Never raises: a failing audit write is logged, the request goes on."""
        scope = _scope_of(request)
        if scope is not None:
            principal = scope.get(PRINCIPAL_SCOPE_KEY)
            if key_name is None and principal is not None:
                key_name = principal.name
            address = address or client_address(scope)
            route = route or f"{scope.get('method', '')} {scope.get('path', '')}".strip()
        row = {"ts": time.time(), "action": action, "key_name": key_name, "address": address,
               "route": route, "outcome": outcome, "details": _clean(details)}
        if not self.db.is_open:
            log.warning("audit log not open; dropped %s", action)
            return
        try:
            await self.db.write(lambda conn: conn.execute(audit_log.insert().values(**row)))
        except Exception as exc:  # noqa: BLE001 - auditing must not break the request
            log.error("audit write failed for %s: %s", action, type(exc).__name__)

    async def query(self, *, limit: int = 50, offset: int = 0, action: str | None = None,
                    key_name: str | None = None, outcome: str | None = None,
                    address: str | None = None, since: float | None = None,
                    until: float | None = None) -> tuple[list[dict[str, Any]], int]:
        """Newest first. `action` may end in `*` to match a prefix (e.g. `key.*`)."""
        limit = max(1, min(int(limit), MAX_PAGE))
        offset = max(0, int(offset))
        conditions = []
        if action:
            if action.endswith("*"):
                conditions.append(audit_log.c.action.like(action[:-1].replace("%", r"\%") + "%"))
            else:
                conditions.append(audit_log.c.action == action)
        if key_name:
            conditions.append(audit_log.c.key_name == key_name)
        if outcome:
            conditions.append(audit_log.c.outcome == outcome)
        if address:
            conditions.append(audit_log.c.address == address)
        if since is not None:
            conditions.append(audit_log.c.ts >= since)
        if until is not None:
            conditions.append(audit_log.c.ts < until)
        where = and_(True, *conditions)
        page = (select(audit_log).where(where).order_by(audit_log.c.ts.desc(), audit_log.c.id.desc())
                .limit(limit).offset(offset))

        def run(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(select(func.count()).select_from(audit_log).where(where)).scalar_one()
            return [_entry(r) for r in conn.execute(page).all()], int(total)
        return await self.db.read(run)


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row.id, "ts": row.ts,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row.ts)) + f".{int(row.ts * 1000) % 1000:03d}Z",
            "action": row.action, "keyName": row.key_name, "address": row.address,
            "route": row.route, "outcome": row.outcome, "details": row.details}
