"""`@resource` mentions in user messages, end to end: a live server whose agents have a
`resources:` block (real files, one outside, a PNG) and a real MCP server over stdio; the
scripted fake LLM shows what the model was sent.

A mention (`@README.md`, `@demo:greeting`, `@</abs/path>`) is replaced by the resource's
content, as the reference formats it; an e-mail address is not a mention; an unknown or refused
mention (a file outside the configured paths, `.env`) stays as typed and nothing of it reaches
the model; an image goes to a model that takes images as an image part. The session stores what
the model got (as the reference does) and is titled from what the user typed.

The builtin tools list_resources and get_resource, called by the model in a turn, see the same
catalog (files, the MCP server's resource, a stored blob) under the same refusals."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.fake_llm import Text, ToolCalls, last_user_text
from tests.support.tools import API_KEY, agent_config, module_server, stdio_server, tool_messages

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("mentions")))
    project, outside = root / "project", root / "outside"
    (project / "notes").mkdir(parents=True)
    outside.mkdir()
    (project / "README.md").write_text("# Project\nThe launch is on Tuesday.\n")
    (project / "notes" / "todo.txt").write_text("1. ship mentions\n")
    (project / ".env").write_text("OPENAI_API_KEY=sk-server-secret\n")
    (project / "logo.png").write_bytes(PNG)
    (outside / "secret.md").write_text("outside the configured paths\n")
    (project / "link-out.md").symlink_to(outside / "secret.md")
    return project


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server, project):
    files = [{"type": "filesystem", "paths": [str(project)], "includeHidden": True,
              "includeExtensions": [".md", ".txt", ".png"]}]
    docs = agent_config("docs", fake_llm_server.base_url, resources=files, mcpServers={"demo": stdio_server()},
                        tools=[{"type": "builtin-tools", "enabledTools": ["list_resources", "get_resource"]}],
                        storage={"database": {"type": "sqlite", "path": str(project.parent / "docs.db")}})
    vision = {**agent_config("vision", fake_llm_server.base_url, resources=files),
              "llm": {"provider": "openai", "model": "gpt-4o-mini", "baseURL": fake_llm_server.base_url,
                      "apiKey": API_KEY}}
    with module_server(tmp_path_factory, docs, vision) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def send(c, content, session_id, agent_id="docs"):
    r = c.post("/api/message-sync", json={"content": content, "sessionId": session_id, "agentId": agent_id})
    assert r.status_code == 200, r.text
    return r.json()


def user_messages(request):
    return [m for m in request["json"]["messages"] if m["role"] == "user"]


def test_mentions_are_expanded_for_the_model_and_stored(c, fake_llm, project):
    typed = "Summarize @README.md and @demo:greeting for me@example.com"
    send(c, typed, "m1")
    sent = last_user_text(fake_llm.last_request["json"])
    readme = f"{project}/README.md"
    assert sent == ("Summarize \n--- Content from resource: README.md (" + readme + ") ---\n"
                    "# Project\nThe launch is on Tuesday.\n\n--- End of resource content ---\n"
                    " and \n--- Content from resource: greeting (mcp:demo:demo://greeting) ---\n"
                    "Hello from the demo server\n--- End of resource content ---\n for me@example.com")
    history = c.get("/api/sessions/m1/history", params={"agentId": "docs"}).json()["history"]
    assert history[0]["role"] == "user" and history[0]["content"] == sent
    session = c.get("/api/sessions/m1", params={"agentId": "docs"}).json()["session"]
    assert session["title"] == typed       # titled from what the user typed
    # The next turn's request carries the expanded message again, from history.
    send(c, "And again?", "m1")
    assert user_messages(fake_llm.last_request)[0]["content"] == sent


def test_by_uri_and_partial_name(c, fake_llm, project):
    send(c, f"@<{project}/notes/todo.txt> and @todo", "m2")
    sent = last_user_text(fake_llm.last_request["json"])
    assert sent.count("1. ship mentions") == 2
    assert sent.startswith(f"\n--- Content from resource: todo.txt ({project}/notes/todo.txt) ---")


@pytest.mark.parametrize("mention", [
    "@nothing-at-all", "@</etc/passwd>", "@<{outside}/secret.md>", "@<{project}/link-out.md>",
    "@<{project}/../outside/secret.md>", "@nosuchserver:greeting"])
def test_unknown_or_refused_mentions_stay_as_typed(c, fake_llm, project, mention):
    mention = mention.format(project=project, outside=project.parent / "outside")
    typed = f"Read {mention} please"
    send(c, typed, "m3-" + str(abs(hash(mention))))
    sent = last_user_text(fake_llm.last_request["json"])
    assert sent == typed
    assert "outside the configured paths" not in str(fake_llm.last_request["json"])


def test_a_listed_but_refused_file_never_reaches_the_model(c, fake_llm):
    # Even with includeHidden, .env is never listed nor read (fs_resources.py): the mention stays.
    send(c, "what is in @.env ?", "m4")
    request = str(fake_llm.last_request["json"])
    assert "sk-server-secret" not in request
    assert last_user_text(fake_llm.last_request["json"]) == "what is in @.env ?"


def test_an_image_goes_as_an_image_part_to_a_model_that_takes_images(c, fake_llm):
    send(c, "What is in @logo.png ?", "m5", agent_id="vision")
    content = user_messages(fake_llm.last_request)[-1]["content"]
    assert content[0] == {"type": "text", "text": "What is in ?"}
    assert content[1]["type"] == "image_url"
    assert content[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_binary_content_is_described_to_a_model_without_image_input(c, fake_llm, project):
    send(c, "What is in @logo.png ?", "m6")
    sent = last_user_text(fake_llm.last_request["json"])
    blob_len = len(base64.b64encode(PNG))
    assert sent == (f"What is in \n--- Content from resource: logo.png ({project}/logo.png) ---\n"
                    f"[Binary content: image/png, {blob_len} bytes]\n--- End of resource content ---\n ?")


# --- the builtin tools list_resources and get_resource ---------------------------------------

def test_list_and_get_resource_tools_through_a_turn(c, fake_llm, project):
    with sqlite3.connect(project.parent / "docs.db") as db:   # a file a user stored
        db.execute("INSERT INTO blobs (agent_id, id, mime_type, original_name, size, source, data, created_at) "
                   "VALUES ('docs', 'u1', 'image/png', 'chart.png', 3, 'user', ?, 1764547200000)", (b"abc",))
    readme, outside = f"{project}/README.md", f"{project.parent}/outside/secret.md"
    fake_llm.script(
        ToolCalls([("l1", "list_resources", {}), ("l2", "list_resources", {"kind": "image", "source": "user"}),
                   ("l3", "list_resources", {"kind": "pdf"}),
                   ("g1", "get_resource", {"reference": readme, "format": "content"}),
                   ("g2", "get_resource", {"reference": "mcp:demo:demo://greeting", "format": "content"}),
                   ("g3", "get_resource", {"reference": "resource_ref:blob:u1", "format": "metadata"}),
                   ("g4", "get_resource", {"reference": "u1"}),
                   ("g5", "get_resource", {"reference": outside, "format": "content"}),
                   ("g6", "get_resource", {"reference": f"{project}/.env", "format": "content"}),
                   ("g7", "get_resource", {"reference": f"{project}/notes/../../outside/secret.md",
                                           "format": "content"}),
                   ("g8", "get_resource", {"reference": f"fs://{project}/logo.png", "format": "content"})]),
        Text("done"))
    try:
        assert send(c, "what resources are there?", "t1")["response"] == "done"
    finally:
        with sqlite3.connect(project.parent / "docs.db") as db:
            db.execute("DELETE FROM blobs WHERE id = 'u1'")
    told = {k: json.loads(v) if v.startswith("{") else v for k, v in tool_messages(fake_llm.last_request).items()}
    listed = told["l1"]
    assert listed["success"] is True and listed["count"] == len(listed["resources"])
    by_ref = {r["reference"]: r for r in listed["resources"]}
    assert set(by_ref) == {readme, f"{project}/notes/todo.txt", f"{project}/logo.png",
                           "mcp:demo:demo://greeting", "blob:u1"}
    assert by_ref["blob:u1"] == {"reference": "blob:u1", "kind": "image", "mimeType": "image/png",
                                 "filename": "chart.png", "source": "user", "size": 3,
                                 "createdAt": "2025-12-01T00:00:00.000Z"}
    assert by_ref[readme]["kind"] == "text" and by_ref[readme]["source"] == "filesystem"
    assert by_ref["mcp:demo:demo://greeting"]["source"] == "mcp"
    assert [r["reference"] for r in told["l2"]["resources"]] == ["blob:u1"]
    assert "invalid arguments for list_resources: kind" in told["l3"]
    assert told["g1"]["contents"] == [{"uri": readme, "mimeType": "text/markdown",
                                       "text": "# Project\nThe launch is on Tuesday.\n"}]
    assert told["g2"]["contents"][0]["text"] == "Hello from the demo server"
    assert told["g3"] == {"success": True, "format": "metadata", **by_ref["blob:u1"]}
    assert told["g4"]["success"] is False and told["g4"]["storeType"] == "local"
    refused = {"g5": outside, "g6": f"{project}/.env", "g7": f"{project}/notes/../../outside/secret.md"}
    for call, reference in refused.items():
        assert told[call] == {"success": False, "error": f"Resource not found: {reference}",
                              "_hint": "Use list_resources to see available resources"}
    assert told["g8"]["contents"] == [{"uri": f"fs://{project}/logo.png", "mimeType": "image/png",
                                       "binary": True, "size": len(PNG)}]
    request = json.dumps(fake_llm.last_request["json"])
    assert "outside the configured paths" not in request and "sk-server-secret" not in request
