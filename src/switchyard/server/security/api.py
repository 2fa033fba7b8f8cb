"""Admin-only HTTP API: `/api/keys` (create, list, revoke, rotate) and `/api/audit`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from switchyard.errors import ForbiddenError
from switchyard.server.deps import principal_of
from switchyard.server.routes import RouteGroup
from switchyard.server.security.keys import parse_duration

# Beyond this an offset is no page of any real audit log, and SQLite's 64-bit integers end
# a little further on (OverflowError, issue 17).
MAX_OFFSET = 2**31

routes = RouteGroup(tags=["security"], order=900)


# What the document promises is accepted (the key store's parsers take more spellings, and
# refuse values out of range, which these patterns keep clear of).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
EXPIRES_PATTERN = r"^[1-9][0-9]{0,2}[smhd]$"
GRACE_PATTERN = r"^(?:[0-9]{1,2}[smh]|[0-9]d|[12][0-9]d|30d)$"
# One to five limits joined by ";", each 1 to 10^9 requests per unit (keys.py checks the same).
RATE_PATTERN = r"^[1-9][0-9]{0,8}/(?:second|minute|hour|day)(?:;[1-9][0-9]{0,8}/(?:second|minute|hour|day)){0,4}$"


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    scopes: list[Literal["read", "chat", "admin"]] = Field(default_factory=lambda: ["chat"], min_length=1)
    expiresIn: str | None = Field(None, pattern=EXPIRES_PATTERN, description="a duration such as 30d, 12h, 15m")
    rateLimit: str | None = Field(None, pattern=RATE_PATTERN, description="this key's own limit, e.g. 60/minute")


class RotateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace: str | None = Field(None, pattern=GRACE_PATTERN, description="how long the old key keeps working, e.g. 1h")
    expiresIn: str | None = Field(None, pattern=EXPIRES_PATTERN)


def _security(request: Request) -> Any:
    principal = principal_of(request)
    if not principal.is_admin:  # the scope middleware already refused; belt and braces
        raise ForbiddenError("This API key lacks the 'admin' scope.", code="insufficient_scope",
                             details={"requiredScope": "admin"})
    return request.app.state.security


def _actor(request: Request) -> str | None:
    return principal_of(request).name


@routes.get("/api/keys", scope="admin", summary="List API keys (never their secrets)")
async def list_keys(request: Request, active: bool = False) -> dict[str, Any]:
    security = _security(request)
    records = await security.keys.list(include_inactive=not active)
    return {"keys": [r.public() for r in records]}


@routes.post("/api/keys", scope="admin", status_code=201, errors=(409,),
             summary="Create an API key; the secret is shown only now")
async def create_key(request: Request, body: CreateKeyBody) -> JSONResponse:
    security = _security(request)
    expires = parse_duration(body.expiresIn) if body.expiresIn else None
    secret, record = await security.keys.create(body.name, body.scopes, expires_in=expires,
                                                rate_limit=body.rateLimit, created_by=_actor(request))
    await security.audit.record(request, "key.create", details={
        "name": record.name, "prefix": record.prefix, "scopes": list(record.scopes),
        "expiresIn": body.expiresIn, "via": "api"})
    return JSONResponse({"key": secret, "apiKey": record.public(),
                         "warning": "Store this key now: it is not shown again."},
                        status_code=201, headers={"cache-control": "no-store"})


@routes.delete("/api/keys/{name}", scope="admin", errors=(404,), summary="Revoke every active key of that name")
async def revoke_key(request: Request, name: str) -> dict[str, Any]:
    security = _security(request)
    revoked = await security.keys.revoke(name)
    await security.audit.record(request, "key.revoke", details={
        "name": name, "prefixes": [r.prefix for r in revoked], "via": "api"})
    return {"revoked": True, "name": name, "count": len(revoked)}


@routes.post("/api/keys/{name}/rotate", scope="admin", status_code=201, errors=(404,),
             summary="Replace a key; the old one keeps working for the grace period")
async def rotate_key(request: Request, name: str,
                     body: RotateKeyBody | None = Body(None)) -> JSONResponse:  # noqa: B008
    security = _security(request)
    body = body or RotateKeyBody()
    grace = parse_duration(body.grace) if body.grace else 0.0
    expires = parse_duration(body.expiresIn) if body.expiresIn else None
    secret, record, old = await security.keys.rotate(name, grace_seconds=grace, expires_in=expires)
    await security.audit.record(request, "key.rotate", details={
        "name": name, "prefix": record.prefix, "previousPrefix": old.prefix, "grace": body.grace,
        "via": "api"})
    return JSONResponse({"key": secret, "apiKey": record.public(), "previous": old.public(),
                         "warning": "Store this key now: it is not shown again."},
                        status_code=201, headers={"cache-control": "no-store"})


@routes.get("/api/audit", scope="admin", summary="The audit log, newest first (paginated, filterable)")
async def audit(request: Request,
                limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                action: str | None = Query(None, description="exact, or a prefix ending in *"),
                keyName: str | None = None, outcome: str | None = None, address: str | None = None,
                since: float | None = Query(None, description="epoch seconds", allow_inf_nan=False),
                until: float | None = Query(None, description="epoch seconds", allow_inf_nan=False)) -> dict[str, Any]:
    security = _security(request)
    entries, total = await security.audit.query(limit=limit, offset=offset, action=action,
                                                key_name=keyName, outcome=outcome, address=address,
                                                since=since, until=until)
    next_offset = offset + len(entries) if offset + len(entries) < total else None
    return {"entries": entries, "total": total, "limit": limit, "offset": offset, "nextOffset": next_offset}
