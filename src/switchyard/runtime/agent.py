"""The agent: one hosted agent, composed of its parts. No HTTP here.

- `models` (runtime/models.py): its model clients, per-session overrides, switching;
- `runs` (runtime/runs.py): start, queue, attach to and cancel turns (runtime/turn.py);
- `sessions` (runtime/session_records.py): the session records in the store;
- `tooling` (runtime/toolwiring.py): MCP servers and the approval policy;
- `publisher` (runtime/publisher.py): events into running turns and onto the bus (and to its
  observers, e.g. the webhook outbox);
- `queued` (runtime/queued_input.py): steer and follow-up messages.
- `prompt` (runtime/system_prompt.py): the system prompt of each turn (contributors, memories).

`Agent.run(session_id, content)` starts a turn in a background task and yields its typed
events (switchyard/events.py), from llm:thinking to run:complete; the Agent's methods are
the facade the server and the CLI use.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Coroutine, Iterable

from switchyard.bus import Bus, create_bus
from switchyard.config.loader import LoadedAgent
from switchyard.config.schema import LLMConfig
from switchyard.errors import ConflictError, NotFoundError
from switchyard.events import Event, RetryingEvent
from switchyard.llm.base import LLMClient
from switchyard.observability.instruments import TurnTelemetry
from switchyard.runtime.compaction import ContextFitter
from switchyard.runtime.models import ModelClients
from switchyard.runtime import context
from switchyard.runtime.prompt import config_sections
from switchyard.runtime.resource_prompt import per_turn_renderers
from switchyard.runtime.publisher import EventPublisher
from switchyard.runtime.queued_input import QueuedInput
from switchyard.runtime.resource_catalog import ToolResourceCatalog
from switchyard.runtime.resource_mentions import expand_user_mentions
from switchyard.runtime.results import result_of
from switchyard.runtime.run import Run, current_run
from switchyard.runtime.run_quota import RunSlot
from switchyard.runtime.runs import Runs
from switchyard.runtime.session_records import SessionRecords
from switchyard.runtime.sessions import LiveSessions
from switchyard.runtime.supervisor import Supervisor
from switchyard.runtime.system_prompt import SystemPrompt
from switchyard.runtime.toolwiring import AgentTooling
from switchyard.runtime.turn import TurnContext
from switchyard.store import Store, database_url
from switchyard.store.memories import AgentMemories
from switchyard.tools.base import Tool, ToolSet

log = logging.getLogger("switchyard.agent")

# The supervisor group of turns waiting for a busy session (POST /api/message): at shutdown
# they are dropped before they start, not started while the agent stops.
QUEUED_TURNS = "queued-turns"


class Agent:
    def __init__(self, loaded: LoadedAgent, *, store: Store | None = None, bus: Bus | None = None,
                 tools: list[Tool] | None = None, llm_client: LLMClient | None = None,
                 env: dict[str, str] | None = None, live: LiveSessions | None = None) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.id = self.config.agentId
        self.env = env
        self._owns_store = store is None
        self._owns_bus = bus is None
        self.store = store or Store(database_url(self.config.storage.database, self.id))
        cache = self.config.storage.cache
        self.bus = bus or create_bus(cache.redis_url() if getattr(cache, "type", None) == "redis" else None)
        self.tools = ToolSet(tools or [])
        # `live`: a predecessor's, when this agent replaces it (runtime/agent_swap.py): one lock
        # per session across both, so a session never runs two turns at once.
        self.live = live or LiveSessions(self.config.sessions.maxSessions, self.config.sessions.sessionTTL)
        self.supervisor = Supervisor(f"agent:{self.id}")   # the agent's background work
        self.publisher = EventPublisher(self.live, self.bus, spawn=self._spawn, agent_id=self.id)
        self.shared: Any = None   # bus.shared.SharedState when this is one of several replicas (runtime/replicas.py)
        self.session_state: Any = None   # runtime/session_state.SharedSessionState, likewise
        self.models = ModelClients(self.config, env=env, client=llm_client, on_retry=self._on_retry)
        self.tooling = AgentTooling(self.config, self.tools, self.publisher.publish,
                                    agent_dir=loaded.agent_dir, spawn=self._spawn, store=self.store, env=env)
        self.runs = Runs(self.id, self.store, self.live, self._turn_context)
        self.runs.expand = functools.partial(expand_user_mentions, self)
        self.tooling.resource_catalog = functools.partial(ToolResourceCatalog, self)
        self.sessions = SessionRecords(self.id, self.store, self.live, self.runs, self.publisher.publish)
        # Steer and follow-up messages (POST /api/steer|follow-up/{sessionId}), @mentions expanded.
        self.queued = QueuedInput(self.publisher.publish, self._start_queued_turn, self._spawn_queued,
                                  self._occupied, expand=self.runs.expand)
        self.prompt = SystemPrompt(self.id, self.config.memories, self.store.memories)
        self.fitter = ContextFitter(self.config.compaction, summary_model=self.models.summary_model)
        self.telemetry = TurnTelemetry(self.id)
        self.system_prompt: str | None = None
        self.started = False
        # Set when a reloaded configuration replaced this agent (its turns finish here; new
        # ones go to the successor), or when it was uninstalled (`retired`, no successor).
        self.successor: Agent | None = None
        self.retired = False
        self._stopped: asyncio.Event | None = None
        # Mark turns a dead process left unanswered, at start (not when replacing a live agent).
        self.recover_lost_turns = True

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> "Agent":
        if self.started:
            return self
        if self._owns_store:
            await self.store.open()
        self.models.check()
        if self.config.telemetry is not None and self.config.telemetry.enabled:
            from switchyard.observability import tracing
            self.telemetry.tracer = tracing.tracer_for(self.config.telemetry, agent_id=self.id)
        sections = config_sections(self.config, self.loaded.agent_dir)
        self.prompt.set_base(sections, per_turn=per_turn_renderers(self))
        self.system_prompt = (self.config.systemPrompt if isinstance(self.config.systemPrompt, str)
                              else "\n\n".join(text for _, _, text in sections))
        if self.config.memories.tools:
            from switchyard.tools.memory_tools import memory_tools
            for tool in memory_tools(AgentMemories(self.id, self.store.memories)):
                self.tools.add(tool)
        await self.tooling.start()
        if self.store.backend == "sqlite" and self.recover_lost_turns and self.shared is None:   # (workers may share the file)
            await self.runs.mark_lost_turns()
        if self.supervisor.stopping:   # started again after a stop
            self.supervisor = Supervisor(f"agent:{self.id}")
        self.supervisor.every(max(1.0, min(self.live.ttl / 4, 900)), self._sweep, name=f"sweeper:{self.id}")
        if self.shared is not None:
            from switchyard.runtime import replicas
            replicas.started(self)
        self.started = True
        return self

    async def stop(self, grace: float = 10.0) -> None:
        """Let running turns finish within `grace` seconds, cancel the rest, release all."""
        if self.retired and self._stopped is not None:
            # A retired agent is stopped by its retire task and by the host at shutdown: once.
            await self._stopped.wait()
            return
        self._stopped = asyncio.Event()
        try:
            await self._stop(grace)
        finally:
            self._stopped.set()

    async def _stop(self, grace: float) -> None:
        await self.supervisor.cancel_group(QUEUED_TURNS)
        await self.runs.drain(grace)
        # bash_exec's background processes: killed (their groups), so their readers end.
        self.tooling.kill_processes()
        # What is left are the turns' last bus publishes (and the sweeper): before the bus closes.
        await self.supervisor.stop(grace=min(grace, 2.0))
        if self.telemetry.tracer is not None:   # the spans of the last turns, before the process ends
            import asyncio
            from switchyard.observability import tracing
            await asyncio.to_thread(tracing.flush)
        await self.tooling.stop()
        await self.models.close()
        if self._owns_bus:
            await self.bus.close()
        if self._owns_store:
            await self.store.close()
        self.started = False

    def current(self) -> "Agent":
        """This agent, or the one that replaced it (a reloaded configuration)."""
        agent = self
        while agent.successor is not None:
            agent = agent.successor
        return agent

    def hand_over(self, successor: "Agent") -> None:
        """`successor` (built on this agent's live sessions) serves from now on: it takes the
        queued input, the run-time prompt contributors and the store and bus it shares."""
        successor.queued.queues = self.queued.queues
        successor.prompt.runtime = self.prompt.runtime
        successor.prompt.sessions = self.prompt.sessions
        if successor.store is self.store:
            successor._owns_store, self._owns_store = self._owns_store, False
        if successor.bus is self.bus:
            successor._owns_bus, self._owns_bus = self._owns_bus, False
        self.successor = successor

    async def retire(self, grace: float) -> None:
        """Serve no new turn; let this agent's running and queued turns finish (up to `grace`
        seconds, then they are cancelled), then stop, releasing only what it still owns."""
        self.retired = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (self.runs.active or self.supervisor.names(QUEUED_TURNS)) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        await self.stop(grace=0.5)

    async def _sweep(self) -> None:
        evicted = self.live.sweep()
        if evicted:
            log.debug("evicted %d idle sessions from memory", evicted)

    @property
    def mcp(self) -> Any:
        """tools.mcp_manager.MCPManager when MCP servers are configured (or were added)."""
        return self.tooling.mcp

    @property
    def approvals(self) -> Any:
        """tools.approval.ApprovalCoordinator, once the agent started."""
        return self.tooling.approvals

    def ensure_mcp(self) -> Any:
        return self.tooling.ensure_mcp()

    # --- turns -------------------------------------------------------------------------

    def _turn_context(self, run: Run) -> TurnContext:
        return TurnContext(agent_id=self.id, store=self.store, tools=self.tools, approvals=self.approvals,
                           system_prompt=self.system_prompt, model_for=self._model_for,
                           publish=self.publisher.for_run(run), working_dir=Path(self.loaded.agent_dir),
                           take_steer=self.queued.take_steer, prompt_for=self.prompt.build,
                           fitter=self.fitter, end_turn=self.runs.end_turn if self.shared is not None else None,
                           telemetry=self.telemetry)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> Any:
        return self.supervisor.spawn(work, name=name)

    def _spawn_queued(self, work: Coroutine[Any, Any, None], name: str) -> Any:
        return self.supervisor.spawn(work, name=name, group=QUEUED_TURNS)

    def _occupied(self, session_id: str) -> bool:
        """A turn runs, or waits for the session: queued input would only queue behind it."""
        live = self.live.peek(session_id)
        return live is not None and not live.idle

    async def _start_queued_turn(self, session_id: str, content: Any) -> None:
        await self.start_run(session_id, content, wait=True)

    def _model_for(self, session: dict[str, Any]) -> tuple[LLMClient, LLMConfig]:
        cfg = self.session_llm_config(session)
        return self.models.client_for(cfg), cfg

    def _on_retry(self, attempt: int, delay: float, error: Exception) -> None:
        run = current_run.get()
        if run is not None:
            run.publish(RetryingEvent(run.session_id, attempt, int(delay * 1000), str(error)))

    # --- LLM ---------------------------------------------------------------------------

    @property
    def llm(self) -> LLMClient:
        return self.models.default

    async def llm_config(self, session_id: str | None = None) -> LLMConfig:
        if session_id:
            return self.session_llm_config(await self.get_session(session_id))
        return self.config.llm

    def session_llm_config(self, session: dict[str, Any]) -> LLMConfig:
        """The model a session uses: the agent's, or its own override (whose key, if any,
        is held in memory only)."""
        live = self.live.peek(session["id"])
        return self.models.config_for(session, live.llm_api_key if live else None)

    def client_for(self, cfg: LLMConfig) -> LLMClient:
        """The client serving `cfg` (the agent's own, or a cached per-session one)."""
        return self.models.client_for(cfg)

    async def switch_llm(self, updates: dict[str, Any], session_id: str | None = None) -> LLMConfig:
        """Change the model globally or for one session. Validates before anything changes."""
        self.models.check_updates(updates)
        base = await self.llm_config(session_id) if session_id else self.config.llm
        cfg = self.models.updated(base, updates)
        if session_id and self.is_busy(session_id):
            raise ConflictError(f"session {session_id} is busy", code="session_busy")
        client = self.models.create(cfg)  # raises ConfigError for an unusable provider
        if session_id:
            if self.session_state is not None:   # before anything changes: it may refuse the key
                try:
                    await self.session_state.key_switched(
                        session_id, cfg.apiKey if cfg.apiKey != self.config.llm.apiKey else None)
                except BaseException:
                    await client.aclose()
                    raise
            self.live.get(session_id).llm_api_key = cfg.apiKey
            await self.store.sessions.update(self.id, session_id,
                                             llmOverride=cfg.model_dump(exclude_none=True, exclude={"apiKey"}))
            await client.aclose()
        else:
            await self.models.replace_default(cfg, client)
        return cfg

    # --- sessions ----------------------------------------------------------------------

    async def create_session(self, session_id: str | None = None, *, owner: str | None = None) -> tuple[dict[str, Any], bool]:
        return await self.sessions.create(session_id, owner=owner)

    async def get_session(self, session_id: str) -> dict[str, Any]:
        return await self.sessions.get(session_id)

    async def list_sessions(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        return await self.sessions.list(owner=owner)

    async def delete_session(self, session_id: str) -> bool:
        self.prompt.forget_session(session_id)
        if self.session_state is not None:
            await self.session_state.forget(session_id)
        return await self.sessions.delete(session_id)

    async def fork_session(self, session_id: str, *, owner: str | None = None) -> dict[str, Any]:
        return await self.sessions.fork(session_id, owner=owner)

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        return await self.sessions.history(session_id)

    async def reset(self, session_id: str) -> None:
        await self.sessions.reset(session_id)

    async def set_title(self, session_id: str, title: str) -> dict[str, Any]:
        return await self.sessions.set_title(session_id, title)

    async def clear_context(self, session_id: str) -> int:
        """A fresh model context for the session; its history stays (runtime/context.py)."""
        await self.get_session(session_id)
        return await context.clear_context(self.id, self.store, self.live, session_id)

    async def generate_title(self, session_id: str) -> str | None:
        """Name the session from its conversation with its own model, and keep the title."""
        session = await self.get_session(session_id)
        history = await self.sessions.history(session_id)
        title = await context.generate_title(history, lambda: self._model_for(session))
        if title:
            await self.set_title(session_id, title)
        return title

    async def publish(self, event: Event) -> None:
        """An event from outside a turn into the session's running turn and onto the bus."""
        await self.publisher.publish(event)

    # --- runs --------------------------------------------------------------------------

    def is_busy(self, session_id: str) -> bool:
        return self.runs.is_busy(session_id)

    async def busy_anywhere(self, session_id: str) -> bool:
        """Whether a turn runs on the session, here or (with replicas) on any replica."""
        return await self.runs.busy_anywhere(session_id)

    async def reserve_run(self, owner: str | None) -> RunSlot:
        """A place in `owner`'s run quota, taken now for a run started later in the
        background (a queued turn): LimitError 429 when the key is at its cap."""
        return await self.runs.quota.take(owner)

    async def start_run(self, session_id: str | None, content: Any, *, wait: bool = True,
                        owner: str | None = None, first: Iterable[Event] = (),
                        slot: RunSlot | None = None) -> Run:
        """Start a turn in the background (see Runs.start). `first`: events the run's stream
        begins with, e.g. the routing decision that chose this agent. `slot`: from
        reserve_run, when the caller took the run's place in the quota beforehand."""
        if self.successor is not None:   # a stale reference to a replaced agent
            return await self.current().start_run(session_id, content, wait=wait, owner=owner,
                                                  first=first, slot=slot)
        if self.retired:
            if slot is not None:
                slot.release()
            raise NotFoundError(f"agent {self.id!r} is no longer served", code="agent_not_found",
                                details={"agentId": self.id})
        if not self.started:
            await self.start()
        run = await self.runs.start(session_id, content, wait=wait, owner=owner, first=first, slot=slot)
        if run.task is not None:   # when it ends, the session's queued input (if any) goes next
            run.task.add_done_callback(lambda _task, sid=run.session_id: self.current().queued.after_run(sid))
        return run

    async def run(self, session_id: str | None, content: Any, *, wait: bool = True,
                  owner: str | None = None) -> AsyncIterator[Event]:
        run = await self.start_run(session_id, content, wait=wait, owner=owner)
        async for event in run.follow():
            yield event

    async def generate(self, session_id: str | None, content: Any, *, wait: bool = True,
                       owner: str | None = None, first: Iterable[Event] = ()) -> dict[str, Any]:
        """Run a turn to the end and return the reference's message-sync body."""
        run = await self.start_run(session_id, content, wait=wait, owner=owner, first=first)
        await run.wait()
        return result_of(run)

    def attach(self, session_id: str) -> AsyncIterator[Event]:
        """The running turn's events, from its start. ConflictError when nothing runs."""
        return self.runs.attach(session_id)

    async def attach_anywhere(self, session_id: str) -> AsyncIterator[Event]:
        """As attach, whichever replica runs the turn."""
        return await self.runs.attach_anywhere(session_id)

    def current_run(self, session_id: str) -> Run | None:
        return self.runs.current(session_id)

    async def cancel(self, session_id: str) -> bool:
        return await self.runs.cancel(session_id)
