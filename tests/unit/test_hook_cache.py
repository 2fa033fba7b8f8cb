"""`route --hook --agents DIR`'s on-disk router cache (routing/hook_cache.py): the router it
rebuilds in plain Python decides as the router built from the files does, on the bench's
routing sets; it is rebuilt when an agent file changes, appears or goes; a corrupt cache or
token table is ignored and rewritten, never an error; the hook's own argument reader agrees
with argparse."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from switchyard.cli.parser import build_parser
from switchyard.errors import ConfigError
from switchyard.routing import hook_cache, static
from switchyard.routing.cli import build_router
from switchyard.routing.hook import parse_hook_args
from switchyard.routing.static_table import table_dir

pytestmark = pytest.mark.skipif(static.unavailable_reason() is not None,
                                reason=f"static embeddings unavailable: {static.unavailable_reason()}")

ROOT = Path(__file__).resolve().parents[2]
SETS = ROOT / "bench" / "routing" / "sets"
# (agents folder, labelled messages, --fallback): every set of the routing bench.
BENCH = [(SETS / name / "agents", SETS / name / "messages.jsonl", fallback)
         for name, fallback in [("sparse-shop", None), ("zero-home", "home-assistant"),
                                ("sparse-campus", None), ("sparse-clinic", None),
                                ("zero-dev", None), ("zero-kitchen", None)]]
BENCH.append((ROOT / "examples" / "agents", ROOT / "bench" / "routing" / "test3.jsonl", None))

AGENTS = {
    "billing": {"systemPrompt": "You help customers with invoices, refunds and card payments.",
                "routing": {"keywords": ["invoice", "refund"]}},
    "travel": {"systemPrompt": "You book flights and hotels and change travel itineraries."},
    "general": {"systemPrompt": "You answer general questions.", "routing": {"fallback": True}},
}
INVOICE = "Where is the invoice for my refund?"


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "agents"
    path.mkdir()
    for agent_id, body in AGENTS.items():
        (path / f"{agent_id}.yml").write_text(yaml.safe_dump({"agentId": agent_id, **body}))
    return path


def messages(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("agents, labelled, fallback", BENCH, ids=lambda v: getattr(v, "parent", v).name
                         if isinstance(v, Path) else str(v))
@pytest.mark.parametrize("semantic", ["static", "off"])
def test_cached_router_decides_as_the_router_built_from_the_files(agents: Path, labelled: Path,
                                                                  fallback: str | None, semantic: str) -> None:
    built = build_router(agents, fallback=fallback, semantic=semantic)
    hook_cache.cached_router(str(agents), fallback=fallback, semantic=semantic)  # writes the cache
    data = hook_cache.read(str(agents))
    assert data is not None, "the first call did not leave a current cache"
    cached = hook_cache.router_from(data, fallback=fallback, semantic=semantic)
    assert cached.layers == built.layers and cached.threshold == built.threshold
    assert cached.fallback == built.fallback and cached.files == {k: str(v) for k, v in built.files.items()}
    texts = messages(labelled)
    assert len(texts) >= 30
    for text in texts:
        want, got = built.route_sync(text), cached.route_sync(text)
        assert (got.agent_id, got.fallback, got.layer) == (want.agent_id, want.fallback, want.layer), text
        assert got.confidence == pytest.approx(want.confidence, abs=1e-5), text
        assert [s.agent_id for s in got.ranked[:2]] == [s.agent_id for s in want.ranked[:2]], text


def test_cache_is_written_once_and_read_back(folder: Path, cache_home: Path) -> None:
    first = hook_cache.cached_router(str(folder), fallback=None, semantic="static")
    path = Path(hook_cache.cache_file(str(folder)))
    assert path.is_file() and path.parent.parent == cache_home / "switchyard"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)  # it holds the agents' prompts
    written = path.stat().st_mtime_ns
    second = hook_cache.cached_router(str(folder), fallback=None, semantic="static")
    assert path.stat().st_mtime_ns == written  # read, not rewritten
    assert first.route_sync(INVOICE).agent_id == second.route_sync(INVOICE).agent_id == "billing"
    assert not list(path.parent.glob("*.tmp-*"))


def _route(folder: Path) -> str:
    return hook_cache.cached_router(str(folder), fallback=None, semantic="static").route_sync(INVOICE).agent_id


def test_changed_agent_file_invalidates_the_cache(folder: Path) -> None:
    assert _route(folder) == "billing"
    # travel now claims invoices and billing forgets them: a stale cache would still say billing.
    (folder / "billing.yml").write_text(yaml.safe_dump(
        {"agentId": "billing", "systemPrompt": "You answer questions about gym memberships."}))
    (folder / "travel.yml").write_text(yaml.safe_dump(
        {"agentId": "travel", "systemPrompt": "You send every invoice and process each refund.",
         "routing": {"keywords": ["invoice", "refund"]}}))
    assert hook_cache.read(str(folder)) is None
    assert _route(folder) == "travel"
    assert hook_cache.read(str(folder)) is not None


def test_added_and_removed_agent_files_invalidate_the_cache(folder: Path) -> None:
    _route(folder)
    (folder / "accounts").mkdir()
    (folder / "accounts" / "agent.yml").write_text(yaml.safe_dump(
        {"agentId": "accounts", "systemPrompt": "You fix invoice and refund problems.",
         "routing": {"keywords": ["invoice", "refund", "where is"]}}))
    assert hook_cache.read(str(folder)) is None
    router = hook_cache.cached_router(str(folder), fallback=None, semantic="static")
    assert "accounts" in router.agents
    (folder / "accounts" / "agent.yml").unlink()
    assert hook_cache.read(str(folder)) is None
    assert "accounts" not in hook_cache.cached_router(str(folder), fallback=None, semantic="static").agents
    (folder / "travel.yml").unlink()
    assert hook_cache.read(str(folder)) is None
    assert list(hook_cache.cached_router(str(folder), fallback=None, semantic="static").agents) == \
        ["billing", "general"]


def test_broken_agent_file_after_caching_is_an_error_not_a_stale_answer(folder: Path) -> None:
    _route(folder)
    (folder / "billing.yml").write_text("agentId: [unclosed\n")
    with pytest.raises(ConfigError):
        hook_cache.cached_router(str(folder), fallback=None, semantic="static")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong shapes", "bad vectors",
                                    "vectors of another size", "unknown fallback"])
def test_corrupt_cache_is_ignored_and_rebuilt(damage: str, folder: Path) -> None:
    assert _route(folder) == "billing"
    path = Path(hook_cache.cache_file(str(folder)))
    text = path.read_text()
    data = json.loads(text)
    if damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "empty":
        path.write_text("")
    elif damage == "wrong shapes":
        path.write_text(json.dumps({**data, "agents": "billing", "sources": data["sources"]}))
    elif damage == "bad vectors":
        path.write_text(json.dumps({**data, "vectors": {"billing": "%%% not base64 %%%"}}))
    elif damage == "vectors of another size":
        path.write_text(json.dumps({**data, "dims": data["dims"] + 1}))
    else:  # a cache naming a fallback that the folder does not have
        data["agents"][2]["agentId"] = "somebody"
        path.write_text(json.dumps(data))
    assert _route(folder) == "billing"
    assert hook_cache.router_from(json.loads(path.read_text()), fallback=None, semantic="static") \
        .route_sync(INVOICE).agent_id == "billing"  # rewritten whole


@pytest.mark.parametrize("damage", ["truncated vectors", "missing vocab", "bad meta"])
def test_corrupt_token_table_is_rebuilt(damage: str, folder: Path, cache_home: Path) -> None:
    assert _route(folder) == "billing"
    table = Path(table_dir(str(cache_home / "switchyard")))
    if damage == "truncated vectors":
        with open(table / "vectors.i8", "r+b") as fh:
            fh.truncate(1000)
    elif damage == "missing vocab":
        (table / "vocab.txt").unlink()
    else:
        (table / "meta.json").write_text("{")
    assert _route(folder) == "billing"
    assert _route(folder) == "billing"
    assert (table / "vectors.i8").stat().st_size > 1000 and (table / "vocab.txt").is_file()


def test_unwritable_cache_only_costs_speed(folder: Path, cache_home: Path) -> None:
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    cache_home.write_text("a file where the cache folder should be")
    assert _route(folder) == "billing"
    assert _route(folder) == "billing"


def test_relative_folders_from_two_directories_get_two_caches(folder: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    shutil.copytree(folder, other / "agents")
    monkeypatch.chdir(tmp_path)
    here = hook_cache.cache_file("agents")
    monkeypatch.chdir(other)
    assert hook_cache.cache_file("agents") != here


@pytest.mark.parametrize("argv", [
    ["--hook", "--agents", "dir"],
    ["--agents=dir", "--hook", "--threshold", "0.25", "--semantic", "off", "--fallback", "general"],
    ["--hook", "--server", "http://127.0.0.1:3001", "--timeout", "0.5", "--threshold=1e-3"],
    ["--hook"],
])
def test_hook_arguments_read_as_argparse_reads_them(argv: list[str]) -> None:
    ours = parse_hook_args(argv)
    theirs = build_parser().parse_args(["route", *argv])
    assert ours == {"agents_dir": theirs.agents, "server": theirs.server, "threshold": theirs.threshold,
                    "fallback": theirs.fallback, "semantic": theirs.semantic, "timeout": theirs.timeout}


@pytest.mark.parametrize("argv", [
    ["--hook", "--help"], ["--hook", "--agents"], ["--hook", "--threshold", "high"],
    ["--hook", "--semantic", "maybe"], ["--hook", "--agent", "dir"], ["--hook", "some text"],
    ["--agents", "dir"], ["--hook", "--threshold", "-1"],
])
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert parse_hook_args(argv) is None
