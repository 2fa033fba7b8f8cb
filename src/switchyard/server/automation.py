"""Wires automation (webhooks, schedules) into the app: services on the server database,
each agent's events observed for the webhook outbox, background work under one Supervisor.

Order at shutdown: the scheduler stops before the agents (no new scheduled run starts while
they stop); the webhook outbox after them, so that the events of the turns that finish
during the agents' grace period are still recorded (and delivered by the next process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from fastapi import FastAPI, Request

from switchyard.automation.scheduler import ScheduleService
from switchyard.automation.webhooks import WebhookService
from switchyard.runtime.host import AgentHost
from switchyard.runtime.supervisor import Supervisor
from switchyard.server.settings import ServerSettings
from switchyard.server.wire import encode
from switchyard.store.database import Database


@dataclass
class Automation:
    db: Database
    webhooks: WebhookService
    supervisor: Supervisor
    schedules: ScheduleService


def install_automation(app: FastAPI, host: AgentHost, settings: ServerSettings) -> Automation:
    db = Database(settings.security.server_database_url())
    webhooks = WebhookService(db, settings.automation, encode, known_agents=tuple(host.agents))
    schedules = ScheduleService(db, host, tick_seconds=settings.automation.scheduler_tick)
    automation = Automation(db, webhooks, Supervisor("automation"), schedules)
    app.state.automation = automation
    def wire(agent: Any) -> None:
        agent.publisher.observers.append(webhooks.recorder.observer_for(agent.id))
        if "scheduler-tools" in agent.loaded.tool_types:
            from switchyard.automation.scheduler_tools import scheduler_tools
            for tool in scheduler_tools(schedules):
                agent.tools.add(tool)
        webhooks.known_agents = tuple({*host.agents, agent.id})

    for agent in host.agents.values():
        wire(agent)
    host.on_join.append(wire)   # agents installed or reloaded while serving

    async def startup() -> None:
        await db.open()
        await webhooks.start(automation.supervisor)
        schedules.start(automation.supervisor)

    async def before_agents_stop() -> None:
        schedules.pause()

    async def after_agents_stopped() -> None:
        await automation.supervisor.stop(grace=2.0)
        await webhooks.stop()
        await db.close()

    app.state.startup_hooks.append(startup)
    app.state.shutdown_hooks.append(before_agents_stop)
    app.state.after_stop_hooks.append(after_agents_stopped)
    return automation


def automation_of(request: Request) -> Automation:
    return request.app.state.automation
