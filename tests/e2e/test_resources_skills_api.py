"""Resources and skills end to end over HTTP.

Resources: a real server whose agent uses the library MCP server over stdio
(tests/support/mcp_servers/prompt_server.py): the listing in the reference's shape, reading
text and binary resources by their URL-encoded URI, HEAD, what the server lists being the only
thing readable, a custom prompt's attached file kept as a `blob:` resource, bad URIs.
Skills: SKILL.md folders in the agent's folder, listed and read; a missing one is 404; the
invoke_skill and read_skill tools, driven through a turn by the scripted fake LLM, read the same
folders (not the agent file's prompts)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.live_server import LiveServer
from tests.support.tools import started_in_own_home
from tests.support.mcp_servers.prompt_server import LOGO

SERVER = Path(__file__).resolve().parents[1] / "support" / "mcp_servers" / "prompt_server.py"


def encoded(uri: str) -> str:
    return quote(uri, safe="")


def write_skills(folder: Path) -> None:
    skills = {
        "skills/pdf-tools/SKILL.md": "---\nname: pdf-tools\ndescription: \"Fill and merge PDF forms\"\n---\n"
                                     "# PDF tools\n\nUse pdftk to merge.\n",
        "skills/no-heading/SKILL.md": "Just instructions, no heading.\n",
        ".agents/skills/release/SKILL.md": "---\ndescription: Cut a release\n---\n# Release checklist\n\n1. Tag.\n",
        ".agents/skills/PDF-Tools/SKILL.md": "# Shadowed: same name as skills/pdf-tools\n",
        ".dexto/skills/empty-folder/README.md": "no SKILL.md here\n",
    }
    for path, text in skills.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent")
    write_skills(folder)
    config = {"agentId": "librarian", "llm": {"provider": "echo", "model": "echo"},
              "storage": {"database": {"type": "sqlite", "path": str(folder / "librarian.db")}},
              "mcpServers": {"library": {"type": "stdio", "command": sys.executable, "args": [str(SERVER)]}}}
    bare = {"agentId": "bare", "llm": {"provider": "echo", "model": "echo"},
            "storage": {"database": {"type": "in-memory"}}}

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        librarian = parse_agent(config, env={})
        librarian.path = str(folder / "librarian.yml")
        other = parse_agent(bare, env={})
        other.path = str(tmp_path_factory.mktemp("bare") / "bare.yml")
        return create_app(AgentHost([Agent(librarian), Agent(other)]), shutdown_grace=3)

    with started_in_own_home(LiveServer(factory), tmp_path_factory.mktemp("home")) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


# --- resources --------------------------------------------------------------------------------

def test_lists_mcp_resources_in_the_references_shape(c):
    body = c.get("/api/resources").json()
    assert body["ok"] is True
    by_uri = {r["uri"]: r for r in body["resources"]}
    assert by_uri["mcp:library:notes://project"] == {
        "uri": "mcp:library:notes://project", "name": "project", "description": "The project notes",
        "mimeType": "text/markdown", "source": "mcp", "serverName": "library",
        "metadata": {"originalUri": "notes://project", "serverName": "library"}}
    logo = by_uri["mcp:library:notes://logo.bin"]
    assert logo["description"] == "Resource from MCP server: library"   # none given: the reference's
    assert set(by_uri) == {"mcp:library:notes://project", "mcp:library:notes://logo.bin"}  # not the template
    assert c.get("/api/resources", params={"agentId": "bare"}).json() == {"ok": True, "resources": []}


def test_reads_text_and_binary_resources_by_encoded_uri(c):
    text = c.get(f"/api/resources/{encoded('mcp:library:notes://project')}/content")
    assert text.status_code == 200, text.text
    assert text.json() == {"ok": True, "content": {"contents": [
        {"uri": "notes://project", "mimeType": "text/markdown", "text": "# Project\nShip the prompts API."}]}}
    binary = c.get(f"/api/resources/{encoded('mcp:library:notes://logo.bin')}/content").json()
    item = binary["content"]["contents"][0]
    assert item["mimeType"] == "application/octet-stream" and base64.b64decode(item["blob"]) == LOGO


def test_head_says_whether_a_resource_exists(c):
    assert c.head(f"/api/resources/{encoded('mcp:library:notes://project')}").status_code == 200
    missing = c.head(f"/api/resources/{encoded('mcp:library:notes://nothing')}")
    assert missing.status_code == 404 and missing.content == b""
    assert c.head(f"/api/resources/{encoded('mcp:ghost:notes://project')}").status_code == 404


@pytest.mark.parametrize("uri", [
    "mcp:library:notes://nothing",     # the server does not list it
    "mcp:library:notes://anything",    # a template the server would answer: not listed, not readable
    "mcp:ghost:notes://project",       # no such server
    "mcp:library",                     # no URI after the server
    "file:///etc/passwd",              # not a resource of this agent
    "blob:0123456789abcdef",           # no such stored file
])
def test_unknown_or_unlisted_resources_are_404(c, uri):
    response = c.get(f"/api/resources/{encoded(uri)}/content")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "resource_not_found"
    assert response.json()["details"]["uri"] == uri


def test_a_custom_prompts_file_is_a_blob_resource_until_the_prompt_is_deleted(c):
    pdf = b"%PDF-1.4 fake but binary \x00\x01\x02"
    created = c.post("/api/prompts/custom", json={
        "name": "with-file", "content": "Summarize the attached file.",
        "resource": {"data": base64.b64encode(pdf).decode(), "mimeType": "application/pdf",
                     "filename": "brief.pdf"}})
    assert created.status_code == 201, created.text
    metadata = created.json()["prompt"]["metadata"]
    uri = metadata["resourceUri"]
    assert uri.startswith("blob:") and metadata["mimeType"] == "application/pdf"
    assert metadata["originalName"] == "brief.pdf"

    resolved = c.get("/api/prompts/with-file/resolve").json()
    assert resolved == {"text": "Summarize the attached file.", "resources": [uri]}
    read = c.get(f"/api/resources/{encoded(uri)}/content")
    assert read.status_code == 200, read.text
    content = read.json()["content"]
    assert base64.b64decode(content["contents"][0]["blob"]) == pdf
    assert content["contents"][0] == {"uri": uri, "mimeType": "application/pdf", "blob": content["contents"][0]["blob"]}
    assert content["_meta"]["size"] == len(pdf) and content["_meta"]["originalName"] == "brief.pdf"
    assert c.head(f"/api/resources/{encoded(uri)}").status_code == 200
    # The file is the agent's: another agent does not have it.
    assert c.get(f"/api/resources/{encoded(uri)}/content", params={"agentId": "bare"}).status_code == 404

    assert c.delete("/api/prompts/custom/with-file").status_code == 204
    assert c.get(f"/api/resources/{encoded(uri)}/content").status_code == 404
    assert c.head(f"/api/resources/{encoded(uri)}").status_code == 404


def test_existing_per_server_resource_routes_keep_their_shape(c):
    listed = c.get("/api/mcp/servers/library/resources").json()
    assert listed["success"] is True
    project = next(r for r in listed["resources"] if r["originalUri"] == "notes://project")
    assert project["uri"] == "mcp:library:notes://project"


# --- skills -----------------------------------------------------------------------------------

def test_lists_skills_from_the_agents_skill_folders(c):
    skills = c.get("/api/skills").json()["skills"]
    assert skills == [
        {"id": "no-heading", "displayName": "no-heading"},
        {"id": "pdf-tools", "displayName": "PDF tools", "description": "Fill and merge PDF forms"},
        {"id": "release", "displayName": "Release checklist", "description": "Cut a release"},
    ]
    assert c.get("/api/skills", params={"agentId": "bare"}).json() == {"skills": []}


def test_gets_one_skill_by_id_or_display_name(c):
    skill = c.get("/api/skills/pdf-tools").json()["skill"]
    assert skill["id"] == "pdf-tools" and skill["displayName"] == "PDF tools"
    assert skill["instructions"].startswith("---\nname: pdf-tools") and "Use pdftk to merge." in skill["instructions"]
    assert c.get("/api/skills/Release checklist").json()["skill"]["id"] == "release"


def test_unknown_skill_is_404_naming_it(c):
    response = c.get("/api/skills/nope")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "skill_not_found" and body["message"] == "Skill not found: nope"
    assert body["details"] == {"endpoint": "/api/skills/nope", "method": "GET"}
    assert c.get("/api/skills/release", params={"agentId": "bare"}).status_code == 404


# --- the skill tools, through a turn ----------------------------------------------------------

@pytest.fixture
def skilled(fake_llm, tmp_path, monkeypatch):
    """An agent file in a folder with skills, its model the scripted fake LLM."""
    import json as _json
    from tests.support.tools import agent_config
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "home"))
    folder = tmp_path / "agent"
    write_skills(folder)
    (folder / "skills" / "pdf-tools" / "merge.sh").write_text("pdftk a.pdf b.pdf cat output out.pdf\n")
    (tmp_path / "secret.txt").write_text("outside the skill")
    config = agent_config("skilled", fake_llm.base_url, tools=[{"type": "builtin-tools"}],
                          prompts=[{"type": "inline", "id": "quick-start", "prompt": "Say hi"}])
    (folder / "skilled.yml").write_text(_json.dumps(config))   # JSON is YAML

    def factory() -> Any:
        from switchyard.config import load_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        return create_app(AgentHost([Agent(load_agent(folder / "skilled.yml"))]), shutdown_grace=3)

    with LiveServer(factory) as server:
        yield server


def test_the_skill_tools_read_the_same_skill_folders_as_the_skills_api(skilled, fake_llm):
    import json as _json
    from tests.support.fake_llm import Text, ToolCalls
    from tests.support.tools import tool_messages
    fake_llm.script(
        ToolCalls([("i1", "invoke_skill", {"skill": "pdf-tools", "taskContext": "merge two forms"}),
                   ("r1", "read_skill", {"skill": "Release checklist"}),
                   ("f1", "read_skill", {"skill": "pdf-tools", "path": "merge.sh"}),
                   ("e1", "read_skill", {"skill": "pdf-tools", "path": "../../../secret.txt"}),
                   ("q1", "invoke_skill", {"skill": "quick-start"})]),
        Text("Merged."),
    )
    with skilled.client() as c:
        tools = {t["name"] for t in c.get("/api/tools").json()["tools"]}
        assert {"invoke_skill", "read_skill"} <= tools
        answer = c.post("/api/message-sync", json={"content": "merge my PDFs", "sessionId": "s1"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"] == "Merged."
        api_skill = c.get("/api/skills/pdf-tools").json()["skill"]
    told = {k: _json.loads(v) for k, v in tool_messages(fake_llm.requests[-1]).items()}
    assert told["i1"]["skill"] == "pdf-tools"
    assert told["i1"]["content"] == ("## Task Context\nmerge two forms\n\n## Skill Instructions\n"
                                     + api_skill["instructions"])
    assert told["r1"] == {"success": True, "skill": "release", "displayName": "Release checklist",
                          "content": "---\ndescription: Cut a release\n---\n# Release checklist\n\n1. Tag.\n"}
    assert told["f1"]["content"] == "pdftk a.pdf b.pdf cat output out.pdf\n"
    assert told["e1"]["success"] is False and "outside the skill" not in str(told["e1"])
    # The agent file's prompts are prompts (GET /api/prompts), not skills: as in the reference.
    assert told["q1"]["error"].startswith("Skill 'quick-start' not found")
    assert told["q1"]["availableSkills"] == ["no-heading", "PDF tools", "Release checklist"]
    invoke_spec = next(t for t in fake_llm.requests[0]["json"]["tools"] if t["function"]["name"] == "invoke_skill")
    assert "Skills: no-heading, pdf-tools, release." in invoke_spec["function"]["description"]
