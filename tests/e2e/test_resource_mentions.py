"""`@resource` mentions in user messages, end to end: a live server whose agents have a
`resources:` block (real files, one outside, a PNG) and a real MCP server over stdio; the
scripted fake LLM shows what the model was sent.

A mention (`@README.md`, `@demo:greeting`, `@</abs/path>`) is replaced by the resource's
content, as the reference formats it; an e-mail address is not a mention; an unknown or refused
mention (a file outside the configured paths, `.env`) stays as typed and nothing of it reaches
the model; an image goes to a model that takes images as an image part. The session stores what
the model got (as the reference does) and is titled from what the user typed."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.support.fake_llm import last_user_text
from tests.support.tools import API_KEY, agent_config, module_server, stdio_server

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
    docs = agent_config("docs", fake_llm_server.base_url, resources=files, mcpServers={"demo": stdio_server()})
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
