"""builtin-tools and todo-tools: http_request against real loopback servers (SSRF to
127.0.0.1, localhost, ::1, 169.254.169.254, a redirect to them, a body over the cap), sleep,
ask_user answered through the approval coordinator, todo_write and its todo:update event."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from switchyard.config.loader import parse_agent
from switchyard.config.schema import PermissionsConfig
from switchyard.errors import ToolError
from switchyard.tools.approval import ApprovalCoordinator
from switchyard.tools.builtin import BuiltinDeps, build_builtin_tools
from switchyard.tools.context import ToolCallContext


class _Recorder(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"nope"))  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def servers():
    """Two loopback HTTP servers that record the paths they were asked for."""
    started = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen, server.routes = [], {}  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def build(tmp_path: Path, entries: list[dict], approvals=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = parse_agent({"tools": entries}).config
    published: list = []

    async def publish(event):
        published.append(event)

    tooling = build_builtin_tools(config.tools, BuiltinDeps(
        agent_dir=tmp_path, protected=[], spawn=lambda work, name: asyncio.ensure_future(work),
        publish=publish, approvals=lambda: approvals))
    return {t.name: t for t in tooling.tools}, published


def ctx() -> ToolCallContext:
    return ToolCallContext(call_id="c1", session_id="s1")


async def refused(tools, name, **args) -> str:
    with pytest.raises(ToolError) as info:
        result = await tools[name].call(args, ctx())
        pytest.fail(f"not refused: {result.as_text()[:300]}")
    return info.value.message


def port(server) -> int:
    return server.server_address[1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:{a}/", "http://localhost:{a}/", "http://[::1]:{a}/",
                                 "http://[::ffff:127.0.0.1]:{a}/", "http://0.0.0.0:{a}/",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                                 "http://192.168.1.1/", "file:///etc/passwd"])
async def test_http_request_refuses_local_private_and_metadata_targets(tmp_path, servers, url):
    tools, _ = build(tmp_path, [{"type": "builtin-tools"}])
    message = await refused(tools, "http_request", url=url.format(a=port(servers[0])))
    assert "blocked" in message or "not allowed" in message
    assert servers[0].seen == []


async def test_an_allowed_host_is_reached_and_its_json_parsed(tmp_path, servers):
    a = servers[0]
    a.routes["/data?x=1"] = (200, {"Content-Type": "application/json"}, b'{"ok": 1}')
    tools, _ = build(tmp_path, [{"type": "builtin-tools", "allowedHosts": [f"127.0.0.1:{port(a)}"]}])
    result = await tools["http_request"].call({"url": f"http://127.0.0.1:{port(a)}/data", "query": {"x": "1"}}, ctx())
    body = json.loads(result.as_text())
    assert (body["status"], body["ok"], body["json"]) == (200, True, {"ok": 1})
    # allowedHosts names a host and port: another port of the same address is still refused.
    assert "blocked" in await refused(tools, "http_request", url=f"http://127.0.0.1:{port(servers[1])}/")


@pytest.mark.parametrize("target", ["http://127.0.0.1:{b}/inner", "http://169.254.169.254/latest/meta-data/"])
async def test_a_redirect_to_a_refused_target_is_checked_again(tmp_path, servers, target):
    a, b = servers
    a.routes["/go"] = (302, {"Location": target.format(b=port(b))}, b"")
    tools, _ = build(tmp_path, [{"type": "builtin-tools", "allowedHosts": [f"127.0.0.1:{port(a)}"]}])
    assert "blocked" in await refused(tools, "http_request", url=f"http://127.0.0.1:{port(a)}/go")
    assert a.seen == ["/go"] and b.seen == []


async def test_response_size_and_redirect_caps(tmp_path, servers):
    a = servers[0]
    a.routes["/big"] = (200, {}, b"x" * 5000)
    a.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    tools, _ = build(tmp_path, [{"type": "builtin-tools", "allowedHosts": ["127.0.0.1"],
                                 "maxResponseBytes": 1000, "maxRedirects": 3}])
    assert "response too large" in await refused(tools, "http_request", url=f"http://127.0.0.1:{port(a)}/big")
    assert "too many redirects" in await refused(tools, "http_request", url=f"http://127.0.0.1:{port(a)}/loop")
    assert a.seen.count("/loop") == 4


async def test_sleep_and_its_cancellation(tmp_path):
    tools, _ = build(tmp_path, [{"type": "builtin-tools", "enabledTools": ["sleep"]}])
    assert list(tools) == ["sleep"]
    assert json.loads((await tools["sleep"].call({"ms": 5}, ctx())).as_text()) == {"sleptMs": 5}
    context = ctx()
    task = asyncio.ensure_future(tools["sleep"].call({"ms": 600_000}, context))
    await asyncio.sleep(0)
    context.cancellation.cancel("the turn was cancelled")
    with pytest.raises(ToolError, match="cancelled"):
        await asyncio.wait_for(task, 10)


async def test_ask_user_is_answered_through_the_approval_flow(tmp_path):
    events = []

    async def emit(event):
        events.append(event)

    coordinator = ApprovalCoordinator(PermissionsConfig(mode="auto-approve"), emit)
    tools, _ = build(tmp_path, [{"type": "builtin-tools", "enabledTools": ["ask_user"]}], approvals=coordinator)
    task = asyncio.ensure_future(tools["ask_user"].call({"question": "Which database?"}, ctx()))
    for _ in range(100):
        if coordinator.pending("s1"):
            break
        await asyncio.sleep(0.01)
    [request] = coordinator.pending("s1")
    assert request["metadata"]["toolName"] == "ask_user"
    assert request["metadata"]["args"] == {"question": "Which database?"}
    coordinator.resolve(request["approvalId"], "approved", form_data={"answer": "postgres"})
    result = await asyncio.wait_for(task, 10)
    assert json.loads(result.as_text()) == {"answered": True, "answer": {"answer": "postgres"}}
    assert [e.name for e in events] == ["approval:request", "approval:response"]


async def test_todo_write_replaces_the_list_and_publishes_todo_update(tmp_path):
    tools, published = build(tmp_path, [{"type": "todo-tools"}])
    first = [{"content": "Read code", "activeForm": "Reading code", "status": "in_progress"},
             {"content": "Fix bug", "activeForm": "Fixing bug", "status": "pending"}]
    assert (await tools["todo_write"].call({"todos": first}, ctx())).as_text() == \
        "Updated todos: 0/2 completed, 1 in progress, 1 pending"
    second = [{**first[0], "status": "completed"}, {**first[1], "status": "in_progress"}]
    await tools["todo_write"].call({"todos": second}, ctx())
    [one, two] = published
    assert (one.name, one.session_id, one.stats) == ("todo:update", "s1", {"created": 2, "updated": 0, "deleted": 0})
    assert two.stats == {"created": 0, "updated": 2, "deleted": 0}
    assert [t["id"] for t in two.todos] == [t["id"] for t in one.todos]
    assert [t["status"] for t in two.todos] == ["completed", "in_progress"]
    both = [{**first[0]}, {**first[1], "status": "in_progress"}]
    bad = await tools["todo_write"].call({"todos": both}, ctx())
    assert bad.is_error and "only one todo may be in_progress" in bad.as_text()


async def test_plan_tools_create_read_update_and_review(tmp_path):
    coordinator = ApprovalCoordinator(PermissionsConfig(mode="auto-approve"), _ignore)
    tools, _ = build(tmp_path, [{"type": "plan-tools"}], approvals=coordinator)
    assert sorted(tools) == ["plan_create", "plan_read", "plan_review", "plan_update"]
    created = json.loads((await tools["plan_create"].call({"title": "Fix add", "content": "- [ ] fix"}, ctx())).as_text())
    assert created["status"] == "draft" and created["path"] == str(tmp_path / ".dexto/plans/s1/plan.md")
    assert "already has a plan" in await refused(tools, "plan_create", title="again", content="x")
    await tools["plan_update"].call({"content": "- [x] fix"}, ctx())
    read = json.loads((await tools["plan_read"].call({}, ctx())).as_text())
    assert (read["content"], read["title"], read["status"]) == ("- [x] fix", "Fix add", "draft")

    async def answer(status, **extra):
        for _ in range(100):
            if coordinator.pending("s1"):
                break
            await asyncio.sleep(0.01)
        [request] = coordinator.pending("s1")
        assert request["metadata"]["args"]["content"] == "- [x] fix"
        coordinator.resolve(request["approvalId"], status, **extra)

    review = asyncio.ensure_future(tools["plan_review"].call({"summary": "one step"}, ctx()))
    await answer("denied", message="also add a test")
    denied = json.loads((await review).as_text())
    assert denied["approved"] is False and "also add a test" in denied["message"]
    review = asyncio.ensure_future(tools["plan_review"].call({}, ctx()))
    await answer("approved")
    assert json.loads((await review).as_text())["planStatus"] == "approved"
    assert json.loads((await tools["plan_read"].call({}, ctx())).as_text())["status"] == "approved"


async def test_a_plan_never_leaves_its_folder_whatever_the_session_id(tmp_path):
    tools, _ = build(tmp_path / "agent", [{"type": "plan-tools"}])
    context = ToolCallContext(call_id="c1", session_id="../../../escape")
    created = json.loads((await tools["plan_create"].call({"title": "t", "content": "c"}, context)).as_text())
    assert Path(created["path"]).parent.parent == tmp_path / "agent/.dexto/plans"
    assert not (tmp_path / "escape").exists()


async def _ignore(event):
    pass


SKILL = """---
description: Review the given files
---

# Code Review Skill

Focus on $focus. Files: $ARGUMENTS
"""


async def test_skills_are_the_skill_folders_and_read_skill_stays_in_the_skill_folder(tmp_path):
    from switchyard.runtime.skills import SkillCatalog
    agent_dir = tmp_path / "agent"
    (agent_dir / "skills" / "code-review").mkdir(parents=True)
    (agent_dir / "skills" / "code-review" / "SKILL.md").write_text(SKILL)
    (agent_dir / "skills" / "code-review" / "checklist.txt").write_text("1. tests\n")
    (agent_dir / "skills" / "code-review" / "out.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("outside")
    # The agent file's prompts are prompts, not skills (as in the reference).
    config = parse_agent({"prompts": [{"type": "inline", "id": "quick-start", "prompt": "Say hi"}],
                          "tools": [{"type": "builtin-tools"}]}).config
    tooling = build_builtin_tools(config.tools, BuiltinDeps(
        agent_dir=agent_dir, protected=[], spawn=lambda work, name: asyncio.ensure_future(work),
        publish=_ignore, approvals=lambda: None, skills=SkillCatalog(agent_dir)))
    tools = {t.name: t for t in tooling.tools}
    assert "Skills: code-review." in tools["invoke_skill"].description

    async def call(name, args):
        return json.loads((await tools[name].call(args, ctx())).as_text())

    invoked = await call("invoke_skill", {"skill": "Code Review Skill", "taskContext": "PR 12"})
    assert invoked["skill"] == "code-review"
    assert invoked["content"] == f"## Task Context\nPR 12\n\n## Skill Instructions\n{SKILL}"
    read = await call("read_skill", {"skill": "code-review"})
    assert read == {"success": True, "skill": "code-review", "displayName": "Code Review Skill", "content": SKILL}
    extra = await call("read_skill", {"skill": "code-review", "path": "checklist.txt"})
    assert extra["content"] == "1. tests\n"
    for path in ("../../../secret.txt", "out.txt", str(tmp_path / "secret.txt"), "nothing.txt"):
        refused = await call("read_skill", {"skill": "code-review", "path": path})
        assert refused["success"] is False and refused["error"] == f"Skill file not found: code-review/{path}"
    assert await call("invoke_skill", {"skill": "quick-start"}) == {
        "error": "Skill 'quick-start' not found or not available for model invocation. Use a skill from "
                 "the available list.", "availableSkills": ["Code Review Skill"]}
    assert (await call("read_skill", {"skill": "nope"}))["error"] == "Skill not found: nope"


async def test_skill_tools_are_offered_only_where_skills_exist(tmp_path):
    tools, _ = build(tmp_path, [{"type": "builtin-tools"}])
    assert "invoke_skill" not in tools and "read_skill" not in tools and "ask_user" in tools
