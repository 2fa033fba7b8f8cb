"""The reference's coding agent, as a user would run it: an agent file in the reference's shape
(our own copy, below: `image`, `toolConfirmation` with `custom--` policies, `customTools` and
`internalTools`, memories, compaction, prompts...) in a project folder, served over HTTP,
driven by the scripted fake LLM. It finds, reads and greps files in its folder, edits one
and runs the project's tests (each after an approval given over HTTP, as the file's manual
mode asks), is refused a file outside its folder, and GET /api/tools lists its tools."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.support.fake_llm import Text, ToolCalls
from tests.support.live_server import LiveServer
from tests.support.sse import iter_sse
from tests.support.tools import API_KEY, tool_messages

AGENT_FILE = """\
# Coding Agent Configuration (the reference's coding-agent shape)
image: '@dexto/image-local'
agentId: coding-agent
systemPrompt:
  contributors:
    - {id: date, type: dynamic, priority: 10, source: date}
    - id: primary
      type: static
      priority: 0
      content: |
        You are an expert software development assistant.
        - Use glob_files to find files and grep_content to search within files
        - Test changes when possible using bash_exec
memories: {enabled: true, priority: 40, includeTimestamps: false, includeTags: true, limit: 10, pinnedOnly: false}
greeting: "Ready to code! What are we building today?"
llm:
  provider: openai-compatible
  model: fake-model
  baseURL: {base_url}
  apiKey: $CODING_KEY
storage:
  cache: {type: in-memory}
  database: {type: sqlite}
  blob: {type: local, maxBlobSize: 52428800}
toolConfirmation:
  mode: manual
  allowedToolsStorage: storage
  toolPolicies:
    alwaysAllow:
      - internal--ask_user
      - custom--read_file
      - custom--glob_files
      - custom--grep_content
      - custom--bash_output
      - custom--kill_process
      - custom--todo_write
compaction: {type: reactive-overflow, enabled: true}
elicitation: {enabled: true}
internalTools:
  - ask_user
customTools:
  - type: filesystem-tools
    allowedPaths: ["."]
    blockedPaths: [".git", "node_modules/.bin", ".env"]
    blockedExtensions: [".exe", ".dll", ".so"]
    enableBackups: false
  - type: process-tools
    securityLevel: moderate
  - type: todo-tools
  - type: agent-spawner
    maxConcurrentAgents: 5
    defaultTimeout: 300000
    allowSpawning: true
    allowedAgents: [explore-agent]
internalResources:
  enabled: true
  resources:
    - {type: filesystem, paths: ["."], maxFiles: 500}
prompts:
  - type: inline
    id: write-tests
    title: "Write Tests"
    description: "Generate unit tests for code"
    prompt: "Help me write comprehensive unit tests."
    category: testing
    priority: 8
    showInStarters: true
"""

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = textwrap.dedent("""\
    import unittest

    from calc import add, mul


    class CalcTest(unittest.TestCase):
        def test_add(self):
            self.assertEqual(add(2, 3), 5)

        def test_mul(self):
            self.assertEqual(mul(2, 3), 6)


    if __name__ == "__main__":
        unittest.main()
    """)


@pytest.fixture
def project(tmp_path, fake_llm, monkeypatch):
    proj, outside = tmp_path / "project", tmp_path / "elsewhere"
    proj.mkdir()
    outside.mkdir()
    (proj / "calc.py").write_text(CALC)
    (proj / "test_calc.py").write_text(TESTS)
    (proj / ".env").write_text("DB_PASSWORD=hunter2\n")
    (outside / "secrets.txt").write_text("the server's secrets\n")
    (proj / "coding-agent.yml").write_text(AGENT_FILE.replace("{base_url}", fake_llm.base_url))
    monkeypatch.setenv("CODING_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-only-9876543210")

    def factory():
        from switchyard.config import load_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        return create_app(AgentHost([Agent(load_agent(proj / "coding-agent.yml"))]), shutdown_grace=3)

    with LiveServer(factory) as live:
        yield proj, outside, live


def test_the_coding_agent_reads_greps_edits_and_runs_the_tests(project, fake_llm):
    proj, outside, live = project
    fake_llm.script(
        ToolCalls([("c1", "glob_files", {"pattern": "**/*.py"})]),
        ToolCalls([("c2", "read_file", {"file_path": "calc.py"}),
                   ("c3", "grep_content", {"pattern": r"def add\(", "glob": "*.py"})]),
        ToolCalls([("c4", "read_file", {"file_path": str(outside / "secrets.txt")}),
                   ("c5", "read_file", {"file_path": ".env"})]),
        ToolCalls([("c6", "edit_file", {"file_path": "calc.py", "old_string": "return a - b",
                                        "new_string": "return a + b"})]),
        ToolCalls([("c7", "bash_exec", {"command": f"{sys.executable} -m unittest -q test_calc 2>&1; env",
                                        "description": "Run the unit tests"})]),
        Text("Fixed add(): the tests pass."),
    )
    seen, approved = [], []
    with live.client() as c, live.client() as answerer:
        with c.stream("POST", "/api/message-stream",
                      json={"content": "add() is broken, fix it and run the tests", "sessionId": "fix-1"}) as r:
            assert r.status_code == 200
            for name, data in iter_sse(r):
                seen.append((name, data))
                if name == "approval:request":
                    approved.append(data["metadata"]["toolName"])
                    reply = answerer.post(f"/api/approvals/{data['approvalId']}", json={"status": "approved"})
                    assert reply.status_code == 200, reply.text
                if name == "run:complete":
                    break

        # Only the calls the file's manual mode does not allow by policy were asked about.
        assert approved == ["edit_file", "bash_exec"]
        results = {d["callId"]: d for n, d in seen if n == "llm:tool-result"}
        assert {k: v["success"] for k, v in results.items()} == {
            "c1": True, "c2": True, "c3": True, "c4": False, "c5": False, "c6": True, "c7": True}
        response = next(d for n, d in seen if n == "llm:response")
        assert response["content"] == "Fixed add(): the tests pass."

        told = {}
        for request in fake_llm.requests:
            told.update(tool_messages(request))
        assert sorted(f["path"] for f in json.loads(told["c1"])["files"]) == ["calc.py", "test_calc.py"]
        assert json.loads(told["c2"])["content"] == CALC
        assert [(m["file"], m["line_number"]) for m in json.loads(told["c3"])["matches"]] == [("calc.py", 1)]
        assert "outside allowedPaths" in told["c4"] and "secrets" not in told["c4"].split("denied")[-1]
        assert "blockedPaths entry '.env'" in told["c5"] and "hunter2" not in told["c5"]
        assert json.loads(told["c6"])["changes_count"] == 1
        ran = json.loads(told["c7"])
        assert ran["exit_code"] == 0 and "Ran 2 tests" in ran["stdout"] and "OK" in ran["stdout"]
        assert "sk-server-only" not in ran["stdout"] and "CODING_KEY" not in ran["stdout"]
        assert (proj / "calc.py").read_text() == CALC.replace("return a - b", "return a + b")

        listed = c.get("/api/tools").json()
        builtin = {t["name"] for t in listed["tools"] if t["source"] == "builtin"}
        assert builtin == {"ask_user", "read_file", "read_media_file", "write_file", "edit_file", "glob_files",
                           "grep_content", "bash_exec", "bash_output", "kill_process", "todo_write",
                           "spawn_agent"}
        edit = next(t for t in listed["tools"] if t["name"] == "edit_file")
        assert edit["inputSchema"]["required"] == ["file_path", "old_string", "new_string"]
        assert listed["localCount"] == listed["totalCount"] == len(builtin) and listed["mcpCount"] == 0
