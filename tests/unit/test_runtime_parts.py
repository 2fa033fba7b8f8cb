"""The Agent's parts on their own: a turn run from a hand-made TurnContext (no Agent), and
the model clients (per-session overrides, the client cache, switch validation)."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.config import parse_agent
from switchyard.config.schema import LLMConfig
from switchyard.errors import RequestError
from switchyard.events import (ChunkEvent, ResponseEvent, RunCompleteEvent, ThinkingEvent, ToolCallEvent,
                               ToolResultEvent, ToolRunningEvent)
from switchyard.ids import new_id, now_ms
from switchyard.llm.echo import EchoClient
from switchyard.runtime import models as models_module
from switchyard.runtime.models import ModelClients
from switchyard.runtime.run import Run
from switchyard.runtime.sessions import LiveSession
from switchyard.runtime.turn import TurnContext, TurnRunner
from switchyard.store import Store
from switchyard.tools.base import FunctionTool, ToolSet


def add(a: int, b: int) -> str:
    """Add two numbers."""
    return str(a + b)


async def test_a_turn_needs_only_its_context():
    store = await Store("sqlite+aiosqlite://").open()
    cfg = LLMConfig(provider="echo")
    client = EchoClient()
    run = Run("t1")
    ctx = TurnContext(agent_id="solo", store=store, tools=ToolSet([FunctionTool(add)]), approvals=None,
                      system_prompt="Be brief.", model_for=lambda session: (client, cfg), publish=run.publish)
    user = {"id": new_id(), "role": "user", "content": "/tool add {\"a\": 2, \"b\": 3}", "timestamp": now_ms()}
    live = LiveSession("t1")
    await live.lock.acquire()
    try:
        session, created, next_seq = await store.sessions.begin_turn("solo", "t1", user)
        await TurnRunner(ctx).execute(run, live, session, user, new=created, next_seq=next_seq)
        history = await store.sessions.history("solo", "t1")
    finally:
        await store.close()
    kinds = [type(e) for e in run.events]
    assert kinds[0] is ThinkingEvent and kinds[-1] is RunCompleteEvent
    assert [k for k in kinds if k in (ToolCallEvent, ToolRunningEvent, ToolResultEvent)] == [
        ToolCallEvent, ToolRunningEvent, ToolResultEvent]
    assert ChunkEvent in kinds and ResponseEvent in kinds
    answer = next(e for e in run.events if isinstance(e, ResponseEvent))
    assert run.done and not live.lock.locked()
    assert run.result.content == answer.content == "Tool add returned: 5"
    assert run.result.message_id == answer.message_id == history[-1]["id"]
    assert run.result.steps == 2 and run.result.finish_reason == "stop" and run.result.error is None
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]


async def test_a_turn_whose_model_cannot_be_made_ends_with_an_error_result():
    store = await Store("sqlite+aiosqlite://").open()
    run = Run("t2")

    def no_model(session):
        raise RuntimeError("no such provider")

    ctx = TurnContext(agent_id="solo", store=store, tools=ToolSet([]), approvals=None, system_prompt=None,
                      model_for=no_model, publish=run.publish)
    user = {"id": new_id(), "role": "user", "content": "hi", "timestamp": now_ms()}
    live = LiveSession("t2")
    await live.lock.acquire()
    try:
        session, created, next_seq = await store.sessions.begin_turn("solo", "t2", user)
        await TurnRunner(ctx).execute(run, live, session, user, new=created, next_seq=next_seq)
    finally:
        await store.close()
    assert [e.name for e in run.events] == ["llm:error", "run:complete"]
    assert run.result.finish_reason == "error" and not run.result.answered
    assert run.result.error.message == "no such provider" and run.result.error.error_type == "RuntimeError"


def agent_config(**llm):
    return parse_agent({"agentId": "m", "llm": {"provider": "echo", **llm}}, env={}).config


def test_a_session_override_and_its_key_make_the_sessions_model():
    models = ModelClients(agent_config(), env={})
    assert models.config_for({"id": "s"}) is models.config.llm
    cfg = models.config_for({"id": "s", "llmOverride": {"model": "echo-2"}}, api_key="sk-session-key-0123456789")
    assert cfg.model == "echo-2" and cfg.apiKey == "sk-session-key-0123456789"


async def test_clients_are_cached_by_config_and_the_oldest_is_closed(monkeypatch):
    monkeypatch.setattr(models_module, "MAX_CACHED_CLIENTS", 3)
    models = ModelClients(agent_config(), env={})
    closed = []
    configs = [LLMConfig(provider="echo", model=f"echo-{i}") for i in range(3)]
    clients = [models.client_for(cfg) for cfg in configs]
    for client in clients:
        async def aclose(client=client) -> None:
            closed.append(client.model)
        client.aclose = aclose
    assert models.client_for(LLMConfig(provider="echo", model="echo-2")) is clients[2]  # same config, same client
    assert models.client_for(models.config.llm) is models.default
    models.client_for(LLMConfig(provider="echo", model="echo-3"))  # a fourth: the least recent goes
    await asyncio.sleep(0)
    assert closed == ["echo-0"]
    await models.close()


def test_what_serves_a_config_is_told_without_making_its_client():
    env = {"OPENAI_API_KEY": "sk-test-0123456789"}
    models = ModelClients(parse_agent({"agentId": "shown", "llm": {"model": "gpt-4o-mini"}}, env=env).config, env=env)
    # The provider is detected from the environment, as the client would be made.
    assert models.running_as(models.config.llm) == ("openai", "gpt-4o-mini")
    assert models._default is None                      # no client (no SDK import) for that
    made = models.default
    assert models.running_as(models.config.llm) == (made.provider, made.model)
    other = LLMConfig(provider="echo", model="echo-9")
    assert models.running_as(other) == ("echo", "echo-9") and not models._cached


def test_a_switch_must_name_a_model_or_provider_and_be_valid():
    base = agent_config().llm
    with pytest.raises(RequestError, match="at least one of"):
        ModelClients.updated(base, {"temperature": 0.5})
    with pytest.raises(RequestError) as info:
        ModelClients.updated(base, {"model": "x", "temperature": "hot"})
    assert info.value.details == {"field": "temperature"}
    switched = ModelClients.updated(LLMConfig(provider="openai", model="gpt-4o-mini"), {"provider": "echo"})
    assert switched.provider == "echo" and switched.model != "gpt-4o-mini"  # the old model went with its provider
