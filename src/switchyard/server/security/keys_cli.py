"""`switchyard keys ...`: manage API keys in the server database (the one `serve` uses:
SWITCHYARD_DATABASE_URL, or SQLite at $SWITCHYARD_HOME/server.db).

    switchyard keys create --name N --scope chat [--scope read] [--expires 30d] [--rate-limit 60/minute]
    switchyard keys list [--json]
    switchyard keys revoke N
    switchyard keys rotate N [--grace 1h] [--expires 30d]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Any

from switchyard.errors import SwitchyardError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard keys", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Manage API keys in the server database (stored hashed; the secret is shown once).\n"
                    "Scopes: read, chat, admin. `switchyard keys ACTION --help` describes an action.",
        epilog="examples:\n"
               "  switchyard keys create --name ci --scope chat --expires 30d\n"
               "  switchyard keys list --active\n"
               "  switchyard keys rotate ci --grace 1h\n"
               "  switchyard keys revoke ci")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key; its secret is printed once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                        help="read, chat or admin (repeatable, or comma-separated); default chat")
    create.add_argument("--expires", help="lifetime, e.g. 30d, 12h (default: never)")
    create.add_argument("--rate-limit", help="this key's own rate limit, e.g. 60/minute")
    create.add_argument("--json", action="store_true", help="machine-readable output")
    listing = sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--active", action="store_true", help="only keys that still work")
    listing.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke every active key of that name, at once")
    revoke.add_argument("name")
    revoke.add_argument("--json", action="store_true")
    rotate = sub.add_parser("rotate", help="issue a new key; the old one works for --grace")
    rotate.add_argument("name")
    rotate.add_argument("--grace", default="0s", help="how long the old key keeps working (e.g. 1h)")
    rotate.add_argument("--expires", help="lifetime of the new key (default: as the old one)")
    rotate.add_argument("--json", action="store_true")
    return parser


def keys_main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return asyncio.run(_run(args))
    except SwitchyardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name is fine
        return "cli"


async def _run(args: argparse.Namespace) -> int:
    from switchyard.server.security.audit import AuditLog
    from switchyard.server.security.keys import ApiKeyStore, parse_duration
    from switchyard.server.settings import ServerSettings
    from switchyard.store.database import Database

    settings = ServerSettings.from_env(os.environ).security   # what `serve` would use
    db = await Database(settings.server_database_url()).open()
    keys, audit = ApiKeyStore(db), AuditLog(db)
    actor = _actor()
    try:
        if args.action == "create":
            expires = parse_duration(args.expires) if args.expires else None
            secret, record = await keys.create(args.name, args.scopes or ["chat"], expires_in=expires,
                                               rate_limit=args.rate_limit, created_by=actor)
            await audit.record(None, "key.create", key_name=actor, address="cli", route="cli keys create",
                               details={"name": record.name, "prefix": record.prefix,
                                        "scopes": list(record.scopes), "expiresIn": args.expires, "via": "cli"})
            _emit_secret(args, secret, record.public())
        elif args.action == "list":
            records = await keys.list(include_inactive=not args.active)
            if args.json:
                print(json.dumps({"keys": [r.public() for r in records]}, indent=2))
            else:
                _table(records)
        elif args.action == "revoke":
            revoked = await keys.revoke(args.name)
            await audit.record(None, "key.revoke", key_name=actor, address="cli", route="cli keys revoke",
                               details={"name": args.name, "prefixes": [r.prefix for r in revoked], "via": "cli"})
            if args.json:
                print(json.dumps({"revoked": True, "name": args.name, "count": len(revoked)}))
            else:
                print(f"revoked {len(revoked)} key(s) named {args.name!r}; running servers refuse "
                      "them within a second")
        elif args.action == "rotate":
            grace = parse_duration(args.grace) if args.grace and args.grace.strip() not in ("0", "") else 0.0
            expires = parse_duration(args.expires) if args.expires else None
            secret, record, old = await keys.rotate(args.name, grace_seconds=grace, expires_in=expires)
            await audit.record(None, "key.rotate", key_name=actor, address="cli", route="cli keys rotate",
                               details={"name": args.name, "prefix": record.prefix,
                                        "previousPrefix": old.prefix, "grace": args.grace, "via": "cli"})
            _emit_secret(args, secret, record.public(), previous=old.public())
        return 0
    finally:
        await db.close()


def _emit_secret(args: argparse.Namespace, secret: str, info: dict[str, Any],
                 previous: dict[str, Any] | None = None) -> None:
    if args.json:
        body: dict[str, Any] = {"key": secret, "apiKey": info}
        if previous is not None:
            body["previous"] = previous
        print(json.dumps(body, indent=2))
        return
    print(secret)
    expiry = info["expiresAt"] or "never"
    print(f"name={info['name']} scopes={','.join(info['scopes'])} expires={expiry}", file=sys.stderr)
    if previous is not None:
        print(f"the previous key ({previous['prefix']}...) works until {previous['expiresAt']}",
              file=sys.stderr)
    print("Store this key now: it is shown only once (only its SHA-256 hash is kept).", file=sys.stderr)


def _table(records: list[Any]) -> None:
    if not records:
        print("no API keys (the environment key, if set, is the root admin key)")
        return
    rows = [("NAME", "PREFIX", "SCOPES", "STATUS", "CREATED", "EXPIRES", "LAST USED")]
    for r in records:
        p = r.public()
        rows.append((p["name"], p["prefix"] + "...", ",".join(p["scopes"]), p["status"],
                     (p["createdAt"] or "")[:19], (p["expiresAt"] or "never")[:19], (p["lastUsedAt"] or "-")[:19]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
