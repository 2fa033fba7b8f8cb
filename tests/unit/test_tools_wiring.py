"""The tools: families inside a real Agent (in-process, a FunctionModel): the server's own data
under SWITCHYARD_HOME and the agent's database are refused even when allowedPaths covers them,
and opened only by a rule naming them; background processes die when the agent stops."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from switchyard.config import parse_agent
from switchyard.events import ToolResultEvent
from switchyard.llm.function import FunctionModel, tool_call
from switchyard.runtime.agent import Agent


def agent_with(tmp_path: Path, calls: list, tools: list[dict]) -> Agent:
    pending = iter(calls)   # one call per turn, then "done"

    def reply(messages, specs, info):
        return [next(pending)] if info.step == 1 else "done"

    config = {"agentId": "wired", "tools": tools,
              "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "data" / "agent.db")}}}
    loaded = parse_agent(config, env={})
    loaded.path = str(tmp_path / "agent.yml")      # the agent's folder: tmp_path
    return Agent(loaded, llm_client=FunctionModel(reply))


async def results(agent: Agent, session: str, content: str = "go") -> dict[str, ToolResultEvent]:
    return {e.call_id: e async for e in agent.run(session, content) if isinstance(e, ToolResultEvent)}


async def test_server_data_is_refused_unless_a_rule_names_it(tmp_path, monkeypatch):
    home = tmp_path / "home"     # conftest's SWITCHYARD_HOME for this test
    home.mkdir(exist_ok=True)
    (home / "server.db").write_text("api key hashes")
    calls = [tool_call("read_file", {"file_path": "home/server.db"}, id="k"),
             tool_call("read_file", {"file_path": "data/agent.db"}, id="d"),
             tool_call("grep_content", {"pattern": "hashes"}, id="g")]
    agent = agent_with(tmp_path, calls, [{"type": "filesystem-tools", "allowedPaths": ["."], "blockedPaths": []}])
    await agent.start()
    try:
        seen = {}
        for i in range(3):
            seen.update(await results(agent, f"s{i}"))
    finally:
        await agent.stop()
    assert not seen["k"].success and "server's own data" in seen["k"].error
    assert not seen["d"].success and "server's own data" in seen["d"].error
    assert json.loads(seen["g"].content[0]["text"])["matches"] == []
    opened = agent_with(tmp_path, [tool_call("read_file", {"file_path": "home/server.db"}, id="k")],
                        [{"type": "filesystem-tools", "allowedPaths": [".", "home"]}])
    await opened.start()
    try:
        allowed = await results(opened, "s9")
    finally:
        await opened.stop()
    assert allowed["k"].success and "api key hashes" in allowed["k"].content[0]["text"]


async def test_stopping_the_agent_kills_background_processes(tmp_path):
    calls = [tool_call("bash_exec", {"command": "sleep 60 & echo $! > child.pid; sleep 60",
                                     "run_in_background": True}, id="b")]
    agent = agent_with(tmp_path, calls, [{"type": "process-tools", "securityLevel": "permissive"}])
    await agent.start()
    started = await results(agent, "s1")
    assert started["b"].success
    pid_file = tmp_path / "child.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    child = int(pid_file.read_text())
    await agent.stop()
    for _ in range(100):
        if not Path(f"/proc/{child}").exists() or \
                Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"process {child} outlived the agent")


async def test_lifecycle_tools_offer_search_history_over_the_agents_store(tmp_path):
    calls = [tool_call("search_history", {"query": "needle"}, id="h")]
    agent = agent_with(tmp_path, calls, [{"type": "lifecycle-tools"}])
    await agent.start()
    try:
        assert {t.name for t in agent.tools.all()} == {"search_history"}
        found = await results(agent, "s1", "where is the needle?")   # stored before the tool runs
    finally:
        await agent.stop()
    result = json.loads(found["h"].content[0]["text"])
    assert result["count"] == 1 and result["matches"][0]["snippet"] == "where is the needle?"
    assert (result["matches"][0]["sessionId"], result["matches"][0]["role"]) == ("s1", "user")
