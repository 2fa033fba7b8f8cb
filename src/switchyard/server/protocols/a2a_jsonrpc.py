"""A2A over JSON-RPC 2.0, spec-shaped, over the agent's runs.

Endpoints: `POST /jsonrpc` (the default agent) and `POST /agents/{id}/jsonrpc`; each agent's
card at `/agents/{id}/.well-known/agent-card.json` (the root card is served by api/meta.py).

Both generations of the protocol are answered on the same endpoint, told apart by the method
name, and each gets its own wire shapes:
- A2A 0.3 (`message/send`, `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/list`,
  `tasks/resubscribe`): objects carry `kind`, states are `working`, `completed`, ...
- A2A 1.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`, `CancelTask`, `ListTasks`,
  `SubscribeToTask`): the protobuf JSON mapping (`TASK_STATE_COMPLETED`, `ROLE_AGENT`).
Tasks are built as the SDK's protobuf types (`a2a.types.a2a_pb2`) and converted to 0.3 with the
SDK's own compat conversions, so both shapes come from one model.

Task model: task id = context id = session id (as the reference does). A task's state is read
from the real run: `working` while it runs, `input-required` while it waits for a tool approval,
then `completed`, `canceled` or `failed` from how the run ended; `submitted` for a session that
has no messages yet. A message part's text is joined with spaces, data parts are appended as
JSON, image and file parts become content parts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from a2a.types import a2a_pb2 as pb
from fastapi import Request
from google.protobuf.json_format import MessageToDict, ParseDict
from starlette.responses import JSONResponse, Response, StreamingResponse

from switchyard.errors import ConflictError, LimitError, NotFoundError, RequestError, SwitchyardError
from switchyard.ids import new_id
from switchyard.runtime import replicas
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.runtime.run import Run
from switchyard.runtime.session_access import SessionAccess
from switchyard.server.deps import sessions_for
from switchyard.server.protocols.a2a_model import (
    agent_message,
    approval_message,
    history_messages,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    invalid_params,
    INVALID_REQUEST,
    message_content,
    METHOD_NOT_FOUND,
    Outcome,
    outcome_message,
    PARSE_ERROR,
    parse_message,
    RpcError,
    S,
    status_of,
    stream_json,
    task_json,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    task_not_found,
    TaskTracker,
    V03,
    V10,
)
from switchyard.ids import SESSION_ID
from switchyard.server.protocols.a2a_batch import run_batch
from switchyard.server.protocols.a2a_listing import int_param, list_tasks, state_name
from switchyard.server.protocols.a2a_stream import RemoteRun, follow_run, status_event as _status_event
from switchyard.server.wire import KEEPALIVE_FRAME, data_frame

log = logging.getLogger("switchyard.a2a")

# --- the service over one host -----------------------------------------------------------

@dataclass
class Call:
    request: Request
    agent: Agent
    params: dict[str, Any]
    flavor: str
    request_id: Any
    rest: bool = False      # the HTTP+JSON binding (a2a_rest_routes.py): bare results, no JSON-RPC envelope


class A2AService:
    def __init__(self, host: AgentHost) -> None:
        self.host = host
        self.tracker = TaskTracker()
        self._background: set[asyncio.Task[Any]] = set()
        self.methods: dict[str, tuple[str, Callable[[Call], Awaitable[Any]], bool]] = {}
        for names, handler, streaming in (
            (("message/send", "SendMessage"), self.send, False),
            (("message/stream", "SendStreamingMessage"), self.stream, True),
            (("tasks/get", "GetTask"), self.get, False),
            (("tasks/cancel", "CancelTask"), self.cancel, False),
            (("tasks/list", "ListTasks"), self.list, False),
            (("tasks/resubscribe", "SubscribeToTask"), self.resubscribe, True),
        ):
            self.methods[names[0]] = (V03, handler, streaming)
            self.methods[names[1]] = (V10, handler, streaming)

    # --- JSON-RPC framing --------------------------------------------------------------

    async def handle(self, request: Request, agent: Agent) -> Response:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse(_error(None, PARSE_ERROR, f"Parse error: {exc}"))
        if isinstance(body, list):
            return await run_batch(request, body, lambda item: self._one(request, agent, item, batch=True))
        result = await self._one(request, agent, body, batch=False)
        if result is None:
            return Response(status_code=204)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    async def _one(self, request: Request, agent: Agent, item: Any, *, batch: bool) -> Any:
        request_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int, type(None))):
            request_id = None
        if not isinstance(item, dict) or item.get("jsonrpc") != "2.0" or not isinstance(item.get("method"), str):
            return _error(request_id, INVALID_REQUEST,
                          "Invalid Request: expected an object with jsonrpc \"2.0\" and a method")
        notification = "id" not in item
        method = item["method"]
        entry = self.methods.get(method)
        if entry is None:
            return None if notification else _error(request_id, METHOD_NOT_FOUND, f"Method not found: {method}")
        flavor, handler, streaming = entry
        params = item.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return _error(request_id, INVALID_PARAMS, "Invalid params: `params` must be an object")
        if streaming and batch:
            return _error(request_id, INVALID_REQUEST, f"Invalid Request: {method} cannot be batched")
        call = Call(request, agent, params, flavor, request_id)
        try:
            result = await handler(call)
        except RpcError as exc:
            return None if notification else _error(request_id, exc.code, exc.message, exc.data)
        except NotFoundError as exc:
            return None if notification else _error(request_id, TASK_NOT_FOUND, exc.message)
        except (RequestError, LimitError) as exc:
            return None if notification else _error(request_id, INVALID_PARAMS, exc.message, exc.details)
        except SwitchyardError as exc:
            log.warning("A2A %s failed: %s", method, exc.message)
            return None if notification else _error(request_id, INTERNAL_ERROR, exc.message, {"code": exc.code})
        except Exception:
            log.exception("A2A %s failed", method)
            return None if notification else _error(request_id, INTERNAL_ERROR, "Internal error")
        if notification:
            return None
        if isinstance(result, Response):
            return result
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _sessions(call: Call) -> SessionAccess:
        return sessions_for(call.request, call.agent)

    async def _visible(self, call: Call, task_id: Any) -> str:
        """The task id, when it names a session the caller may see; else task-not-found."""
        if not isinstance(task_id, str) or not task_id:
            raise invalid_params("`id` (the task id) is required")
        try:
            await self._sessions(call).get(task_id)
        except NotFoundError:
            raise task_not_found(task_id) from None
        return task_id

    async def build_task(self, agent: Agent, sid: str, *, history_length: int | None = None,
                         include_artifacts: bool = True) -> pb.Task:
        history = await _history(agent, sid)
        elsewhere = await _running_elsewhere(agent, sid)
        outcome = self.tracker.current(agent, sid, history, elsewhere)
        messages = history_messages(sid, history)
        if history_length is not None:
            messages = messages[-history_length:] if history_length > 0 else []
        task = pb.Task(id=sid, context_id=sid, history=messages)
        pending = elsewhere or self.tracker.pending_approvals(agent, sid, _live_run(agent, sid))
        message = (approval_message(sid, pending)
                   if outcome.state == S.TASK_STATE_INPUT_REQUIRED else outcome_message(sid, outcome))
        task.status.CopyFrom(status_of(outcome.state, message))
        if include_artifacts and outcome.state == S.TASK_STATE_COMPLETED:
            task.artifacts.append(pb.Artifact(artifact_id=outcome.message_id or f"{sid}-response",
                                              name="response", parts=[pb.Part(text=outcome.text)]))
        ParseDict({"switchyard": {"sessionId": sid, "agentId": agent.id}, "dexto": {"sessionId": sid}},
                  task.metadata)
        return task

    def _send_params(self, call: Call) -> tuple[pb.Message, str, Any, dict[str, Any], bool]:
        """(message, task id, content, configuration, whether the client named the id)."""
        message = parse_message(call.params.get("message"))
        named = bool(message.task_id or message.context_id)
        sid = message.task_id or message.context_id or new_id()
        if not SESSION_ID.match(sid):
            raise invalid_params("a task or context id must be 1-200 characters of letters, digits and ._:@-")
        message.task_id = message.context_id = sid
        content = message_content(message)
        if not content:
            raise invalid_params("the message has no content (send a text, data or file part)")
        configuration = call.params.get("configuration") or {}
        if not isinstance(configuration, dict):
            raise invalid_params("`configuration` must be an object")
        return message, sid, content, configuration, named

    async def _check_access(self, call: Call, sid: str, named: bool) -> None:
        """Before a message goes to task `sid`: an id the client named must be one it may use
        (runtime/session_access.py); one the server just made is the caller's."""
        if not named:
            return
        try:
            await self._sessions(call).ensure_may_send(sid)
        except NotFoundError:
            raise task_not_found(sid) from None

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- methods -------------------------------------------------------------------------

    async def send(self, call: Call) -> Any:
        _, sid, content, configuration, named = self._send_params(call)
        await self._check_access(call, sid, named)
        agent = call.agent
        history_length = int_param(configuration, "historyLength")
        immediate = (configuration.get("blocking") is False if call.flavor == V03
                     else bool(configuration.get("returnImmediately")))
        # The run goes on whoever is listening: a caller that leaves does not stop it. Its place
        # in the key's run quota is taken now (a JSON-RPC error when the key is at its cap).
        owner = self._sessions(call).owner
        slot = await agent.reserve_run(owner)
        start = self._spawn(agent.start_run(sid, content, wait=True, owner=owner, slot=slot))
        if immediate:
            if not start.done():
                await asyncio.wait({start}, timeout=0.5)
            if start.done() and start.exception() is not None:
                raise start.exception()  # type: ignore[misc]
        else:
            run = await asyncio.shield(start)
            await asyncio.shield(self._spawn(run.wait()))
            self.tracker.remember(agent, sid, self.tracker.outcome_of_run(run))
        task = await self.build_task(agent, sid, history_length=history_length)
        if call.flavor == V03:
            return task_json(task, V03)
        return MessageToDict(pb.SendMessageResponse(task=task))

    async def stream(self, call: Call) -> Response:
        message, sid, content, _, named = self._send_params(call)
        await self._check_access(call, sid, named)
        agent = call.agent
        owner = self._sessions(call).owner
        slot = await agent.reserve_run(owner)
        start = self._spawn(agent.start_run(sid, content, wait=True, owner=owner, slot=slot))

        async def events() -> AsyncIterator[pb.StreamResponse | None]:
            task = pb.Task(id=sid, context_id=sid, status=status_of(S.TASK_STATE_SUBMITTED), history=[message])
            yield pb.StreamResponse(task=task)
            try:
                run = await asyncio.shield(start)
            except SwitchyardError as exc:
                outcome = Outcome(S.TASK_STATE_FAILED, exc.message)
                yield _status_event(sid, outcome.state, agent_message(sid, outcome.text))
                return
            async for item in self.follow_run(agent, run, sid):
                yield item

        return self._sse(call, events())

    async def resubscribe(self, call: Call) -> Response:
        sid = await self._visible(call, call.params.get("id"))
        agent = call.agent
        snapshot = await self.build_task(agent, sid)

        async def events() -> AsyncIterator[pb.StreamResponse | None]:
            yield pb.StreamResponse(task=snapshot)
            run: Run | RemoteRun | None = _live_run(agent, sid)
            if (run is None or run.done) and await _running_elsewhere(agent, sid) is not None:
                try:   # with replicas: the turn runs on another one; its shared stream
                    run = RemoteRun(await agent.attach_anywhere(sid))
                except ConflictError:
                    run = None      # it ended meanwhile: the snapshot said all there is
            if run is not None and not run.done:
                async for item in self.follow_run(agent, run, sid, announce_working=False):
                    yield item

        return self._sse(call, events())

    async def get(self, call: Call) -> Any:
        sid = await self._visible(call, call.params.get("id"))
        task = await self.build_task(call.agent, sid, history_length=int_param(call.params, "historyLength"))
        return task_json(task, call.flavor)

    async def cancel(self, call: Call) -> Any:
        sid = await self._visible(call, call.params.get("id"))
        agent = call.agent
        if not await agent.busy_anywhere(sid):     # with replicas: running on any of them
            history = await agent.history(sid)
            state = self.tracker.current(agent, sid, history).state
            raise RpcError(TASK_NOT_CANCELABLE,
                           f"Task cannot be canceled: {sid} is {state_name(state)}, not running",
                           {"taskId": sid, "state": state_name(state)})
        await agent.cancel(sid)
        run = _live_run(agent, sid)
        if run is not None and run.done:
            self.tracker.remember(agent, sid, self.tracker.outcome_of_run(run))
        task = await self.build_task(agent, sid)
        return task_json(task, call.flavor)

    async def list(self, call: Call) -> Any:
        return await list_tasks(self, call)

    # --- streaming -----------------------------------------------------------------------

    def _sse(self, call: Call, items: AsyncIterator[pb.StreamResponse | None]) -> StreamingResponse:
        async def frames() -> AsyncIterator[bytes]:
            try:
                async for item in items:
                    if item is None:
                        yield KEEPALIVE_FRAME
                        continue
                    frame = stream_json(item, call.flavor, call.request_id)
                    yield data_frame(frame["result"] if call.rest else frame)
            except RpcError as exc:
                yield f"data: {json.dumps(_error(call.request_id, exc.code, exc.message, exc.data))}\n\n".encode()
            except Exception:
                log.exception("A2A stream failed")
                yield f"data: {json.dumps(_error(call.request_id, INTERNAL_ERROR, 'Internal error'))}\n\n".encode()

        return StreamingResponse(frames(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def follow_run(self, agent: Agent, run: Run | RemoteRun, sid: str, *,
                   announce_working: bool = True) -> AsyncIterator[pb.StreamResponse | None]:
        return follow_run(self.tracker, agent, run, sid, announce_working=announce_working)


async def _history(agent: Agent, sid: str) -> list[dict[str, Any]]:
    """A task's messages; none yet when its run has not created the session (a
    non-blocking send answered before the run started)."""
    try:
        return await agent.history(sid)
    except NotFoundError:
        return []


def _live_run(agent: Agent, sid: str) -> Run | None:
    live = agent.live.peek(sid)
    return live.run if live is not None else None


async def _running_elsewhere(agent: Agent, sid: str) -> list[dict[str, Any]] | None:
    """With replicas, when the session's turn runs on another replica: the approvals it waits
    for (empty: none); None when no turn runs elsewhere (or there are no replicas)."""
    if agent.shared is None or agent.runs.is_busy(sid) or not await agent.busy_anywhere(sid):
        return None
    return await replicas.pending_elsewhere(agent, sid)


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


# --- routes ------------------------------------------------------------------------------
