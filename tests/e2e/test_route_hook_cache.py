"""`switchyard route --hook --agents DIR` with its on-disk router cache, as an assistant runs it:
a subprocess per prompt. The first prompt writes the cache under XDG_CACHE_HOME, the next ones
read it and answer the same; an edited agent file changes the answer at once; a corrupt or
unwritable cache is never an error (nothing on stderr, the same answer)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_route_hook import AGENTS, BILLING_PROMPT, event, hook_context, run_hook


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir()
    for agent in AGENTS:
        (folder / f"{agent['agentId']}.yml").write_text(yaml.safe_dump(agent))
    return folder


def cache_files(home: Path) -> list[Path]:
    return sorted((home / "cache" / "switchyard" / "hook").glob("*.json"))


def hook(agents_dir: Path, home: Path, prompt: str = BILLING_PROMPT, **env: str):
    return run_hook(event(prompt), "--agents", str(agents_dir), home=home, **env)


def test_first_prompt_writes_the_cache_and_the_next_prompts_read_it(agents_dir: Path, tmp_path: Path) -> None:
    first = hook(agents_dir, tmp_path)
    assert "'billing'" in hook_context(first) and first.stderr == ""
    [cache] = cache_files(tmp_path)
    written = cache.stat().st_mtime_ns
    assert oct(cache.stat().st_mode & 0o777) == oct(0o600)
    for _ in range(2):
        again = hook(agents_dir, tmp_path)
        assert again.stdout == first.stdout and again.stderr == ""
    assert cache.stat().st_mtime_ns == written
    # The cache holds what the router needs, not the files' other settings.
    assert {a["agentId"] for a in json.loads(cache.read_text())["agents"]} == {"billing", "travel", "general"}


def test_an_edited_agent_file_changes_the_next_answer(agents_dir: Path, tmp_path: Path) -> None:
    assert "'billing'" in hook_context(hook(agents_dir, tmp_path))
    (agents_dir / "billing.yml").write_text(yaml.safe_dump(
        {"agentId": "billing", "systemPrompt": "You plan gym workouts and stretching routines."}))
    (agents_dir / "travel.yml").write_text(yaml.safe_dump(
        {"agentId": "travel", "systemPrompt": "You handle invoices, refunds and double charges.",
         "routing": {"keywords": ["invoice", "refund", "charged"]}}))
    assert "'travel'" in hook_context(hook(agents_dir, tmp_path))


def test_a_new_agent_file_is_routed_to_at_once(agents_dir: Path, tmp_path: Path) -> None:
    hook(agents_dir, tmp_path)
    (agents_dir / "gardening.yml").write_text(yaml.safe_dump(
        {"agentId": "gardening", "systemPrompt": "You help with tomatoes, roses, lawns and compost.",
         "routing": {"keywords": ["tomato", "tomatoes", "compost"]}}))
    context = hook_context(hook(agents_dir, tmp_path, "My tomatoes wilt, should I add compost?"))
    assert "'gardening'" in context


@pytest.mark.parametrize("damage", [b"\x00\xffnot json at all", b'{"fingerprint": [1, 2', b""])
def test_a_corrupt_cache_is_ignored_and_rewritten(damage: bytes, agents_dir: Path, tmp_path: Path) -> None:
    first = hook(agents_dir, tmp_path)
    [cache] = cache_files(tmp_path)
    cache.write_bytes(damage)
    again = hook(agents_dir, tmp_path)
    assert again.returncode == 0 and again.stdout == first.stdout and again.stderr == ""
    assert json.loads(cache.read_text())["agents"]  # rebuilt whole


def test_an_unwritable_cache_is_not_an_error(agents_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the cache folder cannot be made here")
    for _ in range(2):
        result = hook(agents_dir, tmp_path, XDG_CACHE_HOME=str(blocker))
        assert "'billing'" in hook_context(result) and result.stderr == ""


def test_a_broken_agent_file_after_caching_is_reported_not_answered_from_the_cache(
        agents_dir: Path, tmp_path: Path) -> None:
    hook(agents_dir, tmp_path)
    (agents_dir / "billing.yml").write_text("agentId: [unclosed\n")
    result = hook(agents_dir, tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    assert f"agents folder {agents_dir}" in result.stderr and "Traceback" not in result.stderr


def test_the_default_cache_folder_is_under_home_cache(agents_dir: Path, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": ""}
    assert "'billing'" in hook_context(hook(agents_dir, tmp_path, **env))
    assert list((tmp_path / "home" / ".cache" / "switchyard" / "hook").glob("*.json"))
    assert not os.path.exists(tmp_path / "cache")
