"""The web chat UI: static files from the package (src/switchyard/web/), public at `/` and
under `/ui/`. Only the files are public: the page calls the API with the user's key like any
other client, so serving them unauthenticated gives nothing away.

The files are read once, at import, into a table keyed by their path under web/: a request
names an entry of that table or gets 404, so no request path ever reaches the filesystem.
Each answer carries a strict Content-Security-Policy (scripts, styles and connections from
this origin only, no inline script, no framing) and an ETag for revalidation.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from switchyard.errors import NotFoundError
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["web"], order=200)

# `data:`/`blob:` images: attachments previewed before they are sent, and images in history.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".json": "application/json",
          ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
# Build and tooling files are not part of the UI.
_SKIPPED_SUFFIXES = (".py", ".pyc", ".md")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load_assets() -> dict[str, Asset]:
    root = resources.files("switchyard") / "web"
    found: dict[str, Asset] = {}

    def walk(folder, prefix: str) -> None:  # type: ignore[no-untyped-def]
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                walk(entry, f"{name}/")
            elif not entry.name.endswith(_SKIPPED_SUFFIXES):
                body = entry.read_bytes()
                suffix = "." + entry.name.rpartition(".")[2]
                kind = _TYPES.get(suffix) or mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
                found[name] = Asset(body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    walk(root, "")
    return found


ASSETS = _load_assets()


def _answer(request: Request, name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFoundError(f"no UI file {name!r}", code="ui_file_not_found")
    headers = {"content-security-policy": CONTENT_SECURITY_POLICY, "etag": asset.etag,
               "cache-control": "no-cache", "cross-origin-opener-policy": "same-origin",
               "permissions-policy": "camera=(), microphone=(), geolocation=()"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.content_type, headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(asset.body))
    return response


@routes.route("/", methods=["GET", "HEAD"], scope="public", summary="The web chat UI",
              include_in_schema=False)
async def ui_root(request: Request) -> Response:
    return _answer(request, "index.html")


@routes.route("/ui", methods=["GET", "HEAD"], scope="public", summary="The web chat UI",
              include_in_schema=False)
async def ui_redirect(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=308)


@routes.route("/ui/{asset:path}", methods=["GET", "HEAD"], scope="public", summary="A file of the web UI",
              include_in_schema=False, errors=(404,))
async def ui_file(request: Request, asset: str) -> Response:
    return _answer(request, asset or "index.html")
