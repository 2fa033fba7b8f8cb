"""`switchyard serve --agents DIR` on a folder shaped like the reference's agents/ tree, run as
the real command: agent files without `agentId`, keys from environment variables, MCP servers
that fail to start. Every agent is listed and answers (the scripted fake LLM over HTTP, or echo)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import CliProcess, cli_env
from tests.support.net import closed_port_url, free_port

# A stdio MCP server that exits at once, and one whose command does not exist.
DIES = {"type": "stdio", "command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}
MISSING = {"type": "stdio", "command": "switchyard-test-no-such-mcp-server", "args": ["--stdio"]}


def _yaml(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))   # JSON is YAML


def reference_folder(root: Path, fake_url: str) -> dict[str, str]:
    """Agent files in the reference's shapes; returns {expected id: how it answers}."""
    # agents/default-agent.yml: contributors, an OpenAI key from the environment, two MCP
    # servers (one lenient that dies, one whose command is missing), fields we do not implement.
    (root / "default-agent.yml").write_text(f"""\
# Default agent, the way the reference writes it
systemPrompt:
  contributors:
    - id: primary
      type: static
      priority: 0
      content: |
        You are a helpful assistant with filesystem and browser tools.
    - id: date
      type: dynamic
      priority: 10
      source: date
mcpServers:
  filesystem: {json.dumps(MISSING)}
  playwright: {json.dumps({**DIES, "connectionMode": "lenient"})}
llm:
  provider: openai
  model: gpt-5-mini
  apiKey: $OPENAI_API_KEY
  baseURL: ${{FAKE_OPENAI_URL}}
toolConfirmation:
  mode: auto-approve
  allowedToolsStorage: memory
internalTools: [ask_user, read_file]
storage:
  cache: {{type: in-memory}}
  database: {{type: sqlite}}
  blob: {{type: local}}
greeting: "Hi! How can I help?"
""")
    # agents/coding-agent/coding-agent.yml: a folder per agent, its id from the folder's file.
    _yaml(root / "coding-agent" / "coding-agent.yml", {
        "agentCard": {"name": "Coding Agent", "description": "Writes and reviews code", "version": "1.0.0"},
        "systemPrompt": "You are an expert software engineer.",
        "llm": {"provider": "openai-compatible", "model": "qwen-coder", "apiKey": "$CODER_KEY",
                "baseURL": "$FAKE_OPENAI_URL", "maxIterations": 50},
        "mcpServers": {"search": {"type": "http", "url": closed_port_url("/mcp"), "timeout": 2000}},
        "compaction": {"type": "reactive-overflow"}})
    # agents/database-agent/agent.yml: the folder names the agent.
    _yaml(root / "database-agent" / "agent.yml", {
        "systemPrompt": "You answer questions about the database.",
        "llm": {"provider": "echo"},
        "mcpServers": {"sqlite": {**DIES, "env": {"DB_PATH": "${{dexto.agent_dir}}/data/example.db"}}}})
    # agents/triage-demo/: several agents in one folder, each named by its file.
    (root / "triage-demo").mkdir()
    (root / "triage-demo" / "triage-agent.yml").write_text(
        "systemPrompt: Route customers.\nllm: {provider: echo}\n")
    (root / "triage-demo" / "billing-agent.yml").write_text(
        "systemPrompt: Billing questions.\nllm: {provider: openai, model: gpt-4o-mini, "
        "apiKey: $OPENAI_API_KEY, baseURL: $FAKE_OPENAI_URL}\n")
    return {"default-agent": "fake", "coding-agent": "fake", "database-agent": "echo",
            "triage-agent": "echo", "billing-agent": "fake"}


def test_a_reference_shaped_folder_is_served_and_every_agent_answers(tmp_path, fake_llm):
    agents_dir = tmp_path / "agents"
    agents_dir.mkdir()
    expected = reference_folder(agents_dir, fake_llm.base_url)
    port = free_port()
    env = cli_env(tmp_path / "home", OPENAI_API_KEY="sk-test-not-a-real-key-123456",
                  CODER_KEY="coder-key", FAKE_OPENAI_URL=fake_llm.base_url, SWITCHYARD_ROUTER_SEMANTIC="off")
    with CliProcess("serve", "--agents", str(agents_dir), "--port", str(port),
                    "--default-agent", "triage-agent", "--router-fallback", "triage-agent", env=env) as server:
        ready = server.wait_for("Switchyard is ready on")
        base = f"http://127.0.0.1:{port}"
        # Ready means ready: the port answers the moment the line is printed.
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        starting = server.wait_for("MCP server 'playwright': starting")
        assert starting < ready
        assert "agent default-agent: MCP server 'filesystem' failed to start (lenient" in server.output
        assert "Traceback" not in server.output
        banner = server.output.splitlines()[ready:]
        assert any(line.split()[:1] == ["coding-agent"] for line in banner)
        assert f"docs:    http://127.0.0.1:{port}/docs" in "\n".join(banner)
        assert f"chat:    open http://127.0.0.1:{port}/ in a browser" in "\n".join(banner)

        with httpx.Client(base_url=base, timeout=30) as client:
            listed = client.get("/api/agents").json()
            assert {a["id"] for a in listed["agents"]} == set(expected)
            assert listed["current"]["id"] == "triage-agent"
            coding = next(a for a in listed["agents"] if a["id"] == "coding-agent")
            assert coding["name"] == "Coding Agent"
            for agent_id, how in expected.items():
                r = client.post("/api/message-sync", json={"content": f"hello {agent_id}", "agentId": agent_id})
                assert r.status_code == 200, (agent_id, r.text)
                answer = r.json()
                assert answer["agentId"] == agent_id
                want = f"fake reply to: hello {agent_id}" if how == "fake" else f"Echo: hello {agent_id}"
                assert answer["response"] == want
            servers = client.get("/api/mcp/servers", params={"agentId": "default-agent"}).json()
            statuses = {s["name"]: s["status"] for s in servers["servers"]}
            assert set(statuses) == {"filesystem", "playwright"} and "connected" not in statuses.values()
        # The key never reached the log.
        assert "sk-test-not-a-real-key-123456" not in server.output


def test_a_registry_folder_is_served_with_the_registry_ids(tmp_path):
    agents_dir = tmp_path / "agents"
    _yaml(agents_dir / "product-name-researcher" / "product-name-researcher.yml", {"llm": {"provider": "echo"}})
    _yaml(agents_dir / "default-agent.yml", {"llm": {"provider": "echo"}})
    _yaml(agents_dir / "agent-template.yml", {"llm": {"provider": "echo"}})
    (agents_dir / "agent-registry.json").write_text(json.dumps({"version": "1.0.0", "agents": {
        "product-researcher": {"id": "product-researcher", "name": "Product Researcher",
                               "description": "Names products", "source": "product-name-researcher/",
                               "main": "product-name-researcher.yml"},
        "default-agent": {"id": "default-agent", "name": "Default", "description": "Anything",
                          "source": "default-agent.yml"}}}))
    port = free_port()
    with CliProcess("serve", "--agents", str(agents_dir), "--port", str(port), "--no-access-log",
                    env=cli_env(tmp_path / "home")) as server:
        server.wait_for("Switchyard is ready on")
        listed = httpx.get(f"http://127.0.0.1:{port}/api/agents", timeout=10).json()
        assert [(a["id"], a["name"]) for a in listed["agents"]] == [
            ("product-researcher", "Product Researcher"), ("default-agent", "Default")]
        assert "not listed there:" in server.output and "agent-template.yml" in server.output
        assert '"GET /api/agents' not in server.output   # --no-access-log


@pytest.mark.parametrize("flags, message", [
    (["--default-agent", "nosuch"], "error: --default-agent 'nosuch': no such agent (serving: a, b)"),
    (["--router-fallback", "nosuch"], "error: --router-fallback 'nosuch': no such agent (serving: a, b)"),
    (["--port", "99999"], "argument --port: expected a port number (1-65535), got 99999"),
    (["--port", "http"], "argument --port: expected a port number (1-65535), got 'http'"),
])
def test_bad_flags_stop_the_start_with_one_clear_line(tmp_path, flags, message):
    agents_dir = tmp_path / "agents"
    for name in ("a", "b"):
        _yaml(agents_dir / f"{name}.yml", {"llm": {"provider": "echo"}})
    with CliProcess("serve", "--agents", str(agents_dir), *flags, env=cli_env(tmp_path / "home")) as server:
        assert server.proc.wait(60) == 2
        server.stop()
    assert message in server.output and "Traceback" not in server.output
    assert "ready" not in server.output


def test_two_files_with_one_id_are_refused_naming_both(tmp_path):
    agents_dir = tmp_path / "agents"
    _yaml(agents_dir / "support.yml", {"llm": {"provider": "echo"}})
    _yaml(agents_dir / "team" / "agent.yml", {"agentId": "support", "llm": {"provider": "echo"}})
    with CliProcess("serve", "--agents", str(agents_dir), "--port", str(free_port()),
                    env=cli_env(tmp_path / "home")) as server:
        assert server.proc.wait(60) == 2
        server.stop()
    out = server.output
    assert "Traceback" not in out
    assert str((agents_dir / "support.yml").resolve()) in out
    assert str((agents_dir / "team" / "agent.yml").resolve()) in out


def test_slow_mcp_servers_are_reported_while_they_start_and_json_logs_are_json(tmp_path):
    agents_dir = tmp_path / "agents"
    slow = {"type": "stdio", "command": sys.executable, "args": ["-c", "import time; time.sleep(6)"],
            "timeout": 20000}
    _yaml(agents_dir / "slowpoke.yml", {"llm": {"provider": "echo"}, "mcpServers": {"sleepy": slow}})
    port = free_port()
    with CliProcess("serve", "--agents", str(agents_dir), "--port", str(port), "--json-logs",
                    env=cli_env(tmp_path / "home")) as server:
        ready = server.wait_for("Switchyard is ready on")
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        still = server.wait_for("MCP server 'sleepy': still starting (5 s)")
        assert server.wait_for("MCP server 'sleepy': starting") < still < ready
        httpx.get(f"http://127.0.0.1:{port}/api/agents", timeout=5)
        server.wait_for('"GET /api/agents')          # the access log, on by default
    records = [json.loads(line) for line in server.lines if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["message"].startswith("Switchyard is ready on") for r in records)
