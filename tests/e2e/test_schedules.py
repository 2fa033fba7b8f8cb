"""Schedules over real HTTP: the reference's routes and shapes, trigger now with the run's
outcome, history, validation naming the field, scopes and owners; and two real `switchyard
serve` processes sharing Postgres that run each due time once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import postgres_url
from tests.support.live_server import LiveServer
from tests.support.net import free_port, wait_for_port
from tests.support.security import ROOT, ROOT_KEY, ScriptedLLM, bearer, create_key


def server(tmp_path, env: dict[str, str] | None = None) -> LiveServer:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        agent = Agent(parse_agent({"agentId": "sched", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "agent.db")}}}, env={}), llm_client=ScriptedLLM("done it"))
        settings = ServerSettings.from_env({"SWITCHYARD_HOME": str(tmp_path), **(env or {})})
        return create_app(AgentHost([agent]), settings=settings, shutdown_grace=3)
    return LiveServer(factory)


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_schedule_routes_in_the_references_shapes(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        r = c.post("/api/schedules", json={"name": "daily", "instruction": "summarise the day",
                                           "cronExpression": "0 18 * * 1-5", "timezone": "Europe/Paris"})
        assert r.status_code == 201, r.text
        s = r.json()["schedule"]
        assert s["id"].startswith("sched_") and s["enabled"] is True and s["sessionMode"] == "dedicated"
        assert s["task"] == {"instruction": "summarise the day"} and s["timezone"] == "Europe/Paris"
        assert (s["runCount"], s["successCount"], s["failureCount"]) == (0, 0, 0)
        assert s["nextRunAt"] > s["createdAt"] and "lastRunAt" not in s and s["agentId"] == "sched"
        assert c.get("/api/schedules").json()["schedules"] == [s]

        t = c.post(f"/api/schedules/{s['id']}/trigger")
        assert t.status_code == 200, t.text
        execution = t.json()["execution"]
        assert t.json()["scheduled"] is True and execution["status"] == "success"
        assert execution["result"] == "done it" and execution["scheduleId"] == s["id"]
        assert execution["completedAt"] >= execution["triggeredAt"] and execution["duration"] >= 0
        after = c.get("/api/schedules").json()["schedules"][0]
        assert (after["runCount"], after["successCount"]) == (1, 1) and after["lastRunAt"] >= s["createdAt"]
        assert [x["id"] for x in c.get(f"/api/schedules/{s['id']}/runs").json()["runs"]] == [execution["id"]]
        history = c.get(f"/api/sessions/schedule-{s['id']}/history").json()["history"]
        assert [m["content"] for m in history] == ["summarise the day", "done it"]

        p = c.patch(f"/api/schedules/{s['id']}", json={"enabled": False, "name": "weekday"})
        assert p.status_code == 200 and p.json()["schedule"]["enabled"] is False
        assert "nextRunAt" not in p.json()["schedule"] and p.json()["schedule"]["name"] == "weekday"

        bad = c.post("/api/schedules", json={"name": "x", "instruction": "y", "cronExpression": "every day"})
        assert bad.status_code == 400 and bad.json()["details"]["field"] == "cronExpression"
        tz = c.post("/api/schedules", json={"name": "x", "instruction": "y", "cronExpression": "@daily",
                                            "timezone": "Moon/Crater"})
        assert tz.status_code == 400 and tz.json()["code"] == "invalid_timezone"
        fixed = c.post("/api/schedules", json={"name": "x", "instruction": "y", "cronExpression": "@daily",
                                               "sessionMode": "fixed"})
        assert fixed.status_code == 400 and fixed.json()["details"]["field"] == "sessionId"
        patch_bad = c.patch(f"/api/schedules/{s['id']}", json={"cronExpression": "99 * * * *"})
        assert patch_bad.status_code == 400

        assert c.delete(f"/api/schedules/{s['id']}").json() == {"deleted": True}
        gone = c.post(f"/api/schedules/{s['id']}/trigger")
        assert gone.status_code == 404 and gone.json()["code"] == "schedule_not_found"
        assert c.patch(f"/api/schedules/{s['id']}", json={"name": "z"}).status_code == 404


def test_schedules_fire_from_the_servers_own_tick(tmp_path):
    with server(tmp_path, {"SWITCHYARD_SCHEDULER_TICK_SECONDS": "0.1"}) as live, live.client() as c:
        s = c.post("/api/schedules", json={"name": "tick", "instruction": "ping", "cronExpression": "* * * * * *",
                                           "sessionMode": "fixed", "sessionId": "pinged"}).json()["schedule"]
        wait_until(lambda: c.get("/api/schedules").json()["schedules"][0]["successCount"] >= 2)
        c.patch(f"/api/schedules/{s['id']}", json={"enabled": False})
        history = c.get("/api/sessions/pinged/history").json()["history"]
        assert [m["content"] for m in history[:2]] == ["ping", "done it"]


def test_scopes_and_owners(tmp_path):
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": ROOT_KEY}
    with server(tmp_path, env) as live, live.client() as c:
        alice = bearer(create_key(c, "alice", ["admin"]))
        bob = bearer(create_key(c, "bob", ["admin"]))
        reader = bearer(create_key(c, "reader", ["read", "chat"]))
        body = {"name": "a", "instruction": "y", "cronExpression": "@hourly"}
        assert c.post("/api/schedules", headers=reader, json=body).status_code == 403
        mine = c.post("/api/schedules", headers=alice, json=body).json()["schedule"]
        assert c.get("/api/schedules", headers=bob).json()["schedules"] == []
        assert c.post(f"/api/schedules/{mine['id']}/trigger", headers=bob).status_code == 404
        assert c.delete(f"/api/schedules/{mine['id']}", headers=bob).status_code == 404
        assert [x["id"] for x in c.get("/api/schedules", headers=ROOT).json()["schedules"]] == [mine["id"]]
        assert c.get("/api/schedules", headers=reader).json()["schedules"] == []


# --- two processes, one Postgres ------------------------------------------------------------

async def _admin(sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(postgres_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_database():
    if not postgres_url():
        pytest.skip("SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
    name = f"sy_sched_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url().rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_two_server_processes_on_postgres_run_each_due_time_once(tmp_path, postgres_database):
    agent_file = tmp_path / "agent.yml"
    agent_file.write_text(yaml.safe_dump({"agentId": "cron-pg", "llm": {"provider": "echo", "model": "echo"},
                                          "storage": {"database": {"type": "postgres", "url": postgres_database}}}))
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home"), "SWITCHYARD_DATABASE_URL": postgres_database,
           "SWITCHYARD_SCHEDULER_TICK_SECONDS": "0.05", "PYTHONPATH": os.pathsep.join(sys.path)}
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent_file),
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for port in ports]
    try:
        for port, proc in zip(ports, procs):
            wait_for_port(port, proc=proc, timeout=30)
        a, b = (httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports)
        s = a.post("/api/schedules", json={"name": "each second", "instruction": "tick",
                                           "cronExpression": "* * * * * *"}).json()["schedule"]
        wait_until(lambda: b.get("/api/schedules").json()["schedules"][0]["runCount"] >= 6)
        assert b.patch(f"/api/schedules/{s['id']}", json={"enabled": False}).status_code == 200
        runs = wait_until(lambda: (lambda rs: rs if all(r["status"] != "pending" for r in rs) else None)(
            a.get(f"/api/schedules/{s['id']}/runs", params={"limit": 500}).json()["runs"]))
        final = a.get("/api/schedules").json()["schedules"][0]
        assert final["runCount"] == len(runs) and final["successCount"] == len(runs)
        # Every claimed run ran exactly once: one user message per run in the dedicated session.
        history = a.get(f"/api/sessions/schedule-{s['id']}/history").json()["history"]
        assert sum(m["role"] == "user" for m in history) == len(runs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_agent_schedules_through_its_scheduler_tools(tmp_path):
    from switchyard.llm.function import FunctionModel, tool_call

    def reply(messages: list[dict[str, Any]], tools: Any, info: Any) -> Any:
        if messages[-1]["role"] == "user":
            assert {"create_schedule", "list_schedules", "update_schedule", "delete_schedule"} <= {
                t.name for t in tools}
            return [tool_call("create_schedule", {"name": "standup", "instruction": "post the standup",
                                                  "cronExpression": "30 9 * * 1-5", "timezone": "Asia/Tokyo",
                                                  "sessionMode": "inherit"})]
        return "scheduled: " + str(messages[-1]["content"][0]["text"])[:40]

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        agent = Agent(parse_agent({"agentId": "planner", "tools": [{"type": "scheduler-tools"}],
                                   "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "a.db")}}},
                                  env={}), llm_client=FunctionModel(reply))
        return create_app(AgentHost([agent]), settings=ServerSettings.from_env({"SWITCHYARD_HOME": str(tmp_path)}),
                          shutdown_grace=3)

    with LiveServer(factory) as live, live.client() as c:
        r = c.post("/api/message-sync", json={"content": "remind the team every weekday", "sessionId": "plan"})
        assert r.status_code == 200 and r.json()["response"].startswith("scheduled: {")
        [s] = c.get("/api/schedules").json()["schedules"]
        assert (s["name"], s["cronExpression"], s["timezone"]) == ("standup", "30 9 * * 1-5", "Asia/Tokyo")
        assert s["sessionMode"] == "inherit" and s["sessionId"] == "plan" and s["agentId"] == "planner"
