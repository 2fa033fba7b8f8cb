"""`switchyard route --hook` as a coding assistant runs it: a subprocess, one hook event as JSON
on stdin, the hook answer (or nothing) on stdout, problems on stderr, exit status 0 always.
Locally (`--agents DIR`) and against a live server (`--server URL`, key from SWITCHYARD_API_KEY)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.support.cli_process import cli_env
from tests.support.live_server import serve_agents
from tests.support.net import free_port
from tests.support.security import ROOT_KEY

# Written in several styles: a routing block, no routing block at all, a fallback flag.
AGENTS: list[dict[str, Any]] = [
    {"agentId": "billing",
     "systemPrompt": "You help customers with invoices, refunds, double charges and failed card payments.",
     "routing": {"description": "Invoices, refunds, charges and payment problems.",
                 "keywords": ["invoice", "refund", "charged"]}},
    {"agentId": "travel",
     "systemPrompt": "You book flights and hotels and change travel itineraries for customers."},
    {"agentId": "general",
     "systemPrompt": "You answer general questions the other agents do not cover.",
     "routing": {"fallback": True}},
]
BILLING_PROMPT = "I was charged twice on my last invoice, can I get a refund?"


def event(prompt: Any, **extra: Any) -> str:
    """A UserPromptSubmit event in the common shape assistants send."""
    return json.dumps({"session_id": "2b1f0e9d-aa", "transcript_path": "/tmp/t.jsonl",
                       "cwd": "/home/dev/project", "hook_event_name": "UserPromptSubmit",
                       "prompt": prompt, **extra})


def run_hook(stdin: str, *args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switchyard.cli", "route", "--hook", *args],
                          input=stdin, capture_output=True, text=True, timeout=120,
                          env=cli_env(home, **{"XDG_CACHE_HOME": str(home / "cache"), **env}))


def hook_context(result: subprocess.CompletedProcess[str]) -> str:
    """The additionalContext of a hook answer, after checking the answer's whole shape."""
    assert result.returncode == 0, result.stderr
    assert result.stdout, f"no hook answer; stderr: {result.stderr!r}"
    answer = json.loads(result.stdout)
    assert list(answer) == ["hookSpecificOutput"]
    output = answer["hookSpecificOutput"]
    assert set(output) == {"hookEventName", "additionalContext"}
    assert output["hookEventName"] == "UserPromptSubmit"
    assert isinstance(output["additionalContext"], str)
    assert len(output["additionalContext"].splitlines()) <= 3
    return output["additionalContext"]


def assert_silent(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir()
    for agent in AGENTS:
        (folder / f"{agent['agentId']}.yml").write_text(yaml.safe_dump(agent))
    return folder


# --- local: --agents DIR ---------------------------------------------------------------

def test_local_valid_event_names_agent_confidence_and_how_to_reach_it(agents_dir: Path, tmp_path: Path) -> None:
    context = hook_context(run_hook(event(BILLING_PROMPT), "--agents", str(agents_dir), home=tmp_path))
    assert "'billing'" in context
    assert "confidence 0." in context or "confidence 1." in context
    assert str(agents_dir / "billing.yml") in context  # how to reach it: the agent's file


def test_local_travel_prompt_goes_to_travel(agents_dir: Path, tmp_path: Path) -> None:
    context = hook_context(run_hook(event("Please move my flight and hotel to Friday"),
                                    "--agents", str(agents_dir), home=tmp_path))
    assert "'travel'" in context and "'billing'" not in context


def test_local_silent_below_threshold(agents_dir: Path, tmp_path: Path) -> None:
    # The same prompt that is announced above: silence comes from the threshold alone.
    assert_silent(run_hook(event(BILLING_PROMPT), "--agents", str(agents_dir), "--threshold", "1.01",
                           home=tmp_path))


def test_local_silent_when_only_the_fallback_fits(agents_dir: Path, tmp_path: Path) -> None:
    result = run_hook(event("What is the capital of Mongolia?"), "--agents", str(agents_dir),
                      "--threshold", "0", home=tmp_path)
    assert_silent(result)
    assert result.stderr == ""


@pytest.mark.parametrize("stdin, complaint", [
    ("{not json", "not a JSON hook event"),
    ("", "not a JSON hook event"),
    ('["a list"]', "must be a JSON object"),
    (json.dumps({"hook_event_name": "UserPromptSubmit"}), "no 'prompt' field"),
    (event(42), "'prompt' must be a string"),
])
def test_local_malformed_events_report_on_stderr_only(stdin: str, complaint: str, agents_dir: Path,
                                                      tmp_path: Path) -> None:
    result = run_hook(stdin, "--agents", str(agents_dir), home=tmp_path)
    assert_silent(result)
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_local_empty_prompt_is_silent(prompt: str, agents_dir: Path, tmp_path: Path) -> None:
    result = run_hook(event(prompt), "--agents", str(agents_dir), home=tmp_path)
    assert_silent(result)
    assert result.stderr == ""


def test_local_huge_prompt_is_routed_on_its_start(agents_dir: Path, tmp_path: Path) -> None:
    huge = (BILLING_PROMPT + "\n") * 90_000  # ~5 MB, like a pasted log
    context = hook_context(run_hook(event(huge), "--agents", str(agents_dir), home=tmp_path))
    assert "'billing'" in context


@pytest.mark.parametrize("folder", ["missing", "empty", "broken"])
def test_local_unusable_agents_folder_reports_on_stderr(folder: str, tmp_path: Path) -> None:
    path = tmp_path / folder
    if folder != "missing":
        path.mkdir()
    if folder == "broken":
        (path / "bad.yml").write_text("agentId: [unclosed\n")
    result = run_hook(event(BILLING_PROMPT), "--agents", str(path), home=tmp_path)
    assert_silent(result)
    assert f"agents folder {path}" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_neither_agents_nor_server_is_reported(tmp_path: Path) -> None:
    result = run_hook(event(BILLING_PROMPT), home=tmp_path)
    assert_silent(result)
    assert "give --agents DIR or --server URL" in result.stderr


# --- remote: --server URL --------------------------------------------------------------

# These tests check what the hook says, not how fast: a loaded machine must not turn a slow
# answer into the silence of a timeout (the default, 2 s, is for the assistant's sake).
SLOW_OK = ("--timeout", "30")

@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A production server (every request needs a key) hosting the same agents."""
    monkeypatch.setenv("SWITCHYARD_ENV", "production")
    monkeypatch.setenv("SWITCHYARD_API_KEY", ROOT_KEY)
    configs = [{**a, "storage": {"database": {"type": "in-memory"}}} for a in AGENTS]
    live = serve_agents(*configs, default_agent="general").start()
    try:
        # Warm the router (its first decision loads the embedding model) as a running server
        # is warm when the assistant calls the hook.
        with live.client() as client:
            warm = client.post("/api/route", json={"content": "hello"}, timeout=120,
                               headers={"Authorization": f"Bearer {ROOT_KEY}"})
            assert warm.status_code == 200, warm.text
        yield live.url
    finally:
        live.stop()


def test_server_valid_event_names_agent_and_url(server: str, tmp_path: Path) -> None:
    context = hook_context(run_hook(event(BILLING_PROMPT), "--server", server, *SLOW_OK, home=tmp_path,
                                    SWITCHYARD_API_KEY=ROOT_KEY))
    assert "'billing'" in context
    assert f"{server}/api/message-sync" in context
    assert ROOT_KEY not in context


def test_server_and_local_agree(server: str, agents_dir: Path, tmp_path: Path) -> None:
    for prompt in (BILLING_PROMPT, "Book me a hotel near the airport for my flight"):
        remote = hook_context(run_hook(event(prompt), "--server", server, *SLOW_OK, home=tmp_path,
                                       SWITCHYARD_API_KEY=ROOT_KEY))
        local = hook_context(run_hook(event(prompt), "--agents", str(agents_dir), home=tmp_path))
        assert remote.split("(")[0] == local.split("(")[0]  # the same agent named


def test_server_silent_below_threshold(server: str, tmp_path: Path) -> None:
    assert_silent(run_hook(event(BILLING_PROMPT), "--server", server, *SLOW_OK, "--threshold", "1.01",
                           home=tmp_path, SWITCHYARD_API_KEY=ROOT_KEY))


@pytest.mark.parametrize("stdin", ["{not json", event(""), event(None)])
def test_server_bad_or_empty_events_never_reach_the_server_or_stdout(stdin: str, server: str,
                                                                     tmp_path: Path) -> None:
    assert_silent(run_hook(stdin, "--server", server, *SLOW_OK, home=tmp_path, SWITCHYARD_API_KEY=ROOT_KEY))


def test_server_huge_prompt(server: str, tmp_path: Path) -> None:
    huge = (BILLING_PROMPT + " ") * 50_000  # ~3 MB: far above the server's content bound
    context = hook_context(run_hook(event(huge), "--server", server, *SLOW_OK, home=tmp_path,
                                    SWITCHYARD_API_KEY=ROOT_KEY))
    assert "'billing'" in context


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789abcdef"])
def test_server_refusing_the_key_is_reported_without_the_key(key: str | None, server: str,
                                                             tmp_path: Path) -> None:
    env = {"SWITCHYARD_API_KEY": key} if key else {}
    result = run_hook(event(BILLING_PROMPT), "--server", server, *SLOW_OK, home=tmp_path, **env)
    assert_silent(result)
    assert "answered 401" in result.stderr
    if key:
        assert key not in result.stderr


def test_unreachable_server_is_reported(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_hook(event(BILLING_PROMPT), "--server", url, "--timeout", "1", home=tmp_path)
    assert_silent(result)
    assert f"cannot reach {url}" in result.stderr


def test_server_url_must_be_http(tmp_path: Path) -> None:
    result = run_hook(event(BILLING_PROMPT), "--server", "file:///etc/passwd", home=tmp_path)
    assert_silent(result)
    assert "must be an http:// or https:// URL" in result.stderr


def test_plain_route_still_requires_agents(tmp_path: Path) -> None:
    # --agents became optional for --hook --server; without --hook it is still required.
    result = subprocess.run([sys.executable, "-m", "switchyard.cli", "route", "refund please"],
                            capture_output=True, text=True, timeout=60, env=cli_env(tmp_path))
    assert result.returncode == 2
    assert "--agents DIR is required" in result.stderr
