"""The agent file's `filesystem` resources (config/resources_schema.py): the files under its
`paths`, listed and read as the reference's filesystem resource handler does.

A file is listed by its real absolute path (the reference's URI: `/srv/app/README.md`, its
`metadata.originalUri` too) and read by that path or by `fs://<path>`. What may be read is
exactly what the listing could show (apart from `maxFiles`), checked on the real path:

- inside one of `paths` (each resolved: relative to the agent's folder, symlinks followed), so a
  symlink out of them or a `..` is refused;
- at most `maxDepth` folders deep, in no folder the reference skips (`.git`, `node_modules`,
  `dist`, ...) and, without `includeHidden`, in no hidden folder;
- a hidden file only with `includeHidden` (or one of the reference's usual dotfiles), an
  extension of `includeExtensions` (or an extensionless README, LICENSE, Makefile, ...);
- never the server's own files (SWITCHYARD_HOME, the key/audit database, the agent's database),
  the agent file itself, nor a `.env` file — unlike the reference, which lists `.env`: a read
  scope key must not read the server's secrets;
- opened without following a symlink swapped in after the check, not a hard-linked file, at
  most 10 MiB (tools/sandbox.py's open_file).

Binary files (by extension, or text that is not UTF-8) are served base64 in `blob` with their
MIME type. The folders are scanned on every listing, so the list follows the disk.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import stat
from pathlib import Path
from typing import Any

from switchyard.config.resources_schema import FilesystemResourceConfig
from switchyard.errors import ForbiddenError, LimitError, NotFoundError
from switchyard.tools.sandbox import PathSandbox, SandboxViolation, resolve

log = logging.getLogger("switchyard.agent")

FS_SCHEME = "fs://"
MAX_RESOURCE_BYTES = 10 * 1024 * 1024

IGNORED_FOLDERS = frozenset({
    "node_modules", ".git", ".turbo", ".next", "dist", "build", "out", "coverage", ".cache", ".vscode",
    ".idea", ".github", ".husky", ".agents", ".claude", ".cursor", ".dexto", ".conductor", ".logs", "tmp",
    "temp", "__pycache__", ".pytest_cache", "target", "vendor", "site"})
USUAL_DOTFILES = frozenset({
    ".gitignore", ".gitattributes", ".npmignore", ".dockerignore", ".editorconfig", ".prettierignore",
    ".eslintignore", ".nvmrc", ".node-version"})
EXTENSIONLESS = ("dockerfile", "makefile", "readme", "license", "changelog", "contributing")

_TEXT_MIME = {
    ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".html": "text/html",
    ".htm": "text/html", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
    ".jsx": "text/javascript", ".ts": "text/typescript", ".tsx": "text/typescript", ".vue": "text/x-vue",
    ".json": "application/json", ".jsonc": "application/json", ".xml": "text/xml", ".yaml": "text/yaml",
    ".yml": "text/yaml", ".toml": "text/toml", ".ini": "text/plain", ".cfg": "text/plain",
    ".conf": "text/plain", ".csv": "text/csv", ".log": "text/plain", ".py": "text/x-python",
    ".rb": "text/x-ruby", ".php": "text/x-php", ".java": "text/x-java", ".kt": "text/x-kotlin",
    ".swift": "text/x-swift", ".go": "text/x-go", ".rs": "text/x-rust", ".cpp": "text/x-c++",
    ".c": "text/x-c", ".h": "text/x-c", ".hpp": "text/x-c++", ".sh": "text/x-shellscript",
    ".bash": "text/x-shellscript", ".zsh": "text/x-shellscript", ".fish": "text/x-shellscript",
    ".sql": "text/x-sql", ".rst": "text/x-rst", ".tex": "text/x-tex"}
_BINARY_MIME = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".gif": "image/gif", ".bmp": "image/bmp", ".ico": "image/x-icon", ".tiff": "image/tiff",
    ".webp": "image/webp", ".svg": "image/svg+xml", ".avif": "image/avif", ".mp3": "audio/mpeg",
    ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".flac": "audio/flac", ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
    ".mov": "video/quicktime", ".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".ogv": "video/ogg",
    ".zip": "application/zip", ".gz": "application/gzip", ".tar": "application/x-tar",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf"}
# Served as base64 whatever their bytes (the reference's list); others are text when UTF-8.
BINARY_EXTENSIONS = frozenset(_BINARY_MIME) | frozenset({
    ".exe", ".dll", ".so", ".dylib", ".bin", ".dat", ".db", ".sqlite", ".wmv", ".flv", ".7z", ".rar",
    ".dmg", ".iso", ".eot", ".class", ".jar", ".war", ".ear", ".o", ".obj", ".lib", ".a"})
OCTET_STREAM = "application/octet-stream"


def mime_type(path: Path) -> str:
    ext = path.suffix.lower()
    return _TEXT_MIME.get(ext) or _BINARY_MIME.get(ext) or "text/plain"


def is_secret_file(name: str) -> bool:
    lowered = name.lower()
    return lowered == ".env" or lowered.startswith(".env.")


def protected_files(protected: list[Path]) -> list[Path]:
    """The protected paths, with a SQLite database's -wal, -shm and -journal files."""
    out = []
    for path in protected:
        real = Path(os.path.realpath(path))
        out.append(real)
        out.extend(real.with_name(real.name + suffix) for suffix in ("-wal", "-shm", "-journal"))
    return out


class FilesystemResources:
    """One `type: filesystem` entry of an agent, resolved against the agent's folder."""

    def __init__(self, config: FilesystemResourceConfig, agent_dir: str | Path, protected: list[Path]) -> None:
        self.config = config
        base = Path(os.path.realpath(agent_dir))
        self.roots = [root for root in (resolve(p, base) for p in config.paths) if root.exists()]
        self.sandbox = PathSandbox.build(base, [str(r) for r in self.roots], max_file_size=MAX_RESOURCE_BYTES)
        self.protected = protected_files(protected)
        self.extensions = {e.lower() for e in config.includeExtensions}

    # --- the rule ------------------------------------------------------------------------

    def _root_of(self, real: Path) -> Path | None:
        for root in self.roots:
            if real == root or root in real.parents:
                return root
        return None

    def refusal(self, real: Path) -> str | None:
        """Why the real path `real` is not one of these resources, or None when it is."""
        root = self._root_of(real)
        if root is None:
            return "outside the configured paths"
        if any(real == p or p in real.parents for p in self.protected):
            return "part of the server's own data"
        parts = real.relative_to(root).parts
        if len(parts) > self.config.maxDepth:
            return f"deeper than maxDepth ({self.config.maxDepth})"
        for folder in parts[:-1]:
            if folder.lower() in IGNORED_FOLDERS or (folder.startswith(".") and not self.config.includeHidden):
                return f"inside the skipped folder '{folder}'"
        return self._file_refusal(real.name)

    def _file_refusal(self, name: str) -> str | None:
        lowered = name.lower()
        if is_secret_file(name):
            return "an environment file (it may hold secrets)"
        if lowered.startswith("."):
            if not self.config.includeHidden and lowered not in USUAL_DOTFILES:
                return "a hidden file (includeHidden is false)"
            if lowered in (".gitignore", ".nvmrc", ".node-version"):
                return None
        ext = os.path.splitext(lowered)[1]
        if not ext:
            return None if any(common in lowered for common in EXTENSIONLESS) else "a file without an extension"
        if ext not in self.extensions:
            return f"extension '{ext}' is not in includeExtensions"
        return None

    # --- listing -------------------------------------------------------------------------

    def list(self) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        visited: set[Path] = set()
        for root in self.roots:
            self._scan(root, 0, visited, found)
        if len(visited) >= self.max_visits:
            log.warning("filesystem resources: stopped after looking at %d paths (%d files listed)",
                        len(visited), len(found))
        return list(found.values())

    @property
    def max_visits(self) -> int:
        # The list is scanned on every call: a wide tree of files it does not list (paths: ["/"])
        # must not make each GET /api/resources walk the whole disk.
        return max(10_000, 10 * self.config.maxFiles)

    def _scan(self, path: Path, depth: int, visited: set[Path], found: dict[str, dict[str, Any]]) -> None:
        if len(found) >= self.config.maxFiles or depth > self.config.maxDepth or len(visited) >= self.max_visits:
            return
        real = Path(os.path.realpath(path))
        if real in visited or self._root_of(real) is None:
            return
        visited.add(real)
        try:
            info = real.stat()
        except OSError:
            return
        if real.is_dir():
            if depth > 0 and (real.name.lower() in IGNORED_FOLDERS
                              or (real.name.startswith(".") and not self.config.includeHidden)):
                return
            try:
                children = sorted(os.listdir(real))
            except OSError:
                return
            for child in children:
                self._scan(real / child, depth + 1, visited, found)
        # A hard-linked file could be one outside the paths (open_file refuses it): not listed.
        elif real.is_file() and info.st_nlink == 1 and self.refusal(real) is None:
            uri = real.as_posix()
            found[uri] = {"uri": uri, "name": real.name, "description": "Filesystem resource",
                          "source": "internal", "size": info.st_size,
                          "lastModified": dt.datetime.fromtimestamp(info.st_mtime, dt.timezone.utc)
                          .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                          "metadata": {"originalUri": uri}}

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def handles(uri: str) -> bool:
        return uri.startswith(FS_SCHEME) or uri.startswith("/")

    def _checked(self, uri: str) -> Path:
        raw = uri[len(FS_SCHEME):] if uri.startswith(FS_SCHEME) else uri
        try:
            real = resolve(raw, self.sandbox.working_dir)
        except SandboxViolation as exc:
            raise _denied(uri, str(exc)) from None
        reason = self.refusal(real)
        if reason is not None:
            raise _denied(uri, reason)
        return real

    def exists(self, uri: str) -> bool:
        """What read() would serve: a regular file with one link (size aside)."""
        try:
            info = os.stat(self._checked(uri))
        except (ForbiddenError, OSError):
            return False
        return stat.S_ISREG(info.st_mode) and info.st_nlink == 1

    def read(self, uri: str) -> dict[str, Any]:
        """{contents: [{uri, mimeType, text | blob}], _meta}: ForbiddenError when the path is not
        one of these resources, NotFoundError when there is no such file."""
        real = self._checked(uri)
        try:
            _, fd = self.sandbox.open_file(real)
        except FileNotFoundError:
            raise NotFoundError(f"Resource not found: '{uri}'", code="resource_not_found",
                                details={"uri": uri}) from None
        except SandboxViolation as exc:
            raise _denied(uri, str(exc).split(": ", 1)[-1]) from None
        except OSError as exc:
            raise _denied(uri, exc.strerror or "it cannot be opened") from None
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_RESOURCE_BYTES:
                raise LimitError(f"Resource '{uri}' is too large ({size} bytes; at most {MAX_RESOURCE_BYTES})",
                                 code="resource_too_large", details={"uri": uri, "size": size,
                                                                     "limit": MAX_RESOURCE_BYTES})
            data = handle.read(MAX_RESOURCE_BYTES + 1)
        return content_of(uri, real, data)


def content_of(uri: str, real: Path, data: bytes) -> dict[str, Any]:
    mime = mime_type(real)
    if real.suffix.lower() not in BINARY_EXTENSIONS:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            mime = OCTET_STREAM   # not text after all: served as bytes
        else:
            return {"contents": [{"uri": uri, "mimeType": mime, "text": text}],
                    "_meta": {"size": len(data), "originalName": real.name}}
    return {"contents": [{"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode("ascii")}],
            "_meta": {"isBinary": True, "size": len(data), "originalMimeType": mime, "originalName": real.name}}


def _denied(uri: str, reason: str) -> ForbiddenError:
    return ForbiddenError(f"Access denied to resource '{uri}': {reason}", code="resource_access_denied",
                          details={"uri": uri, "reason": reason})
