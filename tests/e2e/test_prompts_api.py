"""Prompts end to end over HTTP: a real server whose agent has prompts in its file (inline and
markdown files), two MCP servers over stdio that serve prompts (tests/support/mcp_servers/
prompt_server.py and demo_server.py, both with a `greet`), and custom prompts kept in a real
SQLite file. Listing, names and collisions, definitions, resolving with arguments (config,
custom and MCP prompts), custom prompt CRUD with validation errors, isolation between agents,
persistence across a restart, and the scopes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import LiveServer
from tests.support.tools import started_in_own_home
from tests.support.security import ROOT, audit_entries, bearer, create_key, production

SERVERS = Path(__file__).resolve().parents[1] / "support" / "mcp_servers"

CODE_REVIEW = """---
title: Code review
description: "Review a file for bugs"
argument-hint: [file] [focus?]
category: coding
priority: 5
---
# Review

Review $1 with a focus on $2.
"""

PLAN = """# Make a plan

Plan the work step by step.
"""


def stdio(script: str, *args: str) -> dict[str, Any]:
    return {"type": "stdio", "command": sys.executable, "args": [str(SERVERS / script), *args]}


def write_agent_folder(folder: Path) -> None:
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "code-review.md").write_text(CODE_REVIEW)
    (folder / "prompts" / "plan.md").write_text(PLAN)
    (folder / "skills" / "x").mkdir(parents=True, exist_ok=True)
    (folder / "skills" / "x" / "SKILL.md").write_text("# A skill, not a prompt\n")


def writer_config(db: Path, *, mcp: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {
        "agentId": "writer", "llm": {"provider": "echo", "model": "echo"},
        "storage": {"database": {"type": "sqlite", "path": str(db)}},
        "prompts": [
            {"type": "inline", "id": "quick-start", "title": "Quick start", "prompt": "Show me what you can do",
             "showInStarters": True},
            {"type": "inline", "id": "translate", "description": "Translate text", "prompt": "Translate $1 into $2.",
             "priority": 3},
            {"type": "file", "file": "${{dexto.agent_dir}}/prompts/code-review.md"},
            {"type": "file", "file": "prompts/plan.md", "namespace": "tools", "user-invocable": False},
            {"type": "file", "file": "skills/x/SKILL.md"},        # a skill: not a prompt
            {"type": "file", "file": "prompts/missing.md"},       # no such file: left out
        ]}
    if mcp:
        config["mcpServers"] = {"library": stdio("prompt_server.py"), "demo": stdio("demo_server.py")}
    return config


def serve(folder: Path, *configs: dict[str, Any]) -> LiveServer:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        agents = []
        for config in configs:
            loaded = parse_agent(config, env={}, agent_dir=str(folder))
            loaded.path = str(folder / f"{config['agentId']}.yml")   # the agent's folder
            agents.append(Agent(loaded))
        return create_app(AgentHost(agents), shutdown_grace=3)
    return LiveServer(factory)


OTHER = {"agentId": "other", "llm": {"provider": "echo", "model": "echo"},
         "storage": {"database": {"type": "in-memory"}}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writer")
    write_agent_folder(folder)
    return folder


@pytest.fixture(scope="module")
def live(folder, tmp_path_factory):
    with started_in_own_home(serve(folder, writer_config(folder / "writer.db"), OTHER),
                             tmp_path_factory.mktemp("home")) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def prompts(c, **params) -> dict[str, dict[str, Any]]:
    response = c.get("/api/prompts", params=params)
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["prompts"]}


def resolve(c, name: str, headers: dict[str, str] | None = None, **params) -> Any:
    if "args" in params and not isinstance(params["args"], str):
        params["args"] = json.dumps(params["args"])
    return c.get(f"/api/prompts/{name}/resolve", params=params, headers=headers)


# --- listing --------------------------------------------------------------------------------

def test_lists_config_file_and_mcp_prompts_with_the_references_fields(c):
    listed = prompts(c)
    quick = listed["config:quick-start"]
    assert quick == {
        "name": "config:quick-start", "displayName": "quick-start", "commandName": "quick-start",
        "title": "Quick start", "description": "", "source": "config", "userInvocable": True,
        "metadata": {"type": "inline", "category": "general", "priority": 0, "showInStarters": True,
                     "originalId": "quick-start", "originalName": "config:quick-start", "provider": "config"}}
    review = listed["config:code-review"]
    assert review["title"] == "Code review" and review["description"] == "Review a file for bugs"
    assert review["arguments"] == [{"name": "file", "required": True}, {"name": "focus", "required": False}]
    assert review["metadata"]["category"] == "coding" and review["metadata"]["priority"] == 5
    assert review["metadata"]["filePath"].endswith("prompts/code-review.md")
    plan = listed["config:tools:plan"]
    assert plan["title"] == "Make a plan" and plan["userInvocable"] is False
    assert plan["commandName"] == "plan" and plan["metadata"]["namespace"] == "tools"
    # A SKILL.md and a missing file are not prompts.
    assert not any("SKILL" in n or "missing" in n or n.endswith(":x") for n in listed)

    summarize = listed["summarize"]
    assert summarize["source"] == "mcp" and summarize["title"] == "Summarize a topic"
    assert summarize["arguments"] == [{"name": "topic", "required": True}, {"name": "style", "required": False}]
    assert summarize["metadata"]["serverName"] == "library" and summarize["metadata"]["provider"] == "mcp"
    review_mcp = listed["review"]
    assert review_mcp["title"] == "Review the project notes."     # no title: the description


def test_same_prompt_name_on_two_servers_is_qualified_and_both_resolve(c):
    listed = prompts(c)
    assert "greet" not in listed
    assert {"mcp:library:greet", "mcp:demo:greet"} <= set(listed)
    assert listed["mcp:library:greet"]["metadata"]["serverName"] == "library"
    library = resolve(c, "mcp:library:greet", args={"name": "Ada"})
    demo = resolve(c, "mcp:demo:greet", args={"name": "Ada"})
    assert library.json()["text"] == "Library says hello to Ada."
    assert demo.json()["text"] == "Please greet Ada warmly."


# --- definitions ------------------------------------------------------------------------------

def test_definition_by_name_command_name_and_slash(c):
    expected = {"definition": {"name": "config:code-review", "title": "Code review",
                               "description": "Review a file for bugs",
                               "arguments": [{"name": "file", "required": True},
                                             {"name": "focus", "required": False}]}}
    for name in ("config:code-review", "code-review", "/code-review"):
        response = c.get(f"/api/prompts/{name}")
        assert response.status_code == 200, response.text
        assert response.json() == expected
    assert c.get("/api/prompts/config:tools:plan").json()["definition"]["userInvocable"] is False
    mcp = c.get("/api/prompts/summarize").json()["definition"]
    assert mcp["name"] == "summarize" and mcp["arguments"][0] == {"name": "topic", "required": True}


def test_unknown_prompt_is_404_in_the_envelope(c):
    for response in (c.get("/api/prompts/nope"), resolve(c, "nope")):
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "prompt_not_found" and body["message"] == "Prompt not found: nope"
        assert body["error"] == "Not Found"


# --- resolving --------------------------------------------------------------------------------

def test_resolve_config_prompts_positional_context_and_arguments(c):
    # $1 / $2 from `_positional`; an unused trailing one is dropped.
    translated = resolve(c, "translate", args={"_positional": ["hello", "French"]})
    assert translated.json() == {"text": "Translate hello into French.", "resources": []}
    # File prompt with positional placeholders: named args fill nothing, context is not appended.
    review = resolve(c, "code-review", args={"_positional": ["app.py", "security"]}, context="urgent")
    assert review.json()["text"] == "# Review\n\nReview app.py with a focus on security."
    # No placeholders: the context is appended; without context, the named arguments are.
    assert resolve(c, "quick-start", context="  for a beginner ").json()["text"] == \
        "Show me what you can do\n\nContext: for a beginner"
    assert resolve(c, "quick-start", args={"level": "beginner", "n": 3}).json()["text"] == \
        "Show me what you can do\n\nArguments: level: beginner, n: 3"
    # Malformed or non-object `args` are ignored, as the reference does.
    assert resolve(c, "quick-start", args="{not json").json()["text"] == "Show me what you can do"
    assert resolve(c, "quick-start", args="[1, 2]").json()["text"] == "Show me what you can do"


def test_resolve_mcp_prompts_through_the_server(c):
    summary = resolve(c, "summarize", args={"topic": "owls", "style": "poetic", "undeclared": "x"},
                      context="ignored for MCP")
    assert summary.status_code == 200, summary.text
    assert summary.json() == {
        "text": "Summarize owls in a poetic style.\nStyle guide: be brief.\nUnderstood.",
        "resources": ["notes://style-guide"]}
    # Positional arguments fill the declared ones in order.
    positional = resolve(c, "summarize", args={"_positional": ["bees"]})
    assert positional.json()["text"].startswith("Summarize bees in a plain style.")
    # A resource link becomes @<uri> in the text and is listed; one of a refused scheme is dropped.
    review = resolve(c, "review").json()
    assert review == {"text": "Review the notes.\n@<file:///srv/notes/project.md>",
                      "resources": ["file:///srv/notes/project.md"]}


def test_resolve_errors_missing_arguments_and_empty_content(c):
    missing = resolve(c, "summarize", args={"style": "dry"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "prompt_missing_required_arguments"
    assert missing.json()["details"]["missing"] == ["topic"]
    blank = resolve(c, "blank")
    assert blank.status_code == 404 and blank.json()["code"] == "prompt_empty_content"


# --- custom prompts ---------------------------------------------------------------------------

def test_custom_prompt_create_list_resolve_delete(c):
    body = {"name": "Bug Report!", "title": "Bug report", "description": "File a bug",
            "content": "Bug in {{component}}: {{summary}}",
            "arguments": [{"name": "component", "required": True}, {"name": "summary", "description": "one line"}]}
    created = c.post("/api/prompts/custom", json=body)
    assert created.status_code == 201, created.text
    prompt = created.json()["prompt"]
    assert prompt["name"] == "bug-report" and prompt["source"] == "custom"      # the name is made a slug
    assert prompt["title"] == "Bug report" and prompt["description"] == "File a bug"
    assert prompt["arguments"] == body["arguments"]
    assert prompt["metadata"]["originalName"] == "bug-report"
    assert prompt["metadata"]["createdAt"] == prompt["metadata"]["updatedAt"] > 0
    try:
        assert prompts(c)["bug-report"] == prompt
        assert c.get("/api/prompts/bug-report").json() == {"definition": {
            "name": "bug-report", "title": "Bug report", "description": "File a bug",
            "arguments": body["arguments"]}}
        resolved = resolve(c, "bug-report", args={"component": "parser", "summary": "crashes on {"})
        assert resolved.json() == {"text": "Bug in parser: crashes on {", "resources": []}
        missing = resolve(c, "bug-report", args={"summary": "x"})
        assert missing.status_code == 400 and missing.json()["details"]["missing"] == ["component"]

        again = c.post("/api/prompts/custom", json={**body, "name": "bug report"})
        assert again.status_code == 409 and again.json()["code"] == "prompt_already_exists"
    finally:
        deleted = c.delete("/api/prompts/custom/bug-report")
    assert deleted.status_code == 204 and deleted.content == b""
    assert "bug-report" not in prompts(c)
    gone = c.delete("/api/prompts/custom/bug-report")
    assert gone.status_code == 404 and gone.json()["code"] == "prompt_not_found"


def test_custom_prompt_without_placeholders_appends_context(c):
    assert c.post("/api/prompts/custom", json={"name": "standup", "content": "Write my standup."}).status_code == 201
    try:
        assert resolve(c, "standup", context="shipped search").json()["text"] == \
            "Write my standup.\n\nContext: shipped search"
        assert resolve(c, "standup", args={"mood": "good"}).json()["text"] == \
            "Write my standup.\n\nArguments: mood: good"
    finally:
        c.delete("/api/prompts/custom/standup")


def test_custom_prompt_colliding_with_an_mcp_prompt_gets_source_prefixes(c):
    assert c.post("/api/prompts/custom", json={"name": "summarize", "content": "Mine: $ARGUMENTS"}).status_code == 201
    try:
        listed = prompts(c)
        assert "summarize" not in listed
        assert listed["mcp:summarize"]["source"] == "mcp" and listed["custom:summarize"]["source"] == "custom"
        assert listed["custom:summarize"]["commandName"] == "custom:summarize"
        # The plain name now finds the custom one (the last made); the prefixed names find each.
        assert resolve(c, "custom:summarize", args={"_positional": ["a", "b"]}).json()["text"] == "Mine: a b"
        assert resolve(c, "mcp:summarize", args={"topic": "t"}).json()["text"].startswith("Summarize t")
    finally:
        assert c.delete("/api/prompts/custom/summarize").status_code == 204
    assert "summarize" in prompts(c)


@pytest.mark.parametrize("body, path, code", [
    ({"content": "x"}, "name", "validation_failed"),
    ({"name": "", "content": "x"}, "name", "validation_failed"),
    ({"name": "ok"}, "content", "validation_failed"),
    ({"name": "ok", "content": ""}, "content", "validation_failed"),
    ({"name": "ok", "content": "x", "extra": 1}, "extra", "validation_failed"),
    ({"name": "ok", "content": "x", "arguments": [{"required": True}]}, "arguments[0].name", "validation_failed"),
    ({"name": "ok", "content": "x", "arguments": [{"name": "a"}, {"name": "a"}]}, "arguments", "validation_failed"),
    ({"name": "ok", "content": "x", "resource": {"data": "@@@", "mimeType": "text/plain"}}, "resource.data",
     "validation_failed"),
    ({"name": "ok", "content": "x", "resource": {"data": "aGk=", "mimeType": "nonsense"}}, "resource.mimeType",
     "validation_failed"),
    ({"name": "!!!", "content": "x"}, "name", "validation_failed"),          # no letter or digit: no slug
    ({"name": "x" * 101, "content": "x"}, "name", "validation_failed"),
    ({"name": "ok", "content": "   "}, "content", "validation_failed"),
    ({"name": "ok", "content": 5}, "content", "validation_failed"),
])
def test_custom_prompt_bad_input_is_400_naming_the_field(c, body, path, code):
    response = c.post("/api/prompts/custom", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == code
    assert path in [issue["path"] for issue in error["details"]["issues"]]
    assert "ok" not in prompts(c)                       # nothing half-written


def test_custom_prompts_belong_to_their_agent(c):
    assert c.post("/api/prompts/custom", params={"agentId": "other"},
                  json={"name": "other-only", "content": "hi"}).status_code == 201
    assert "other-only" in prompts(c, agentId="other")
    assert "other-only" not in prompts(c)
    assert c.get("/api/prompts/other-only").status_code == 404
    assert c.delete("/api/prompts/custom/other-only").status_code == 404
    assert c.delete("/api/prompts/custom/other-only", params={"agentId": "other"}).status_code == 204
    assert c.get("/api/prompts", params={"agentId": "ghost"}).status_code == 404


def test_custom_prompts_survive_a_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "home"))
    folder = tmp_path / "agent"
    write_agent_folder(folder)
    config = writer_config(tmp_path / "kept.db", mcp=False)
    with serve(folder, config) as server, server.client() as c:
        assert c.post("/api/prompts/custom", json={"name": "kept", "content": "still here"}).status_code == 201
    with serve(folder, config) as server, server.client() as c:
        assert resolve(c, "kept").json()["text"] == "still here"


def test_scopes_read_lists_and_resolves_only_admin_changes(tmp_path, monkeypatch):
    production(monkeypatch, SWITCHYARD_HOME=str(tmp_path / "home"))
    folder = tmp_path / "agent"
    write_agent_folder(folder)
    with serve(folder, writer_config(tmp_path / "scoped.db", mcp=False)) as server, server.client() as c:
        reader = bearer(create_key(c, "reader", ["read"]))
        chatter = bearer(create_key(c, "chatter", ["chat"]))
        assert c.get("/api/prompts").status_code == 401
        assert c.get("/api/prompts", headers=reader).status_code == 200
        assert resolve(c, "quick-start", headers=reader).status_code == 200
        for headers in (reader, chatter):
            refused = c.post("/api/prompts/custom", headers=headers, json={"name": "n", "content": "x"})
            assert refused.status_code == 403 and refused.json()["details"]["requiredScope"] == "admin"
        assert c.post("/api/prompts/custom", headers=ROOT, json={"name": "n", "content": "x"}).status_code == 201
        assert c.delete("/api/prompts/custom/n", headers=chatter).status_code == 403
        assert c.delete("/api/prompts/custom/n", headers=ROOT).status_code == 204
        # Admin changes are in the audit log, with their outcome.
        changes = [e for e in audit_entries(c, action="admin.change") if "/api/prompts/custom" in (e["route"] or "")]
        assert len(changes) == 2 and all(e["outcome"] == "ok" for e in changes)
