"""The agent file's `resources:` block end to end: a real server loading a reference-shaped
agent file from disk, over real files (symlinks, hard links, hidden files, a binary file, the
server's own data beside them).

Listed by GET /api/resources with the reference's fields, read by GET
/api/resources/{uri}/content (an absolute path or fs://), HEAD; everything outside the rule is
refused: a symlink out, `..`, absolute paths elsewhere, hidden and skipped folders, other
extensions, too deep, `.env`, the agent file, the agent's database and SWITCHYARD_HOME. Stored
`blob:` files are listed as the reference lists them (not a custom prompt's); a bad block
names its field at load (`switchyard validate`)."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.cli_process import cli_env
from tests.support.live_server import LiveServer
from tests.support.tools import started_in_own_home

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

AGENT_FILE = """\
# The reference's own agents/default-agent.yml block, with more extensions.
agentId: files-agent
llm: {provider: echo, model: echo}
storage:
  database: {type: sqlite, path: "{project}/files-agent.db"}
resources:
  # Filesystem resource - provides read access to local files for the agent
  - type: filesystem
    paths: ["."]                 # Directories to expose
    maxFiles: 50               # Maximum number of files to index
    maxDepth: 3                # Maximum directory depth to traverse
    includeHidden: false         # Include hidden files/directories
    includeExtensions: [".txt", ".md", ".json", ".yaml", ".yml", ".png", ".db", ".bin"]
  # Blob resource - enables large file upload/storage
  - type: blob
"""


def encoded(uri: str) -> str:
    return quote(uri, safe="")


def make_project(root: Path) -> dict[str, Path]:
    project, outside, home = root / "project", root / "outside", root / "project" / "home"
    files = {
        "README.md": "# Project\nRead me.\n",
        "notes/todo.txt": "1. ship resources\n",
        "notes/data.json": '{"k": 1}',
        "notes/a/b/deep.md": "three folders down: too deep for maxDepth 3\n",
        "script.py": "print('extension not included')\n",
        ".hidden.md": "hidden file\n",
        ".private/plan.md": "in a hidden folder\n",
        ".env": "OPENAI_API_KEY=sk-server-secret\n",
        "node_modules/pkg/index.md": "a skipped folder\n",
        "home/keys.json": '{"the": "server\'s keys"}',
        "LICENSE": "MIT\n",
    }
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / "logo.png").write_bytes(PNG)
    (project / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (project / "big.bin").write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    (project / "agent.yml").write_text(AGENT_FILE.replace("{project}", str(project)))
    outside.mkdir()
    (outside / "secret.md").write_text("outside the paths\n")
    (project / "link-out.md").symlink_to(outside / "secret.md")
    (project / "link-in.md").symlink_to(project / "README.md")
    os.link(outside / "secret.md", project / "hard.md")
    return {"project": Path(os.path.realpath(project)), "outside": Path(os.path.realpath(outside)),
            "home": home}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    paths = make_project(tmp_path_factory.mktemp("resources"))
    project = paths["project"]
    bare = {"agentId": "bare", "llm": {"provider": "echo", "model": "echo"},
            "storage": {"database": {"type": "in-memory"}}}

    def factory() -> Any:
        from switchyard.config import load_agent, parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        loaded = load_agent(project / "agent.yml")
        assert loaded.warnings == []          # the `resources:` block is not "ignored" any more
        other = parse_agent(bare, env={})
        other.path = str(tmp_path_factory.mktemp("bare") / "bare.yml")
        hidden = parse_agent({**bare, "agentId": "hidden", "resources": [
            {"type": "filesystem", "paths": ["."], "includeHidden": True, "maxFiles": 3}]}, env={})
        hidden.path = str(project / "hidden.yml")
        return create_app(AgentHost([Agent(loaded), Agent(other), Agent(hidden)]), shutdown_grace=3)

    with started_in_own_home(LiveServer(factory), paths["home"]) as server:
        server.paths = paths  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


@pytest.fixture
def project(live) -> Path:
    return live.paths["project"]


def content(c, uri: str, **params: str):
    return c.get(f"/api/resources/{encoded(uri)}/content", params=params)


# --- listing ---------------------------------------------------------------------------------

def test_lists_the_files_under_the_paths_in_the_references_shape(c, project):
    body = c.get("/api/resources").json()
    assert body["ok"] is True
    by_uri = {r["uri"]: r for r in body["resources"]}
    readme = by_uri[f"{project}/README.md"]
    assert readme["lastModified"].endswith("Z")
    assert readme == {"uri": f"{project}/README.md", "name": "README.md", "description": "Filesystem resource",
                      "source": "internal", "size": len("# Project\nRead me.\n"),
                      "lastModified": readme["lastModified"], "metadata": {"originalUri": f"{project}/README.md"}}
    assert set(by_uri) == {f"{project}/{name}" for name in (
        "README.md", "notes/todo.txt", "notes/data.json", "logo.png", "latin1.txt", "big.bin", "LICENSE")}
    # Not listed: link-in.md (listed once, as README.md), link-out.md and hard.md (outside), deep.md
    # (too deep), script.py (extension), .hidden.md / .private / .env, node_modules, home/ (the
    # server's SWITCHYARD_HOME), files-agent.db (the agent's database), agent.yml (the agent file).
    assert c.get("/api/resources", params={"agentId": "bare"}).json() == {"ok": True, "resources": []}


def test_a_new_file_is_listed_without_a_restart(c, project):
    (project / "notes" / "fresh.md").write_text("new\n")
    try:
        uris = {r["uri"] for r in c.get("/api/resources").json()["resources"]}
        assert f"{project}/notes/fresh.md" in uris
    finally:
        (project / "notes" / "fresh.md").unlink()


def test_include_hidden_and_max_files(c, project):
    # Folders are walked in name order: .env (never), .hidden.md, .private/plan.md, LICENSE, then
    # maxFiles (3) is reached.
    listed = [r["uri"] for r in c.get("/api/resources", params={"agentId": "hidden"}).json()["resources"]]
    assert listed == [f"{project}/.hidden.md", f"{project}/.private/plan.md", f"{project}/LICENSE"]
    hidden = content(c, f"{project}/.hidden.md", agentId="hidden")
    assert hidden.status_code == 200 and hidden.json()["content"]["contents"][0]["text"] == "hidden file\n"
    # maxFiles caps the list, not what may be read; .env stays refused with includeHidden.
    assert content(c, f"{project}/README.md", agentId="hidden").status_code == 200
    env = content(c, f"{project}/.env", agentId="hidden")
    assert env.status_code == 403 and "sk-server-secret" not in env.text


# --- reading ---------------------------------------------------------------------------------

def test_reads_a_text_file_by_path_and_by_fs_uri(c, project):
    path = f"{project}/README.md"
    by_path = content(c, path)
    assert by_path.status_code == 200, by_path.text
    assert by_path.json() == {"ok": True, "content": {
        "contents": [{"uri": path, "mimeType": "text/markdown", "text": "# Project\nRead me.\n"}],
        "_meta": {"size": 19, "originalName": "README.md"}}}
    by_fs = content(c, f"fs://{path}").json()["content"]
    assert by_fs["contents"][0] == {"uri": f"fs://{path}", "mimeType": "text/markdown", "text": "# Project\nRead me.\n"}
    assert content(c, f"{project}/notes/data.json").json()["content"]["contents"][0]["mimeType"] == "application/json"
    assert content(c, f"{project}/LICENSE").json()["content"]["contents"][0]["text"] == "MIT\n"


def test_reads_binary_files_as_base64_with_their_mime_type(c, project):
    logo = content(c, f"{project}/logo.png").json()["content"]
    item = logo["contents"][0]
    assert item["mimeType"] == "image/png" and "text" not in item and base64.b64decode(item["blob"]) == PNG
    assert logo["_meta"] == {"isBinary": True, "size": len(PNG), "originalMimeType": "image/png",
                             "originalName": "logo.png"}
    # A .txt that is not UTF-8 is served as bytes, not mangled text.
    latin = content(c, f"{project}/latin1.txt").json()["content"]["contents"][0]
    assert latin["mimeType"] == "application/octet-stream"
    assert base64.b64decode(latin["blob"]).decode("latin-1") == "caf\xe9 cr\xe8me"


def test_a_file_over_10_mib_is_refused_by_size(c, project):
    response = content(c, f"{project}/big.bin")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "resource_too_large" and body["details"]["size"] == 10 * 1024 * 1024 + 1


def test_head_says_whether_a_file_resource_exists(c, project):
    assert c.head(f"/api/resources/{encoded(f'{project}/README.md')}").status_code == 200
    assert c.head(f"/api/resources/{encoded(f'fs://{project}/notes/todo.txt')}").status_code == 200
    for uri in (f"{project}/nope.md", f"{project}/.env", f"{project}/../outside/secret.md", "/etc/passwd",
                f"{project}/hard.md", f"{project}/link-out.md", f"{project}/notes"):
        response = c.head(f"/api/resources/{encoded(uri)}")
        assert response.status_code == 404 and response.content == b"", uri
    missing = content(c, f"{project}/nope.md")
    assert missing.status_code == 404 and missing.json()["code"] == "resource_not_found"


@pytest.mark.parametrize("relative, reason", [
    ("link-out.md", "outside the configured paths"),           # a symlink out of the folder
    ("../outside/secret.md", "outside the configured paths"),  # `..`
    ("hard.md", "hard links"),                                 # a hard link to a file outside
    ("notes/a/b/deep.md", "deeper than maxDepth (3)"),
    ("script.py", "extension '.py' is not in includeExtensions"),
    (".hidden.md", "a hidden file"),
    (".private/plan.md", "skipped folder '.private'"),
    ("node_modules/pkg/index.md", "skipped folder 'node_modules'"),
    (".env", "an environment file"),
    ("home/keys.json", "the server's own data"),               # SWITCHYARD_HOME
    ("files-agent.db", "the server's own data"),               # the agent's database
    ("agent.yml", "the server's own data"),                    # the agent file
])
def test_files_outside_the_rule_are_refused_naming_why(c, project, relative, reason):
    for uri in (f"{project}/{relative}", f"fs://{project}/{relative}"):
        response = content(c, uri)
        assert response.status_code == 403, (uri, response.text)
        body = response.json()
        assert body["code"] == "resource_access_denied" and reason in body["message"], body
        assert "sk-server-secret" not in response.text and "server's keys" not in response.text


@pytest.mark.parametrize("uri", ["/etc/passwd", "fs:///etc/hostname", "fs://../outside/secret.md",
                                 "fs://~/.bashrc"])
def test_absolute_and_relative_uris_elsewhere_are_refused(c, uri):
    response = content(c, uri)
    assert response.status_code == 403, response.text
    assert response.json()["details"] == {"uri": uri, "reason": "outside the configured paths"}


def test_an_agent_without_a_resources_block_serves_no_files(c, project):
    response = content(c, f"{project}/README.md", agentId="bare")
    assert response.status_code == 404 and response.json()["code"] == "resource_not_found"


# --- blobs -----------------------------------------------------------------------------------

def test_blobs_are_listed_as_the_reference_lists_them(c, live, project):
    created = c.post("/api/prompts/custom", json={
        "name": "with-file", "content": "Summarize it.",
        "resource": {"data": base64.b64encode(b"%PDF-1.4").decode(), "mimeType": "application/pdf",
                     "filename": "brief.pdf"}})
    assert created.status_code == 201, created.text
    attached = created.json()["prompt"]["metadata"]["resourceUri"]
    # A file a user stored (what the reference's uploads are), written where the server keeps them.
    with sqlite3.connect(project / "files-agent.db") as db:
        db.execute("INSERT INTO blobs (agent_id, id, mime_type, original_name, size, source, data, created_at) "
                   "VALUES ('files-agent', 'u1', 'image/png', NULL, 2048, 'user', ?, 1764547200000)", (b"\1" * 2048,))
    try:
        listed = {r["uri"]: r for r in c.get("/api/resources").json()["resources"]}
        assert attached not in listed            # a custom prompt's file is `system`: not listed
        assert listed["blob:u1"] == {
            "uri": "blob:u1", "name": "uploaded-image.png", "description": "Image (2 KB) • user",
            "source": "internal", "size": 2048, "mimeType": "image/png", "lastModified": "2025-12-01T00:00:00.000Z",
            "metadata": {"type": "blob", "source": "user", "createdAt": 1764547200000}}
        read = content(c, "blob:u1").json()["content"]
        assert base64.b64decode(read["contents"][0]["blob"]) == b"\1" * 2048
        assert content(c, attached).status_code == 200   # still readable by its URI
    finally:
        with sqlite3.connect(project / "files-agent.db") as db:
            db.execute("DELETE FROM blobs WHERE id = 'u1'")
        c.delete("/api/prompts/custom/with-file")


# --- loading ---------------------------------------------------------------------------------

def test_a_bad_resources_block_names_its_field_at_load(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("agentId: bad\nllm: {provider: echo, model: echo}\nresources:\n"
                   "  - {type: filesystem, paths: [], maxDepth: 11, includeExtensions: [md]}\n"
                   "  - {type: blob, size: 3}\n  - {type: s3}\n")
    result = subprocess.run([sys.executable, "-m", "switchyard.cli", "validate", str(bad)],
                            env=cli_env(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    for line in ("resources[0].paths: List should have at least 1 item",
                 "resources[0].maxDepth: Input should be less than or equal to 10",
                 "resources[0].includeExtensions[0]: String should match pattern",
                 "resources[1].size: unknown field",
                 "resources[2]: unknown type 's3'; expected one of 'filesystem', 'blob'"):
        assert line in result.stderr, result.stderr
