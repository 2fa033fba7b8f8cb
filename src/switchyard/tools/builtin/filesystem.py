"""The `filesystem-tools` family: read_file, read_media_file, write_file, edit_file,
glob_files, grep_content — names, inputs and result fields as the reference's.

Every path goes through the family's PathSandbox (tools/sandbox.py) inside the tool, whatever
the permissions mode; `FilesystemPolicy` applies the same rules before the approval flow, so a
person is never asked to approve a call that would be refused anyway. Blocking disk work runs
in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from switchyard.config.tools_schema import FILESYSTEM_TOOL_NAMES, FilesystemToolsConfig
from switchyard.errors import ToolError
from switchyard.tools.base import ToolResult
from switchyard.tools.builtin import filesearch
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext
from switchyard.tools.policy import PolicyDecision
from switchyard.tools.sandbox import PathSandbox, SandboxViolation

FAMILY = "filesystem-tools"


class ReadFileInput(ToolInput):
    file_path: str = Field(description="Path of the file to read (absolute, or relative to the working folder)")
    limit: int | None = Field(None, gt=0, description="Maximum number of lines to read")
    offset: int | None = Field(None, ge=1, description="First line to read (1-based)")


class ReadMediaFileInput(ToolInput):
    file_path: str = Field(description="Path of the image or audio file to read")


class WriteFileInput(ToolInput):
    file_path: str = Field(min_length=1, description="Path where the file should be written")
    content: str = Field(description="Content to write to the file")
    create_dirs: bool = Field(False, description="Create parent folders if they do not exist")
    encoding: Literal["utf-8", "ascii", "latin1", "utf16le"] = Field("utf-8", description="File encoding")


class EditFileInput(ToolInput):
    file_path: str = Field(description="Path of the file to edit")
    old_string: str = Field(min_length=1, description="Text to replace (must be unique unless replace_all is true)")
    new_string: str = Field(description="Replacement text")
    replace_all: bool = Field(False, description="Replace every occurrence")


class GlobFilesInput(ToolInput):
    pattern: str = Field(description='Glob pattern, e.g. "**/*.py" or "src/*.ts"')
    path: str | None = Field(None, description="Folder to search from (default: the working folder)")
    max_results: int = Field(1000, gt=0, description="Maximum number of files to return")


class GrepContentInput(ToolInput):
    pattern: str = Field(description="Regular expression to search for")
    path: str | None = Field(None, description="Folder to search in (default: the working folder)")
    glob: str | None = Field(None, description='Only files matching this glob, e.g. "*.py"')
    context_lines: int = Field(0, ge=0, le=50, description="Lines of context before and after each match")
    case_insensitive: bool = Field(False, description="Case-insensitive search")
    max_results: int = Field(100, gt=0, description="Maximum number of matches to return")


_PYTHON_ENCODING = {"utf-8": "utf-8", "ascii": "ascii", "latin1": "latin-1", "utf16le": "utf-16-le"}
_PATH_ARGUMENTS = {"read_file": "file_path", "read_media_file": "file_path", "write_file": "file_path",
                   "edit_file": "file_path", "glob_files": "path", "grep_content": "path"}


class FilesystemTools:
    """One filesystem-tools entry: its sandbox and its tools."""

    def __init__(self, config: FilesystemToolsConfig, agent_dir: Path, protected: list[Path]) -> None:
        self.config = config
        working = Path(agent_dir) / config.workingDirectory if config.workingDirectory else Path(agent_dir)
        self.sandbox = PathSandbox.build(working, config.allowedPaths, config.blockedPaths,
                                         config.blockedExtensions, protected, config.maxFileSize)
        backups = config.backupPath or str(self.sandbox.working_dir / ".switchyard-backups")
        self.backup_dir = Path(backups)

    def tools(self) -> list[BuiltinTool[Any]]:
        every = {
            "read_file": BuiltinTool("read_file", "Read a text file, optionally a range of lines (offset, "
                                     "limit). Returns content, lines, encoding, truncated and size. Only files "
                                     "inside the allowed paths can be read.", ReadFileInput, self.read_file,
                                     family=FAMILY),
            "read_media_file": BuiltinTool("read_media_file", "Read an image or audio file and return it "
                                           "as a media part the model can see.", ReadMediaFileInput,
                                           self.read_media_file, family=FAMILY),
            "write_file": BuiltinTool("write_file", "Write content to a file, creating or overwriting it "
                                      "(create_dirs creates missing parent folders). Returns success, path "
                                      "and bytes_written.", WriteFileInput, self.write_file, family=FAMILY),
            "edit_file": BuiltinTool("edit_file", "Edit a file by replacing old_string with new_string. "
                                     "old_string must occur exactly once unless replace_all is true.",
                                     EditFileInput, self.edit_file, family=FAMILY),
            "glob_files": BuiltinTool("glob_files", "Find files by glob pattern (e.g. **/*.py). Returns "
                                      "paths with size and modification time, within the allowed paths only.",
                                      GlobFilesInput, self.glob_files, family=FAMILY),
            "grep_content": BuiltinTool("grep_content", "Search file contents with a regular expression. "
                                        "Returns file, line_number and line per match, with optional context "
                                        "lines; glob filters the files.", GrepContentInput, self.grep_content,
                                        family=FAMILY),
        }
        enabled = self.config.enabledTools if self.config.enabledTools is not None else list(FILESYSTEM_TOOL_NAMES)
        return [every[name] for name in FILESYSTEM_TOOL_NAMES if name in enabled]

    # --- tools ----------------------------------------------------------------------------

    async def read_file(self, args: ReadFileInput, context: ToolCallContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._read_text, args)

    def _read_text(self, args: ReadFileInput) -> dict[str, Any]:
        data = self._read_bytes(args.file_path)
        text = data.decode("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        start = (args.offset or 1) - 1
        chosen = lines[start:start + args.limit] if args.limit else lines[start:]
        return {"content": "".join(chosen), "lines": len(chosen), "encoding": "utf-8",
                "truncated": start + len(chosen) < len(lines), "size": len(data)}

    def _read_bytes(self, file_path: str) -> bytes:
        try:
            _, fd = self.sandbox.open_file(file_path, "rb")
        except FileNotFoundError:
            raise ToolError(f"file not found: {file_path}") from None
        except IsADirectoryError:
            raise ToolError(f"'{file_path}' is a folder, not a file") from None
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > self.sandbox.max_file_size:
                raise ToolError(f"'{file_path}' is {size} bytes, over maxFileSize "
                                f"({self.sandbox.max_file_size} bytes)")
            return handle.read(self.sandbox.max_file_size + 1)

    async def read_media_file(self, args: ReadMediaFileInput, context: ToolCallContext) -> ToolResult:
        mime = mimetypes.guess_type(args.file_path)[0] or "application/octet-stream"
        if not mime.startswith(("image/", "audio/")):
            raise ToolError(f"'{args.file_path}' is not an image or audio file ({mime})")
        data = await asyncio.to_thread(self._read_bytes, args.file_path)
        kind = "image" if mime.startswith("image/") else "audio"
        return ToolResult(content=[{"type": kind, "data": base64.b64encode(data).decode(), "mimeType": mime}],
                          raw={"path": args.file_path, "size": len(data), "mimeType": mime})

    async def write_file(self, args: WriteFileInput, context: ToolCallContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._write, args)

    def _write(self, args: WriteFileInput) -> dict[str, Any]:
        data = args.content.encode(_PYTHON_ENCODING[args.encoding], errors="strict")
        resolved = self.sandbox.check(args.file_path)
        if len(data) > self.sandbox.max_file_size:
            raise ToolError(f"content is {len(data)} bytes, over maxFileSize ({self.sandbox.max_file_size} bytes)")
        if not resolved.parent.exists():
            if not args.create_dirs:
                raise ToolError(f"folder '{resolved.parent}' does not exist (set create_dirs to create it)")
            self.sandbox.check_resolved(resolved.parent)
            resolved.parent.mkdir(parents=True, exist_ok=True)
        backup = self._backup(resolved)
        self._write_verified(args.file_path, data)
        out: dict[str, Any] = {"success": True, "path": str(resolved), "bytes_written": len(data)}
        if backup:
            out["backup_path"] = backup
        return out

    def _write_verified(self, file_path: str, data: bytes) -> None:
        _, fd = self.sandbox.open_file(file_path, "wb", create=True)
        with os.fdopen(fd, "wb") as handle:
            handle.truncate(0)
            handle.write(data)

    async def edit_file(self, args: EditFileInput, context: ToolCallContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._edit, args)

    def _edit(self, args: EditFileInput) -> dict[str, Any]:
        text = self._read_bytes(args.file_path).decode("utf-8")
        count = text.count(args.old_string)
        if count == 0:
            preview = args.old_string[:50] + ("..." if len(args.old_string) > 50 else "")
            raise ToolError(f"string not found in file: \"{preview}\"")
        if count > 1 and not args.replace_all:
            raise ToolError(f"string found {count} times in file; set replace_all=true to replace all, "
                            "or give more context to make old_string unique")
        updated = text.replace(args.old_string, args.new_string, -1 if args.replace_all else 1)
        resolved = self.sandbox.check(args.file_path)
        backup = self._backup(resolved)
        self._write_verified(args.file_path, updated.encode("utf-8"))
        out: dict[str, Any] = {"success": True, "path": str(resolved),
                               "changes_count": count if args.replace_all else 1}
        if backup:
            out["backup_path"] = backup
        return out

    def _backup(self, resolved: Path) -> str | None:
        if not self.config.enableBackups or not resolved.is_file():
            return None
        original = self._read_bytes(str(resolved))   # through the sandbox's verified open
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        target = self.backup_dir / f"{resolved.name}.{time.strftime('%Y%m%dT%H%M%S')}.{time.monotonic_ns()}.bak"
        target.write_bytes(original)
        self._prune_backups()
        return str(target)

    def _prune_backups(self) -> None:
        cutoff = time.time() - self.config.backupRetentionDays * 86400
        for old in self.backup_dir.glob("*.bak"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)

    async def glob_files(self, args: GlobFilesInput, context: ToolCallContext) -> dict[str, Any]:
        return await asyncio.to_thread(filesearch.glob_files, self.sandbox, args.pattern, args.path,
                                       args.max_results, context)

    async def grep_content(self, args: GrepContentInput, context: ToolCallContext) -> dict[str, Any]:
        return await asyncio.to_thread(filesearch.grep_content, self.sandbox, args.pattern, args.path,
                                       args.glob, args.context_lines, args.case_insensitive,
                                       args.max_results, context)


class FilesystemPolicy:
    """The sandbox's path rules as a ToolPolicy: a call whose path breaks them is denied
    before anyone is asked (the tools check again when they run)."""

    def __init__(self, families: list[FilesystemTools]) -> None:
        self.by_tool = {tool.name: family for family in families for tool in family.tools()}

    def evaluate(self, tool_name: str, arguments: dict[str, Any],
                 context: ToolCallContext) -> PolicyDecision | None:
        family = self.by_tool.get(tool_name)
        key = _PATH_ARGUMENTS.get(tool_name)
        if family is None or key is None or not isinstance(arguments, dict):
            return None
        value = arguments.get(key)
        if not isinstance(value, str):
            return None   # missing or mistyped: the tool's input validation reports it
        try:
            family.sandbox.check(value)
        except SandboxViolation as exc:
            return PolicyDecision.deny(exc.message)
        return None
