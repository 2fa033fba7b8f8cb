"""Named API keys with scopes, expiry and rotation, stored only as SHA-256 hashes.

A key looks like `sy_<32 random base62 chars>_<6-char checksum>`. The prefix makes a leaked
key recognisable to secret scanners; the checksum (CRC32 of the rest) lets `looks_like_key`
tell a real key from a random string without the database, and lets the server reject
malformed keys without a query. The secret itself is shown once, at creation.

Verification results are cached for at most KEY_CACHE_SECONDS (< 1 s), so a key revoked in
another process (the CLI, another worker) stops working within a second.

The keys live in the `api_keys` table of the store's one metadata (store/tables.py) and every
query runs through a store `Database` (one transaction per call), as sessions do: the key
format, scopes and rotation rules stay here, with the rest of the security code.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import string
import time
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select, update

from switchyard.errors import ConflictError, NotFoundError, RequestError
from switchyard.ids import now_ms
from switchyard.server.security.settings import KEY_CACHE_SECONDS
from switchyard.store.database import Database
from switchyard.store.tables import api_keys

KEY_PREFIX = "sy_"
SCOPES = ("read", "chat", "admin")
ROOT_KEY_NAME = "root"       # the environment key's principal name; reserved
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_RANDOM_LEN = 32
_CHECK_LEN = 6
_KEY_RE = re.compile(r"^sy_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LAST_USED_EVERY_MS = 60_000
_CACHE_MAX = 10_000


# --- the key format --------------------------------------------------------------------

def _base62(number: int, width: int) -> str:
    out = []
    while number:
        number, digit = divmod(number, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out)).rjust(width, "0")[-width:]


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32((KEY_PREFIX + random_part).encode()), _CHECK_LEN)


def generate_key() -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LEN))
    return f"{KEY_PREFIX}{random_part}_{_checksum(random_part)}"


def looks_like_key(text: str) -> bool:
    """True for a well-formed Switchyard key (prefix, length, valid checksum)."""
    match = _KEY_RE.match(text)
    return bool(match) and secrets.compare_digest(_checksum(match.group(1)), match.group(2))


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_prefix(secret: str) -> str:
    """The non-secret part shown in listings: `sy_` and the first 6 random characters."""
    return secret[: len(KEY_PREFIX) + 6]


# Ranges of a key's settings (issue 17: `expiresIn: 99999999999d` and `0/second` were taken).
MAX_KEY_LIFETIME_SECONDS = 10 * 365 * 86400
MAX_GRACE_SECONDS = 30 * 86400
MAX_RATE_AMOUNT = 1_000_000_000
MAX_RATE_MULTIPLES = 1_000_000
MAX_RATE_ITEMS = 5
_ZERO_WINDOW = re.compile(r"(?:/|\bper)\s*0+\s*[a-z]", re.I)


def parse_duration(text: str) -> float:
    """`30d`, `1h`, `90s`, `1h30m` -> seconds."""
    cleaned = text.strip().lower()
    parts = _DURATION_RE.findall(cleaned)
    if not parts or _DURATION_RE.sub("", cleaned).strip():
        raise RequestError(f"invalid duration {text!r}: use e.g. 30d, 12h, 15m, 90s",
                           code="invalid_duration", details={"value": text})
    return sum(float(n) * _UNITS[u] for n, u in parts)


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """admin implies chat and read; chat implies read."""
    out = set(scopes)
    if "admin" in out:
        out |= {"chat", "read"}
    if "chat" in out:
        out.add("read")
    return frozenset(out)


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for scope in scopes:
        for item in str(scope).split(","):
            item = item.strip().lower()
            if not item:
                continue
            if item not in SCOPES:
                raise RequestError(f"unknown scope {item!r}: use read, chat or admin",
                                   code="invalid_scope", details={"scope": item})
            if item not in cleaned:
                cleaned.append(item)
    if not cleaned:
        raise RequestError("at least one scope is required (read, chat, admin)", code="invalid_scope")
    return sorted(cleaned, key=SCOPES.index)


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise RequestError("a key name is 1-64 characters of letters, digits, '.', '_' or '-'",
                           code="invalid_key_name", details={"name": name})
    if name.lower() == ROOT_KEY_NAME:
        raise RequestError(f"the name {ROOT_KEY_NAME!r} is reserved for the environment key",
                           code="invalid_key_name", details={"name": name})
    return name


# --- records ---------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    rate_limit: str | None
    replaced_by: str | None
    created_by: str | None

    @classmethod
    def from_row(cls, row: Any) -> KeyRecord:
        return cls(id=row.id, name=row.name, prefix=row.prefix, scopes=tuple(row.scopes or ()),
                   created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
                   last_used_at=row.last_used_at, rate_limit=row.rate_limit,
                   replaced_by=row.replaced_by, created_by=row.created_by)

    def status(self, at_ms: int | None = None) -> str:
        at_ms = now_ms() if at_ms is None else at_ms
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at_ms:
            return "expired"
        if self.replaced_by is not None:
            return "rotating"      # the old key of a rotation, inside its grace period
        return "active"

    def public(self) -> dict[str, Any]:
        """What listings show: never the secret or its hash."""
        def iso(ms: int | None) -> str | None:
            if ms is None:
                return None
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "scopes": list(self.scopes),
                "status": self.status(), "createdAt": iso(self.created_at),
                "expiresAt": iso(self.expires_at), "revokedAt": iso(self.revoked_at),
                "lastUsedAt": iso(self.last_used_at), "rateLimit": self.rate_limit,
                "replacedBy": self.replaced_by, "createdBy": self.created_by}


@dataclass(frozen=True)
class Verification:
    record: KeyRecord | None
    reason: str        # ok | malformed | unknown | revoked | expired

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


# --- the store -------------------------------------------------------------------------

class ApiKeyStore:
    def __init__(self, db: Database, *, cache_seconds: float = KEY_CACHE_SECONDS) -> None:
        self.db = db
        self.cache_seconds = min(cache_seconds, KEY_CACHE_SECONDS)
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        self._touching: set[str] = set()

    def invalidate(self) -> None:
        self._cache.clear()

    async def create(self, name: str, scopes: Iterable[str], *, expires_in: float | None = None,
                     rate_limit: str | None = None, created_by: str | None = None) -> tuple[str, KeyRecord]:
        """A new key. Returns (secret, record); the secret is never stored or shown again."""
        validate_name(name)
        scope_list = validate_scopes(scopes)
        if rate_limit is not None:
            rate_limit = _valid_rate_limit(rate_limit)
        _check_lifetime(expires_in, "expiresIn")

        def run(conn: Connection) -> tuple[str, KeyRecord]:
            if _live_rows(conn, name):
                raise ConflictError(f"an API key named {name!r} already exists (revoke or rotate it)",
                                    code="key_exists", details={"name": name})
            return _insert(conn, name, scope_list, expires_in=expires_in, rate_limit=rate_limit,
                           created_by=created_by)
        secret, record = await self.db.write(run)
        self.invalidate()
        return secret, record

    async def list(self, *, include_inactive: bool = True) -> list[KeyRecord]:
        query = select(api_keys).order_by(api_keys.c.name, api_keys.c.created_at)
        records = await self.db.read(lambda conn: [KeyRecord.from_row(r) for r in conn.execute(query).all()])
        if not include_inactive:
            records = [r for r in records if r.status() in ("active", "rotating")]
        return records

    async def revoke(self, name: str) -> list[KeyRecord]:
        """Revoke every still-usable key of that name (a rotated key in grace too)."""
        at = now_ms()

        def run(conn: Connection) -> list[KeyRecord]:
            rows = _live_rows(conn, name)
            if not rows:
                raise NotFoundError(f"no active API key named {name!r}", code="key_not_found",
                                    details={"name": name})
            ids = [r.id for r in rows]
            conn.execute(update(api_keys).where(api_keys.c.id.in_(ids)).values(revoked_at=at))
            return [KeyRecord.from_row(r) for r in conn.execute(select(api_keys).where(api_keys.c.id.in_(ids))).all()]
        revoked = await self.db.write(run)
        self.invalidate()
        return revoked

    async def rotate(self, name: str, *, grace_seconds: float = 0.0,
                     expires_in: float | None = None) -> tuple[str, KeyRecord, KeyRecord]:
        """A new key for `name`; the old one keeps working for `grace_seconds`.
        Returns (secret, new record, old record)."""
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise RequestError(f"grace must be between 0 and {MAX_GRACE_SECONDS // 86400} days",
                               code="invalid_duration", details={"field": "grace"})
        _check_lifetime(expires_in, "expiresIn")
        at = now_ms()

        def run(conn: Connection) -> tuple[str, KeyRecord, KeyRecord]:
            rows = [r for r in _live_rows(conn, name) if r.replaced_by is None]
            if not rows:
                raise NotFoundError(f"no active API key named {name!r}", code="key_not_found",
                                    details={"name": name})
            old = rows[-1]
            lifetime = expires_in
            if lifetime is None and old.expires_at is not None:
                lifetime = max(1.0, (old.expires_at - old.created_at) / 1000)
            secret, record = _insert(conn, name, list(old.scopes), expires_in=lifetime,
                                     rate_limit=old.rate_limit, created_by=old.created_by)
            until = at + int(grace_seconds * 1000)
            new_expiry = until if old.expires_at is None else min(old.expires_at, until)
            conn.execute(update(api_keys).where(api_keys.c.id == old.id)
                         .values(expires_at=new_expiry, replaced_by=record.id))
            old_row = conn.execute(select(api_keys).where(api_keys.c.id == old.id)).one()
            return secret, record, KeyRecord.from_row(old_row)
        result = await self.db.write(run)
        self.invalidate()
        return result

    async def verify(self, secret: str) -> Verification:
        """Is this a usable key? Never raises for a bad key; the reason says why not."""
        if not looks_like_key(secret):
            return Verification(None, "malformed")
        digest = key_hash(secret)
        clock = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > clock:
            record = cached[1]
        else:
            record = await self.db.read(_by_hash, digest)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (clock + self.cache_seconds, record)
            if record is not None:
                self._touch_later(record)
        if record is None:
            return Verification(None, "unknown")
        status = record.status()
        if status in ("revoked", "expired"):
            return Verification(record, status)
        return Verification(record, "ok")

    # --- internals ---------------------------------------------------------------------

    def _touch_later(self, record: KeyRecord) -> None:
        """Record last use at most once a minute per key, off the request path."""
        at = now_ms()
        if record.last_used_at is not None and at - record.last_used_at < _LAST_USED_EVERY_MS:
            return
        if record.id in self._touching:
            return
        self._touching.add(record.id)

        async def touch() -> None:
            try:
                await self.db.write(lambda conn: conn.execute(
                    update(api_keys).where(api_keys.c.id == record.id).values(last_used_at=at)))
            except Exception:  # noqa: BLE001, S110 - bookkeeping only
                pass
            finally:
                self._touching.discard(record.id)
        try:
            task = asyncio.get_running_loop().create_task(touch())
            _background.add(task)
            task.add_done_callback(_background.discard)
        except RuntimeError:
            self._touching.discard(record.id)


_background: set[asyncio.Task[None]] = set()


# --- queries (each runs inside a transaction of `Database.write`/`read`) -----------------

def _by_hash(conn: Connection, digest: str) -> KeyRecord | None:
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == digest)).first()
    return KeyRecord.from_row(row) if row is not None else None


def _live_rows(conn: Connection, name: str) -> list[KeyRecord]:
    at = now_ms()
    rows = conn.execute(
        select(api_keys).where(and_(api_keys.c.name == name, api_keys.c.revoked_at.is_(None)))
        .order_by(api_keys.c.created_at)).all()
    return [KeyRecord.from_row(r) for r in rows if r.expires_at is None or r.expires_at > at]


def _insert(conn: Connection, name: str, scopes: list[str], *, expires_in: float | None,
            rate_limit: str | None, created_by: str | None) -> tuple[str, KeyRecord]:
    secret = generate_key()
    at = now_ms()
    values = {"id": uuid.uuid4().hex, "name": name, "prefix": key_prefix(secret),
              "key_hash": key_hash(secret), "scopes": scopes, "created_at": at,
              "expires_at": at + int(expires_in * 1000) if expires_in else None,
              "revoked_at": None, "last_used_at": None, "rate_limit": rate_limit,
              "replaced_by": None, "created_by": created_by}
    conn.execute(api_keys.insert().values(**values))
    return secret, KeyRecord(**{k: v for k, v in values.items() if k != "key_hash"}
                             | {"scopes": tuple(scopes)})


def _check_lifetime(seconds: float | None, field: str) -> None:
    """A key's lifetime: in the future, and not so far that it overflows the expiry column
    (`99999999999d`, issue 17) or means "forever" (leave the expiry out for that)."""
    if seconds is None:
        return
    if not 1 <= seconds <= MAX_KEY_LIFETIME_SECONDS:
        raise RequestError(f"{field} must be between 1s and {MAX_KEY_LIFETIME_SECONDS // 86400}d "
                           "(leave it out for a key that does not expire)",
                           code="invalid_duration", details={"field": field})


def _valid_rate_limit(value: str) -> str:
    """A `limits` string whose every window allows at least one request: `0/second` would
    lock the key out for good, and a window of zero length means nothing."""
    from limits import parse_many
    problem = f"invalid rate limit {value!r}: use e.g. 60/minute or 5/second"
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if _ZERO_WINDOW.search(value):   # `limits` reads a window of 0 units as 1
        items = []
        problem = f"invalid rate limit {value!r}: the window must be 1 to {MAX_RATE_MULTIPLES} units long"
    for item in items:
        if not 1 <= item.amount <= MAX_RATE_AMOUNT:
            problem = (f"invalid rate limit {value!r}: the number of requests must be between 1 and "
                       f"{MAX_RATE_AMOUNT}")
            items = []
        elif not 1 <= item.multiples <= MAX_RATE_MULTIPLES:
            problem = f"invalid rate limit {value!r}: the window must be 1 to {MAX_RATE_MULTIPLES} units long"
            items = []
        if not items:
            break
    if not items or len(items) > MAX_RATE_ITEMS:
        raise RequestError(problem, code="invalid_rate_limit", details={"field": "rateLimit", "value": value})
    return value
