"""filesystem-tools on real files: what each tool does, and each sandbox rule proved by the
attack it stops (absolute path, `..`, symlink and hard link out, a TOCTOU swap, blocked
paths and extensions in other cases and Unicode forms, the server's own data). A refused
access names the rule and never carries the file's content."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from switchyard.config.loader import parse_agent
from switchyard.config.schema import PermissionsConfig
from switchyard.errors import ToolError
from switchyard.tools.approval import ApprovalCoordinator
from switchyard.tools.builtin import BuiltinDeps, build_builtin_tools
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import PathSandbox, SandboxViolation

SECRET = "TOPSECRET-4711"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def build(tmp_path: Path, protected: list[Path] | None = None, **options):
    entry = {"type": "filesystem-tools", **options}
    config = parse_agent({"tools": [entry]}).config
    published: list = []

    async def publish(event):
        published.append(event)

    tooling = build_builtin_tools(config.tools, BuiltinDeps(
        agent_dir=tmp_path / "proj", protected=protected or [tmp_path / "home"],
        spawn=lambda work, name: asyncio.ensure_future(work), publish=publish, approvals=lambda: None))
    return {t.name: t for t in tooling.tools}, tooling


@pytest.fixture
def world(tmp_path):
    proj, outside = tmp_path / "proj", tmp_path / "outside"
    proj.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    (proj / "main.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (proj / "notes.md").write_text("one\ntwo\nthree\nfour\nfive\n")
    (proj / "pkg").mkdir()
    (proj / "pkg" / "util.py").write_text("# add helpers here\nVALUE = 1\n")
    tools, _ = build(tmp_path)
    return tmp_path, tools


def ctx() -> ToolCallContext:
    return ToolCallContext(call_id="call-1", session_id="s1")


async def call(tools, name, **args):
    result = await tools[name].call(args, ctx())
    assert not result.is_error, result.as_text()
    return result.raw if result.raw is not None else json.loads(result.as_text())


async def refused(tools, name, **args) -> str:
    with pytest.raises(ToolError) as info:
        result = await tools[name].call(args, ctx())
        pytest.fail(f"{name} was not refused: {result.as_text()[:200]}")
    message = info.value.message
    assert SECRET not in message
    return message


# --- what the tools do -----------------------------------------------------------------------

async def test_read_file_with_offset_and_limit(world):
    _, tools = world
    whole = await call(tools, "read_file", file_path="notes.md")
    assert whole == {"content": "one\ntwo\nthree\nfour\nfive\n", "lines": 5, "encoding": "utf-8",
                     "truncated": False, "size": 24}
    part = await call(tools, "read_file", file_path="notes.md", offset=2, limit=2)
    assert part["content"] == "two\nthree\n" and part["lines"] == 2 and part["truncated"] is True


async def test_write_then_edit_exact_replace_and_ambiguity(world):
    tmp_path, tools = world
    wrote = await call(tools, "write_file", file_path="new/dir/f.txt", content="a-b-a", create_dirs=True)
    assert wrote["bytes_written"] == 5 and (tmp_path / "proj/new/dir/f.txt").read_text() == "a-b-a"
    message = await refused(tools, "edit_file", file_path="new/dir/f.txt", old_string="a", new_string="x")
    assert "found 2 times" in message
    assert (tmp_path / "proj/new/dir/f.txt").read_text() == "a-b-a"   # nothing changed
    edited = await call(tools, "edit_file", file_path="new/dir/f.txt", old_string="-b-", new_string="+")
    assert edited["changes_count"] == 1 and (tmp_path / "proj/new/dir/f.txt").read_text() == "a+a"
    every = await call(tools, "edit_file", file_path="new/dir/f.txt", old_string="a", new_string="z",
                       replace_all=True)
    assert every["changes_count"] == 2 and (tmp_path / "proj/new/dir/f.txt").read_text() == "z+z"
    assert "not found" in await refused(tools, "edit_file", file_path="new/dir/f.txt", old_string="q",
                                        new_string="r")
    assert "create_dirs" in await refused(tools, "write_file", file_path="nope/f.txt", content="x")


async def test_glob_and_grep(world):
    _, tools = world
    found = await call(tools, "glob_files", pattern="**/*.py")
    assert sorted(f["path"] for f in found["files"]) == ["main.py", "pkg/util.py"]
    assert [f["path"] for f in (await call(tools, "glob_files", pattern="*.py"))["files"]] == ["main.py"]
    grep = await call(tools, "grep_content", pattern=r"def \w+\(a, b\)", glob="*.py", context_lines=1)
    assert [(m["file"], m["line_number"]) for m in grep["matches"]] == [("main.py", 1), ("main.py", 5)]
    assert grep["matches"][1]["context"] == {"before": ["", ""][:1], "after": ["    return a - b"]}
    capped = await call(tools, "grep_content", pattern="add", case_insensitive=True, max_results=1)
    assert capped["total_matches"] == 2 and len(capped["matches"]) == 1 and capped["truncated"] is True


async def test_grep_bad_and_catastrophic_patterns_fail_the_call(world):
    tmp_path, tools = world
    assert "invalid regular expression" in await refused(tools, "grep_content", pattern="(unclosed")
    (tmp_path / "proj" / "evil.txt").write_text("a" * 40 + "!\n")
    assert "took too long" in await refused(tools, "grep_content", pattern=r"^(a|aa)+$")


async def test_read_media_file_returns_an_image_part(world):
    tmp_path, tools = world
    (tmp_path / "proj" / "dot.png").write_bytes(PNG)
    result = await tools["read_media_file"].call({"file_path": "dot.png"}, ctx())
    assert result.content == [{"type": "image", "data": base64.b64encode(PNG).decode(), "mimeType": "image/png"}]


async def test_bad_arguments_name_the_field(world):
    _, tools = world
    result = await tools["read_file"].call({"path": "x"}, ctx())
    assert result.is_error and "file_path: Field required" in result.as_text()
    assert "path: Extra inputs are not permitted" in result.as_text()


async def test_max_file_size(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "big.txt").write_text("x" * 2000)
    tools, _ = build(tmp_path, maxFileSize=1000)
    assert "over maxFileSize" in await refused(tools, "read_file", file_path="big.txt")
    assert "over maxFileSize" in await refused(tools, "write_file", file_path="b.txt", content="y" * 1001)


async def test_backups_when_enabled(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "f.txt").write_text("before")
    tools, _ = build(tmp_path, enableBackups=True, backupPath=str(tmp_path / "backups"))
    edited = await call(tools, "edit_file", file_path="f.txt", old_string="before", new_string="after")
    assert Path(edited["backup_path"]).read_text() == "before"


# --- the attacks -----------------------------------------------------------------------------

async def test_absolute_path_and_dotdot_out_are_refused(world):
    tmp_path, tools = world
    secret = tmp_path / "outside" / "secret.txt"
    for name, args in [("read_file", {"file_path": str(secret)}),
                       ("read_file", {"file_path": "../outside/secret.txt"}),
                       ("read_file", {"file_path": "pkg/../../outside/secret.txt"}),
                       ("read_file", {"file_path": "/etc/passwd"}),
                       ("write_file", {"file_path": "../outside/new.txt", "content": "x"}),
                       ("edit_file", {"file_path": str(secret), "old_string": "TOP", "new_string": "x"}),
                       ("glob_files", {"pattern": "*", "path": "../outside"}),
                       ("grep_content", {"pattern": "TOP", "path": str(tmp_path / "outside")}),
                       ("read_media_file", {"file_path": "../outside/x.png"})]:
        assert "outside allowedPaths" in await refused(tools, name, **args)
    assert not (tmp_path / "outside" / "new.txt").exists()
    assert secret.read_text() == SECRET + "\n"


async def test_symlinks_out_are_neither_read_written_listed_nor_grepped(world):
    tmp_path, tools = world
    proj = tmp_path / "proj"
    (proj / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (proj / "linkdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert "outside allowedPaths" in await refused(tools, "read_file", file_path="link.txt")
    assert "outside allowedPaths" in await refused(tools, "read_file", file_path="linkdir/secret.txt")
    assert "outside allowedPaths" in await refused(tools, "write_file", file_path="link.txt", content="pwned")
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET + "\n"
    listed = await call(tools, "glob_files", pattern="**/*")
    assert all("secret" not in f["path"] and "link" not in f["path"] for f in listed["files"])
    grep = await call(tools, "grep_content", pattern="TOPSECRET")
    assert grep["matches"] == [] and grep["total_matches"] == 0


async def test_a_hard_link_out_is_refused(world):
    tmp_path, tools = world
    os.link(tmp_path / "outside" / "secret.txt", tmp_path / "proj" / "hard.txt")
    assert "hard links" in await refused(tools, "read_file", file_path="hard.txt")
    assert "hard links" in await refused(tools, "edit_file", file_path="hard.txt", old_string="TOP",
                                         new_string="x")
    assert (await call(tools, "grep_content", pattern="TOPSECRET"))["matches"] == []
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET + "\n"


class _SwappingSandbox(PathSandbox):
    """Swaps the checked path for a symlink out right after the check: the TOCTOU window."""

    swap = None

    def check(self, path):
        resolved = super().check(path)
        if self.swap:
            self.swap()
        return resolved


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_toctou_symlink_swap_is_caught_at_open(tmp_path, what):
    proj, outside = tmp_path / "proj", tmp_path / "outside"
    (proj / "sub").mkdir(parents=True)
    outside.mkdir()
    (proj / "sub" / "f.txt").write_text("harmless")
    (outside / "f.txt").write_text(SECRET)
    sandbox = _SwappingSandbox.build(proj, ["."])

    def swap() -> None:
        if what == "file":   # the file itself becomes a symlink out
            (proj / "sub" / "f.txt").unlink()
            (proj / "sub" / "f.txt").symlink_to(outside / "f.txt")
        else:                # a folder on the way becomes a symlink out
            shutil.rmtree(proj / "sub")
            (proj / "sub").symlink_to(outside, target_is_directory=True)

    sandbox.swap = swap
    with pytest.raises(SandboxViolation) as info:
        sandbox.open_file("sub/f.txt")
    assert SECRET not in info.value.message
    assert "symlink swapped" in info.value.message or "outside allowedPaths" in info.value.message


async def test_blocked_paths_and_extensions_in_any_case_and_unicode_form(tmp_path):
    proj = tmp_path / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / ".git" / "config").write_text("[core]")
    (proj / ".env").write_text("API_KEY=sk-live")
    (proj / ".ENV").write_text("API_KEY=sk-live")
    (proj / "lib.so").write_bytes(b"\x7fELF")
    (proj / "café").mkdir()
    (proj / "café" / "x.txt").write_text("blocked by name")
    tools, _ = build(tmp_path, blockedPaths=[".git", ".env", "café"])
    for path in [".git/config", ".env", ".ENV", "./.git/../.env", "cafe\u0301/x.txt"]:
        assert "blockedPaths" in await refused(tools, "read_file", file_path=path)
    for path in ["lib.so", "LIB.SO"]:
        message = await refused(tools, "read_file", file_path=path)
        assert "blockedExtensions" in message or "not found" in message
    assert "blockedExtensions" in await refused(tools, "write_file", file_path="evil.SO", content="x")
    listed = await call(tools, "glob_files", pattern="**/*")
    assert {f["path"] for f in listed["files"]} == set()
    assert (await call(tools, "grep_content", pattern="sk-live|core|blocked"))["matches"] == []


async def test_the_servers_own_data_needs_an_explicit_rule(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "server.db").write_text("keys and audit log")
    (tmp_path / "proj").mkdir()
    tools, _ = build(tmp_path, protected=[home], allowedPaths=[str(tmp_path)])
    assert "server's own data" in await refused(tools, "read_file", file_path=str(home / "server.db"))
    assert "server.db" not in json.dumps(await call(tools, "glob_files", pattern="**/*", path=str(tmp_path)))
    opened, _ = build(tmp_path, protected=[home], allowedPaths=[str(home)])
    assert (await call(opened, "read_file", file_path=str(home / "server.db")))["content"] == "keys and audit log"


async def test_the_policy_denies_before_anyone_is_asked_even_in_auto_approve(world):
    tmp_path, _ = world
    _, tooling = build(tmp_path)
    coordinator = ApprovalCoordinator(PermissionsConfig(mode="auto-approve"), _no_emit, tooling.policies)
    outside = await coordinator.authorize("s1", "read_file", "c1", {"file_path": "../outside/secret.txt"})
    assert (outside.status, outside.reason) == ("denied", "system_denied")
    assert "outside allowedPaths" in outside.message
    inside = await coordinator.authorize("s1", "read_file", "c2", {"file_path": "main.py"})
    assert inside.status == "approved"


async def _no_emit(event):
    raise AssertionError(f"nobody should be asked: {event}")


async def test_a_fifo_or_a_folder_is_refused_without_hanging(world):
    tmp_path, tools = world
    os.mkfifo(tmp_path / "proj" / "pipe")
    assert "not a regular file" in await refused(tools, "read_file", file_path="pipe")
    assert "not a regular file" in await refused(tools, "write_file", file_path="pipe", content="x")
    assert "is a folder" in await refused(tools, "read_file", file_path="pkg")


async def test_glob_with_a_leading_dot_slash(world):
    tmp_path, tools = world
    (tmp_path / "proj" / ".hidden.py").write_text("x = 1\n")
    found = await call(tools, "glob_files", pattern="./.hidden.py")
    assert [f["path"] for f in found["files"]] == [".hidden.py"]


@pytest.mark.parametrize("pattern, lines", [
    (r"alpha\s+beta", [3]),          # a match across a line end is not a line's match
    (r"^beta", []),
    (r"^  beta$", [2]),
    (r"\Aalpha", [1, 3]),            # \A is the start of each line, as grep has it
    (r"two$", [5]),                  # CRLF line ends
    (r"(?i)ALPHA", [1, 3]),
])
async def test_grep_matches_are_per_line(tmp_path, pattern, lines):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "f.txt").write_bytes(b"alpha\n  beta\nalpha beta\none\r\ntwo\r\n")
    tools, _ = build(tmp_path)
    found = await call(tools, "grep_content", pattern=pattern)
    assert [m["line_number"] for m in found["matches"]] == lines
    assert all("\r" not in m["line"] for m in found["matches"])
