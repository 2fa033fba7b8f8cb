"""Schedules on a fake clock: a real agent (a FunctionModel), a real SQLite server database,
the ScheduleService's tick called at chosen times. Due runs fire once, a downtime's missed
time runs once, time zones follow daylight saving, failures are counted, and two services
sharing one database (two processes' worth) run each due time once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from switchyard.automation.scheduler import ScheduleService
from switchyard.automation.schedules import next_run
from switchyard.config import parse_agent
from switchyard.errors import LLMError, NotFoundError, RequestError
from switchyard.llm.base import content_to_text
from switchyard.llm.function import FunctionModel
from switchyard.principal import ANONYMOUS, Principal
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.store.database import Database


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


class Clock:
    def __init__(self, start: str) -> None:
        self.now = ms(start)

    def __call__(self) -> int:
        return self.now

    def set(self, text: str) -> None:
        self.now = ms(text)


def replying(messages: list[dict[str, Any]], tools: Any, info: Any) -> str:
    text = content_to_text(messages[-1]["content"])
    if text == "fail":
        raise LLMError("the provider is down", provider="scripted", upstream_status=503)
    return f"did: {text}"


@pytest.fixture
def world(tmp_path):
    async def make(clock: Clock):
        agent = Agent(parse_agent({"agentId": "cron", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "agent.db")}}}, env={}),
            llm_client=FunctionModel(replying, provider="scripted", model="s-1"))
        host = AgentHost([agent])
        await host.start()
        db = await Database(f"sqlite+aiosqlite:///{tmp_path / 'server.db'}").open()
        return host, db, ScheduleService(db, host, clock=clock)
    return make


def test_next_run_follows_the_time_zone_across_daylight_saving():
    winter = next_run("0 9 * * *", "Europe/Paris", ms("2026-01-10T12:00:00"))
    summer = next_run("0 9 * * *", "Europe/Paris", ms("2026-07-10T12:00:00"))
    assert winter == ms("2026-01-11T08:00:00") and summer == ms("2026-07-11T07:00:00")
    assert next_run("*/15 * * * *", "UTC", ms("2026-03-01T10:00:00")) == ms("2026-03-01T10:15:00")


async def test_a_due_run_fires_once_and_a_missed_time_runs_once_after_downtime(world):
    clock = Clock("2026-03-01T12:01:00")
    host, db, service = await world(clock)
    try:
        row = await service.create(ANONYMOUS, name="report", instruction="write the report",
                                   cron="*/5 * * * *")
        assert row["next_run_at"] == ms("2026-03-01T12:05:00") and row["session_mode"] == "dedicated"
        clock.set("2026-03-01T12:04:59")
        assert await service.tick() == 0
        clock.set("2026-03-01T12:05:00")
        assert await service.tick() == 1
        assert await service.tick() == 0          # the same due time never runs twice
        clock.set("2026-03-01T12:31:10")          # the server was down for five due times
        assert await service.tick() == 1          # they run once, not five times
        assert await service.tick() == 0
        after = await service.get(ANONYMOUS, row["id"])
        assert after["next_run_at"] == ms("2026-03-01T12:35:00")
        assert (after["run_count"], after["success_count"], after["failure_count"]) == (2, 2, 0)
        runs = await service.history(ANONYMOUS, row["id"])
        assert [r["status"] for r in runs] == ["success", "success"]
        assert runs[0]["result"] == "did: write the report"
        # Both runs talked in the schedule's dedicated session.
        history = await host.default.history(f"schedule-{row['id']}")
        assert [m["content"] for m in history if m["role"] == "user"] == ["write the report"] * 2
    finally:
        await host.stop()
        await db.close()


async def test_failures_are_counted_with_the_last_error_and_disabled_schedules_wait(world):
    clock = Clock("2026-03-01T12:00:30")
    host, db, service = await world(clock)
    try:
        row = await service.create(ANONYMOUS, name="f", instruction="fail", cron="* * * * *",
                                   session_mode="ephemeral")
        clock.set("2026-03-01T12:01:00")
        assert await service.tick() == 1
        after = await service.get(ANONYMOUS, row["id"])
        assert after["failure_count"] == 1 and "provider is down" in after["last_error"]
        assert await host.default.list_sessions() == []       # ephemeral: gone after the run
        paused = await service.update(ANONYMOUS, row["id"], {"enabled": False})
        assert paused["next_run_at"] is None
        clock.set("2026-03-01T13:00:00")
        assert await service.tick() == 0
        resumed = await service.update(ANONYMOUS, row["id"], {"enabled": True, "cronExpression": "0 14 * * *",
                                                               "timezone": "America/New_York"})
        assert resumed["next_run_at"] == ms("2026-03-01T19:00:00")
    finally:
        await host.stop()
        await db.close()


async def test_two_services_on_one_database_run_each_due_time_once(world, tmp_path):
    clock = Clock("2026-03-01T12:00:30")
    host, db, first = await world(clock)
    second = ScheduleService(db, host, clock=clock)
    try:
        row = await first.create(ANONYMOUS, name="r", instruction="race", cron="* * * * *")
        for minute in range(1, 6):
            clock.set(f"2026-03-01T12:0{minute}:00")
            started = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
            assert sum(started) == 1
        assert (await first.get(ANONYMOUS, row["id"]))["run_count"] == 5
    finally:
        await host.stop()
        await db.close()


async def test_bad_input_names_the_field_and_owners_see_only_their_own(world):
    clock = Clock("2026-03-01T12:00:00")
    host, db, service = await world(clock)
    alice, bob = Principal("alice", frozenset({"admin"})), Principal("bob", frozenset({"admin"}))
    try:
        for kwargs, field in (({"cron": "61 * * * *"}, "cronExpression"), ({"timezone": "Mars/Base"}, "timezone"),
                              ({"session_mode": "fixed"}, "sessionId"), ({"agent_id": "ghost"}, "agentId")):
            args = {"name": "x", "instruction": "y", "cron": "* * * * *", **kwargs}
            with pytest.raises(RequestError) as caught:
                await service.create(alice, **args)
            assert caught.value.details["field"] == field
        mine = await service.create(alice, name="a", instruction="y", cron="@hourly")
        assert [r["id"] for r in await service.list(alice)] == [mine["id"]]
        assert await service.list(bob) == []
        with pytest.raises(NotFoundError):
            await service.get(bob, mine["id"])
        with pytest.raises(NotFoundError):
            await service.delete(bob, mine["id"])
        assert [r["id"] for r in await service.list(ANONYMOUS)] == [mine["id"]]
    finally:
        await host.stop()
        await db.close()


async def test_a_run_abandoned_by_a_crashed_process_is_closed_as_a_timeout(world):
    from switchyard.automation import schedule_store as ss
    clock = Clock("2026-03-01T12:00:30")
    host, db, service = await world(clock)
    try:
        row = await service.create(ANONYMOUS, name="c", instruction="x", cron="@daily")
        # Another process claimed a run and died before finishing it.
        await db.write(ss.record_manual, row["id"], "exec_dead", "gone-host:1", clock())
        clock.set("2026-03-01T12:05:00")        # within the run timeout: left alone
        await service.tick()
        assert (await db.read(ss.get_run, "exec_dead"))["status"] == "pending"
        clock.set("2026-03-01T12:20:00")        # past it: closed, once
        await service.tick()
        await ScheduleService(db, host, clock=clock).tick()
        assert (await db.read(ss.get_run, "exec_dead"))["status"] == "timeout"
        after = await service.get(ANONYMOUS, row["id"])
        assert after["failure_count"] == 1 and "abandoned" in after["last_error"]
    finally:
        await host.stop()
        await db.close()
