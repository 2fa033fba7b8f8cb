"""An agent configuration changed over HTTP on one replica is served by the others
(runtime/config_sync.py, docs/production.md "Agent configuration across replicas").

Two real `switchyard serve --agents DIR` processes on loopback, one Postgres database and one
Redis prefix of this run's own, as two machines: each has its own agents folder (a copy of the
same agent file), so what reaches B is the text in the shared store, not a shared file. The
scripted fake LLM answers both and shows which system prompt each turn ran with. Then
`--workers 2` on one machine: both workers serve the new configuration.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from tests.conftest import postgres_url
from tests.support.agent_folder import DEMO_MCP
from tests.support.cli_process import CliProcess
from tests.support.fake_llm import FakeLLM
from tests.support.net import free_port
from tests.support.replicas import fake  # noqa: F401 - fixture
from tests.support.replicas import ROOT, SHARED_BACKENDS, new_prefix, replica_env

pytestmark = SHARED_BACKENDS


def _agent(fake: FakeLLM, agent_id: str, prompt: str, **extra: Any) -> str:
    return yaml.safe_dump({"agentId": agent_id, "systemPrompt": prompt,
                           "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake.base_url,
                                   "apiKey": "x"},
                           "storage": {"database": {"type": "postgres", "url": postgres_url()}}, **extra},
                          sort_keys=False)


def _system_prompt(request: dict[str, Any]) -> str:
    return next(m["content"] for m in request["json"]["messages"] if m["role"] == "system")


def _wait(condition: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Replica:
    def __init__(self, name: str, folder: Path, env: dict[str, str], workers: int = 1) -> None:
        self.name, self.folder, self.port, self.env = name, folder, free_port(), env
        self.process = CliProcess("serve", "--agents", str(folder), "--default-agent", "replicated",
                                  "--port", str(self.port), "--workers", str(workers), "--no-access-log", env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        self.sources: Path | None = None       # where agents may be installed from

    def ready(self) -> "Replica":
        self.process.wait_for("Switchyard is ready on", timeout=120)
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, headers=ROOT)

    def replica_state(self, agent_id: str | None = None) -> dict[str, Any] | None:
        """This replica's answer about the agent's configuration (None when it does not serve it)."""
        with self.client() as c:
            answer = c.get("/api/agent/config", params={"agentId": agent_id} if agent_id else None)
        return answer.json()["replica"] if answer.status_code == 200 else None


def _env(home: Path, prefix: str, **extra: str) -> dict[str, str]:
    return replica_env(home, prefix, SWITCHYARD_CONFIG_SYNC_INTERVAL="2", SYNC_FAKE_KEY="x", **extra)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> Iterator[tuple[Replica, Replica]]:
    prefix = new_prefix()
    sources = tmp_path_factory.mktemp("install-sources")
    (sources / "helper.yml").write_text(_agent(fake, "helper", "You are the helper."))
    replicas = []
    # The MCP server of the failing change starts on A; on B its command does not exist.
    for name, python in (("a", sys.executable), ("b", "/nonexistent/python")):
        folder = tmp_path_factory.mktemp(f"agents-{name}")
        (folder / "replicated.yml").write_text(_agent(fake, "replicated", "You are version one."))
        env = _env(tmp_path_factory.mktemp(f"home-{name}"), prefix, SYNC_MCP_PYTHON=python,
                   SWITCHYARD_AGENT_INSTALL_ROOTS=str(sources))
        replicas.append(Replica(name, folder, env).ready())   # A migrates the new database first
    a, b = replicas
    a.sources = sources
    for replica in (a, b):
        with replica.client() as c:   # the model's SDK loaded before the tests' turns
            assert c.post("/api/message-sync", json={"content": "warm up"}).status_code == 200
    yield a, b
    for replica in (a, b):
        replica.process.stop()


def _turn_prompt(replica: Replica, fake: FakeLLM, **body: Any) -> str:
    with replica.client() as c:
        answer = c.post("/api/message-sync", json={"content": "who are you?", **body})
    assert answer.status_code == 200, answer.text
    return _system_prompt(fake.requests[-1])


def test_a_config_posted_to_a_is_served_by_b_from_the_shared_store(pair, fake):
    a, b = pair
    text = _agent(fake, "replicated", "You are version two.")
    with a.client() as c:
        saved = c.post("/api/agent/config", json={"yaml": text})
        assert saved.status_code == 200, saved.text
    version = a.replica_state()["servedVersion"]
    assert version and version > 0
    _wait(lambda: b.replica_state()["servedVersion"] == version, what="B to apply the change")
    assert "You are version two." in _turn_prompt(b, fake)
    assert "You are version two." in _turn_prompt(a, fake)
    state = b.replica_state()
    assert state["failed"] is None and state["replica"] != a.replica_state()["replica"]
    # B's own file (another machine's) now holds the text, so its next start serves it too.
    assert (b.folder / "replicated.yml").read_text() == text


def test_an_install_on_a_is_served_by_b_and_switch_and_uninstall_follow(pair, fake):
    a, b = pair
    with a.client() as c:
        installed = c.post("/api/agents/install", json={"id": "helper", "sourcePath": str(a.sources / "helper.yml")})
        assert installed.status_code == 201, installed.text
    _wait(lambda: b.replica_state("helper") is not None, what="B to install the agent")
    assert "You are the helper." in _turn_prompt(b, fake, agentId="helper")
    assert (b.folder / "helper" / "helper.yml").is_file()
    with a.client() as c:
        assert c.post("/api/agents/switch", json={"id": "helper"}).status_code == 200
    _wait(lambda: _default(b) == "helper", what="B to switch its current agent")
    assert "You are the helper." in _turn_prompt(b, fake)
    with a.client() as c:
        assert c.post("/api/agents/switch", json={"id": "replicated"}).status_code == 200
        assert c.post("/api/agents/uninstall", json={"id": "helper"}).status_code == 200
    _wait(lambda: b.replica_state("helper") is None, what="B to uninstall the agent")
    assert _default(b) == "replicated"
    assert not (b.folder / "helper").exists()


def _default(replica: Replica) -> str:
    with replica.client() as c:
        return c.get("/api/agent/path").json()["name"]


def test_an_agent_created_on_a_is_served_by_b(pair, fake):
    a, b = pair
    config = yaml.safe_load(_agent(fake, "maker", "You are the made one."))
    config["llm"]["apiKey"] = "$SYNC_FAKE_KEY"     # no secret in plain text is written
    with a.client() as c:
        created = c.post("/api/agents/custom/create", json={"id": "maker", "name": "Maker", "description": "made",
                                                            "config": config})
        assert created.status_code == 201, created.text
    _wait(lambda: b.replica_state("maker") is not None, what="B to serve the created agent")
    assert "You are the made one." in _turn_prompt(b, fake, agentId="maker")
    with b.client() as c:
        listed = {agent["id"]: agent["name"] for agent in c.get("/api/agents").json()["installed"]}
    assert listed["maker"] == "Maker"
    with b.client() as c:   # uninstalled from B this time: A follows
        assert c.post("/api/agents/uninstall", json={"id": "maker"}).status_code == 200
    _wait(lambda: a.replica_state("maker") is None, what="A to uninstall the agent")


def test_the_turn_routes_declare_503_shared_state_unavailable(pair):
    with pair[0].client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    for path in ("/api/message", "/api/message-sync", "/api/message-stream", "/v1/chat/completions"):
        assert "shared state (Redis) is unreachable" in paths[path]["post"]["responses"]["503"]["description"], path


def test_a_change_b_cannot_apply_leaves_b_on_the_old_agent_and_says_so(pair, fake):
    a, b = pair
    before = b.replica_state()["servedVersion"]
    broken = _agent(fake, "replicated", "You are version three.", mcpServers={"demo": {
        "type": "stdio", "command": "$SYNC_MCP_PYTHON", "args": [DEMO_MCP], "connectionMode": "strict"}})
    with a.client() as c:
        saved = c.post("/api/agent/config", json={"yaml": broken})
        assert saved.status_code == 200, saved.text   # A can start that MCP server
    version = a.replica_state()["servedVersion"]
    _wait(lambda: (b.replica_state()["failed"] or {}).get("version") == version, what="B to report the failure")
    state = b.replica_state()
    assert state["servedVersion"] == before and state["version"] >= version
    assert "MCP" in state["failed"]["error"] and state["failed"]["action"] == "config"
    assert state["failures"] == [state["failed"]] and state["failed"]["agentId"] == "replicated"
    assert "You are version three." in _turn_prompt(a, fake)
    assert "You are version three." not in _turn_prompt(b, fake)
    assert "REPLICA OUT OF SYNC" in b.process.output and f"configuration version {version}" in b.process.output
    # The next change that B can apply clears it.
    with a.client() as c:
        assert c.post("/api/agent/config", json={"yaml": _agent(fake, "replicated", "You are version four.")}
                      ).status_code == 200
    fixed = a.replica_state()["servedVersion"]
    _wait(lambda: b.replica_state()["servedVersion"] == fixed, what="B to apply the next change")
    assert b.replica_state()["failed"] is None
    assert "You are version four." in _turn_prompt(b, fake)


def test_a_replica_started_later_catches_up_unless_its_file_was_edited_by_hand(pair, fake, tmp_path):
    a, _ = pair
    latest = a.replica_state()["servedVersion"]
    started = []
    # C has the file as it was before the changes; D's was edited by hand since.
    for name, prompt in (("c", "You are version one."), ("d", "You are edited by hand.")):
        folder = tmp_path / f"agents-{name}"
        folder.mkdir()
        (folder / "replicated.yml").write_text(_agent(fake, "replicated", prompt))
        env = {**a.env, "SWITCHYARD_HOME": str(tmp_path / f"home-{name}")}
        started.append(Replica(name, folder, env))
    c, d = (replica.ready() for replica in started)
    try:
        assert c.replica_state()["servedVersion"] == latest
        assert "You are version four." in _turn_prompt(c, fake)
        assert "You are version four." in (c.folder / "replicated.yml").read_text()
        assert d.replica_state()["servedVersion"] is None
        assert "You are edited by hand." in _turn_prompt(d, fake)
        assert "edited by hand since?" in d.process.output
    finally:
        for replica in (c, d):
            replica.process.stop()


def test_a_message_sent_to_b_right_after_a_change_on_a_waits_for_it(pair, fake):
    # A answers the POST after announcing the change; B hears it before the message that
    # follows reaches it, and the message waits until B started the new agent, whose MCP
    # server takes two seconds to start (without the wait, B would answer with the old agent).
    a, b = pair
    slow_mcp = {"type": "stdio", "command": sys.executable, "args": ["-c", SLOW_MCP, DEMO_MCP]}
    for n in ("five", "six"):
        text = _agent(fake, "replicated", f"You are version {n}.", mcpServers={f"slow{n}": slow_mcp})
        with a.client() as c:
            assert c.post("/api/agent/config", json={"yaml": text}).status_code == 200
        assert f"You are version {n}." in _turn_prompt(b, fake)
    assert b.replica_state()["servedVersion"] == a.replica_state()["servedVersion"]


SLOW_MCP = "import runpy, sys, time; time.sleep(2); sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def test_both_workers_of_one_machine_serve_a_config_posted_to_one_of_them(tmp_path, fake):
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "replicated.yml").write_text(_agent(fake, "replicated", "You are version one."))
    server = Replica("w", folder, _env(tmp_path / "home", new_prefix()), workers=2)
    try:
        server.process.wait_for("worker 1 ready", timeout=180)
        server.process.wait_for("Switchyard is ready on", timeout=180)
        with server.client() as c:
            assert c.post("/api/agent/config", json={"yaml": _agent(fake, "replicated", "You are version two.")}
                          ).status_code == 200
        seen: dict[str, Any] = {}

        def both_updated() -> bool:
            state = server.replica_state()   # a new connection: either worker answers
            seen[state["replica"]] = state["servedVersion"]
            return len(seen) == 2 and all(v is not None for v in seen.values()) and len(set(seen.values())) == 1
        _wait(both_updated, timeout=120, what=f"both workers to serve the change (seen {seen})")
        prompts = [_turn_prompt(server, fake) for _ in range(6)]
        assert all("You are version two." in p for p in prompts), prompts
    finally:
        server.process.stop()
