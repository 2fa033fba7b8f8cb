"""glob_files and grep_content: walking the allowed folders without leaving them.

The walk never follows a symlinked folder, prunes folders the sandbox refuses (blockedPaths,
protected paths), and checks every file's real path before it is listed or read, so a
symlink pointing outside allowedPaths is silently skipped, never read. Regular expressions
run with a time limit per file (the `regex` module), so a catastrophic pattern from the model
fails that call instead of hanging a worker thread.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import regex

from switchyard.errors import ToolError
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import PathSandbox

MAX_LINE_CHARS = 500
REGEX_TIMEOUT_S = 2.0


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated relative paths: `**/` is any number of folders,
    `*` and `?` never cross a '/', `[...]` is a character class."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out, i = out + re.escape("["), i + 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out, i = out + f"[{body}]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def walk_files(sandbox: PathSandbox, base: Path, context: ToolCallContext) -> Iterator[Path]:
    """Every regular file under `base` the sandbox permits (real paths, sorted per folder)."""
    for folder, dirs, files in os.walk(base, followlinks=False):
        if context.cancelled:
            return
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink() and sandbox.permits(here / d))
        for name in sorted(files):
            real = Path(os.path.realpath(here / name))
            try:
                info = real.stat()
            except OSError:
                continue
            # A hard-linked file may be a file outside allowedPaths (see tools/sandbox.py).
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and sandbox.permits(real):
                yield real


def shown_path(sandbox: PathSandbox, path: Path) -> str:
    try:
        return str(path.relative_to(sandbox.working_dir))
    except ValueError:
        return str(path)


def _search_base(sandbox: PathSandbox, path: str | None) -> Path:
    base = sandbox.check(path or ".")
    if not base.is_dir():
        raise ToolError(f"'{path}' is not a folder")
    return base


def glob_files(sandbox: PathSandbox, pattern: str, path: str | None, max_results: int,
               context: ToolCallContext) -> dict[str, Any]:
    base = _search_base(sandbox, path)
    while pattern.startswith("./"):
        pattern = pattern[2:]
    matcher = glob_regex(pattern)
    files, total = [], 0
    for real in walk_files(sandbox, base, context):
        try:
            relative = real.relative_to(base).as_posix()
        except ValueError:   # a symlink inside base to an allowed file elsewhere
            continue
        if not matcher.match(relative):
            continue
        total += 1
        if len(files) < max_results:
            info = real.stat()
            files.append({"path": shown_path(sandbox, real), "size": info.st_size,
                          "modified": datetime.fromtimestamp(info.st_mtime, timezone.utc).isoformat()})
    return {"files": files, "total_found": total, "truncated": total > len(files)}


def _search(compiled: Any, text: str) -> bool:
    try:
        return compiled.search(text, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        raise ToolError("the regular expression took too long (catastrophic backtracking?)") from None


def _compile(pattern: str, case_insensitive: bool, *, multiline: bool = False) -> Any:
    flags = (regex.IGNORECASE if case_insensitive else 0) | (regex.MULTILINE if multiline else 0)
    try:
        return regex.compile(pattern, flags)
    except regex.error as exc:
        raise ToolError(f"invalid regular expression: {exc}") from None


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def grep_content(sandbox: PathSandbox, pattern: str, path: str | None, glob: str | None,
                 context_lines: int, case_insensitive: bool, max_results: int,
                 context: ToolCallContext) -> dict[str, Any]:
    per_line = _compile(pattern, case_insensitive)
    # The whole file is searched at once (MULTILINE, so ^ and $ hold at line ends), and only
    # the lines where a match starts are checked against the pattern alone: lines stay the
    # unit of a match, without one regex call per line. \A and \Z mean something else on a
    # whole file: such patterns go line by line.
    whole = None if ("\\A" in pattern or "\\Z" in pattern) else \
        _compile(pattern, case_insensitive, multiline=True)
    base = _search_base(sandbox, path)
    name_filter = glob_regex(glob) if glob else None
    matches: list[dict[str, Any]] = []
    total = searched = 0
    for real in walk_files(sandbox, base, context):
        relative = real.relative_to(base).as_posix() if base in real.parents else real.name
        if name_filter and not (name_filter.match(relative) or name_filter.match(real.name)):
            continue
        text = _text(real, sandbox.max_file_size)
        if text is None:
            continue
        searched += 1
        lines: list[str] | None = None
        for number in _matching_lines(text, per_line, whole):
            total += 1
            if len(matches) >= max_results:
                continue
            lines = lines if lines is not None else [x.rstrip("\r") for x in text.split("\n")]
            match: dict[str, Any] = {"file": shown_path(sandbox, real), "line_number": number,
                                     "line": _clip(lines[number - 1])}
            if context_lines:
                match["context"] = {
                    "before": [_clip(x) for x in lines[max(0, number - 1 - context_lines):number - 1]],
                    "after": [_clip(x) for x in lines[number:number + context_lines]]}
            matches.append(match)
    return {"matches": matches, "total_matches": total, "files_searched": searched,
            "truncated": total > len(matches)}


def _matching_lines(text: str, per_line: Any, whole: Any) -> Iterator[int]:
    """The 1-based numbers of the lines (split on \\n) the pattern matches."""
    if whole is None:
        for number, line in enumerate(text.split("\n"), start=1):
            if _search(per_line, line.rstrip("\r")):
                yield number
        return
    position, number, counted_to = 0, 1, 0
    while position <= len(text):
        try:
            found = whole.search(text, position, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            raise ToolError("the regular expression took too long (catastrophic backtracking?)") from None
        if found is None:
            return
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        end = len(text) if end == -1 else end
        number += text.count("\n", counted_to, start)
        counted_to = start
        if _search(per_line, text[start:end].rstrip("\r")):
            yield number
        position = end + 1


def _text(path: Path, max_size: int) -> str | None:
    """The file's text, or None for a file too large or binary (a NUL in its first 8 KiB)."""
    try:
        if path.stat().st_size > max_size:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    # CRLF as LF: `$` then holds at every line end, in the whole-file search as on one line.
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")
