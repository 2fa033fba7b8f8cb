"""Where the built-in tools may touch the disk: `PathSandbox`.

Every path a tool is given is resolved before it is checked: made absolute against the
working folder, Unicode-normalised (NFC), and passed through `os.path.realpath`, which
collapses `..` and follows every symlink. Only then is it compared with the rules:

1. it must lie inside one of `allowedPaths` (themselves resolved the same way);
2. it must not lie inside a `blockedPaths` entry nor end in a `blockedExtensions` suffix
   (compared case-folded, so `.ENV` is `.env` on a case-insensitive disk too);
3. it must not lie inside a protected path (SWITCHYARD_HOME, the key and audit database, the
   agent's own database) unless an allowed path is itself inside that protected path: only
   an explicit rule opens the server's own files.

Opening is checked again (`open_file`): the final component is opened with O_NOFOLLOW, and
what was actually opened is compared with what was checked (its /proc/self/fd target on
Linux, else its device and inode), so a symlink swapped in between the check and the open
(TOCTOU) is refused. A regular file with more than one hard link is refused too: a hard link
inside the folder may be the same file as one outside it, and no path check can see that.

A refusal is a `SandboxViolation` (a ToolError) whose message names the rule, never content.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from switchyard.errors import ToolError


class SandboxViolation(ToolError):
    """A path a tool may not touch; the message names the rule that refused it."""


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def resolve(path: str | os.PathLike[str], base: Path) -> Path:
    """The real absolute path: relative to `base`, `..` collapsed, symlinks followed."""
    raw = _normalize(os.fspath(path))
    if "\x00" in raw:
        raise SandboxViolation("path contains a NUL byte")
    candidate = Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)
    if not candidate.is_absolute():
        candidate = base / candidate
    return Path(os.path.realpath(candidate))


def _inside(path: Path | str, root: Path | str) -> bool:
    # On strings: pathlib's `parents` costs more than the rest of a grep over a tree.
    p, r = str(path), str(root)
    return p == r or p.startswith(r if r.endswith(os.sep) else r + os.sep)


def _folded(path: Path | str) -> str:
    return os.path.normcase(str(path)).casefold()


@dataclass
class PathSandbox:
    """The path rules of one filesystem-tools entry (see the module docstring)."""

    working_dir: Path
    allowed: list[Path]
    blocked: list[Path] = field(default_factory=list)
    blocked_extensions: tuple[str, ...] = ()
    protected: list[Path] = field(default_factory=list)
    max_file_size: int = 10 * 1024 * 1024

    @classmethod
    def build(cls, working_dir: Path, allowed: Iterable[str], blocked: Iterable[str] = (),
              blocked_extensions: Iterable[str] = (), protected: Iterable[Path] = (),
              max_file_size: int = 10 * 1024 * 1024) -> "PathSandbox":
        base = Path(os.path.realpath(working_dir))
        extensions = tuple(e.casefold() if e.startswith(".") else f".{e.casefold()}"
                           for e in blocked_extensions)
        return cls(base, [resolve(p, base) for p in allowed], [resolve(p, base) for p in blocked],
                   extensions, [Path(os.path.realpath(p)) for p in protected], max_file_size)

    # --- checks ---------------------------------------------------------------------------

    def check(self, path: str | os.PathLike[str]) -> Path:
        """The resolved path, or SandboxViolation naming the rule it breaks."""
        resolved = resolve(path, self.working_dir)
        self.check_resolved(resolved, shown=os.fspath(path))
        return resolved

    def check_resolved(self, resolved: Path, *, shown: str | None = None) -> None:
        shown = shown if shown is not None else str(resolved)
        if not any(_inside(resolved, root) for root in self.allowed):
            raise SandboxViolation(f"access to '{shown}' denied: outside allowedPaths")
        folded = _folded(resolved)
        for blocked in self.blocked:
            if _inside(folded, _folded(blocked)):   # case-folded: .ENV is .env on some disks
                raise SandboxViolation(f"access to '{shown}' denied: inside blockedPaths entry "
                                       f"'{self._shown(blocked)}'")
        name = resolved.name.casefold()
        for extension in self.blocked_extensions:
            if name.endswith(extension):
                raise SandboxViolation(f"access to '{shown}' denied: extension '{extension}' is in "
                                       "blockedExtensions")
        for protected in self.protected:
            if _inside(resolved, protected) and not any(
                    _inside(root, protected) and _inside(resolved, root) for root in self.allowed):
                raise SandboxViolation(f"access to '{shown}' denied: it is part of the server's own "
                                       "data (SWITCHYARD_HOME, keys, audit log or an agent database)")

    def permits(self, resolved: Path) -> bool:
        try:
            self.check_resolved(resolved)
        except SandboxViolation:
            return False
        return True

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.working_dir))
        except ValueError:
            return str(path)

    # --- opening --------------------------------------------------------------------------

    def open_file(self, path: str | os.PathLike[str], mode: str = "rb", *,
                  create: bool = False) -> tuple[Path, int]:
        """Check `path`, open it (O_NOFOLLOW) and verify the open file is the checked one.
        Returns (resolved path, file descriptor); the caller closes the descriptor."""
        resolved = self.check(path)
        # O_NONBLOCK: opening a FIFO planted in the folder must not hang the worker thread
        # (it is refused below, as is anything but a regular file).
        flags = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        if mode.startswith("r"):
            flags |= os.O_RDONLY
        else:
            # No O_TRUNC: nothing is changed before the open file is verified (write_file
            # truncates through the verified descriptor).
            flags |= os.O_WRONLY | (os.O_CREAT if create else 0)
        try:
            fd = os.open(resolved, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:   # ELOOP: the last component became a symlink after the check
                raise SandboxViolation(f"access to '{path}' denied: it is a symlink swapped in "
                                       "after the check") from None
            if exc.errno == errno.ENXIO:   # a FIFO (or socket) nobody reads: not a file
                raise SandboxViolation(f"access to '{path}' denied: not a regular file") from None
            raise
        try:
            self._verify_open(fd, resolved, os.fspath(path))
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return resolved, fd

    def _verify_open(self, fd: int, resolved: Path, shown: str) -> None:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SandboxViolation(f"'{shown}' is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise SandboxViolation(f"access to '{shown}' denied: not a regular file")
        if info.st_nlink > 1:
            raise SandboxViolation(f"access to '{shown}' denied: the file has {info.st_nlink} hard "
                                   "links (a hard link may be a file outside allowedPaths)")
        proc_link = Path(f"/proc/self/fd/{fd}")
        if proc_link.exists():
            actual = Path(os.readlink(proc_link))
            if actual != resolved:
                self.check_resolved(actual, shown=shown)
                raise SandboxViolation(f"access to '{shown}' denied: the path changed between the "
                                       "check and the open")
            return
        current = os.stat(resolved)
        if (current.st_dev, current.st_ino) != (info.st_dev, info.st_ino):
            raise SandboxViolation(f"access to '{shown}' denied: the path changed between the check "
                                   "and the open")
