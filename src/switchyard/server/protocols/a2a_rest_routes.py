"""A2A over REST: the HTTP+JSON binding, beside the JSON-RPC one, over the same service
(a2a_jsonrpc.py `A2AService`: one task model, one tracker, the same ownership rules).

    POST /v1/message:send          a Task
    POST /v1/message:stream        SSE: the task, then its status and artifact updates
    GET  /v1/tasks                 the caller's tasks (contextId, status, pageSize, pageToken, ...)
    GET  /v1/tasks/{id}            a Task (404 when unknown, or not the caller's)
    POST /v1/tasks/{id}:cancel     the Task, canceled (409 when it is not running)

They serve the default agent; every hosted agent has the same routes under its own prefix
(`/agents/{id}/v1/message:send`, `/agents/{id}/v1/tasks`, ...), as its card advertises
(server/card.py), with its own tasks. Shapes follow the A2A version the client speaks, told by the
`A2A-Version` header the a2a-sdk sends: `1.0` gets the protobuf JSON mapping
(`{"task": {...}}` from message:send, `TASK_STATE_COMPLETED`), anything else the 0.3 shapes the
reference answers (`kind: "task"`, `completed`). Errors are Switchyard's one envelope, with the
status the binding gives them (400, 404, 409).
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Literal

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from switchyard.errors import ConflictError, NotFoundError, RequestError, RuntimeFailure
from switchyard.runtime.host import AgentHost
from switchyard.server.routes import RouteGroup

MAX_PAGE_SIZE = 100        # a2a_model.MAX_PAGE_SIZE (not imported here: it imports the a2a-sdk)
MAX_LIST_HISTORY = 20      # a2a_listing.MAX_LIST_HISTORY
_MESSAGE_BODY = {"content": {"application/json": {"schema": {
    "type": "object", "required": ["message"],
    "properties": {"message": {"type": "object", "description": "An A2A Message (0.3 or 1.0 shape)"},
                   "configuration": {"type": "object"}, "metadata": {"type": "object"}}}}},
    "required": True}
_TASK = {"description": "An A2A Task", "content": {"application/json": {"schema": {"type": "object"}}}}


def flavor_of(request: Request, body: dict[str, Any] | None = None) -> str:
    """1.0 when the client says so (`A2A-Version: 1.0`), or sends a 1.0 message without saying
    (a `ROLE_USER` role); else 0.3."""
    from switchyard.server.protocols.a2a_model import V03, V10
    version = request.headers.get("a2a-version", "").strip()
    if version:
        return V10 if version.startswith("1") else V03
    message = body.get("message") if body else None
    role = message.get("role") if isinstance(message, dict) else None
    return V10 if isinstance(role, str) and role.startswith("ROLE_") else V03


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object with a `message`", details={"field": "body"})
    return body


async def _call(request: Request, method: str, params: dict[str, Any]) -> Any:
    """Run one A2A method of the service; its JSON-RPC errors become HTTP ones: the binding's
    `google.rpc.Status` body for a 1.0 client (the a2a-sdk raises the matching error from it),
    Switchyard's envelope for a 0.3 one."""
    from switchyard.server.protocols.a2a_jsonrpc import Call
    from switchyard.server.protocols.a2a_model import (INVALID_PARAMS, TASK_NOT_CANCELABLE, TASK_NOT_FOUND,
                                                       V10, RpcError)
    service = request.app.state.a2a.get()
    # The agent of the route's prefix (404 agent_not_found when it is not hosted), else the default.
    agent = service.host.get(request.path_params.get("agent_id"))
    call = Call(request, agent, params, flavor_of(request, params), None, rest=True)
    try:
        return await getattr(service, method)(call)
    except RpcError as exc:
        if call.flavor == V10:
            return v10_error(exc.code, exc.message, exc.data)
        if exc.code == TASK_NOT_FOUND:
            raise NotFoundError(exc.message, code="task_not_found", details=exc.data) from None
        if exc.code == TASK_NOT_CANCELABLE:
            raise ConflictError(exc.message, code="task_not_cancelable", details=exc.data) from None
        if exc.code == INVALID_PARAMS:
            raise RequestError(exc.message, code="invalid_params", details=exc.data) from None
        raise RuntimeFailure(exc.message, code="a2a_error", details=exc.data) from None
    except RequestError as exc:
        if call.flavor == V10:
            return v10_error(INVALID_PARAMS, exc.message, exc.details)
        raise


def v10_error(code: int, message: str, data: Any = None) -> Response:
    """The A2A 1.0 HTTP+JSON error for a JSON-RPC error code, built by the a2a-sdk."""
    from a2a.utils import errors
    from a2a.utils.error_handlers import build_rest_error_payload
    from starlette.responses import JSONResponse

    from switchyard.server.protocols.a2a_model import INVALID_PARAMS, TASK_NOT_CANCELABLE, TASK_NOT_FOUND
    kind = {TASK_NOT_FOUND: errors.TaskNotFoundError, TASK_NOT_CANCELABLE: errors.TaskNotCancelableError,
            INVALID_PARAMS: errors.InvalidParamsError}.get(code, errors.InternalError)
    error = kind(message)
    error.data = data if isinstance(data, dict) else None
    payload = build_rest_error_payload(error)
    return JSONResponse(payload, status_code=payload["error"]["code"])


async def _send(request: Request, method: str) -> Any:
    try:
        body = await _json_object(request)
    except RequestError as exc:
        from switchyard.server.protocols.a2a_model import INVALID_PARAMS, V10
        if flavor_of(request) == V10:
            return v10_error(INVALID_PARAMS, exc.message, exc.details)
        raise
    return await _call(request, method, body)


async def message_send(request: Request) -> Any:
    return await _send(request, "send")


async def message_stream(request: Request) -> Response:
    return await _send(request, "stream")


TaskState = Literal["submitted", "working", "input-required", "completed", "canceled", "failed", "rejected",
                    "auth-required", "TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_INPUT_REQUIRED",
                    "TASK_STATE_COMPLETED", "TASK_STATE_CANCELED", "TASK_STATE_FAILED", "TASK_STATE_REJECTED",
                    "TASK_STATE_AUTH_REQUIRED"]


async def get_task(request: Request, task_id: str, historyLength: int | None = Query(None, ge=0)) -> Any:
    params: dict[str, Any] = {"id": task_id}
    if historyLength is not None:
        params["historyLength"] = historyLength
    return await _call(request, "get", params)


async def cancel_task(request: Request, task_id: str) -> Any:
    return await _call(request, "cancel", {"id": task_id})


async def list_tasks(request: Request, contextId: str | None = None, status: TaskState | None = None,
                     pageSize: int | None = Query(None, ge=1, le=MAX_PAGE_SIZE),
                     pageToken: str | None = Query(None, pattern=r"^\d*$", description="From nextPageToken"),
                     historyLength: int | None = Query(None, ge=0, le=MAX_LIST_HISTORY),
                     includeArtifacts: bool | None = None) -> Any:
    params: dict[str, Any] = {k: v for k, v in (("contextId", contextId), ("status", status),
                                                ("pageSize", pageSize), ("pageToken", pageToken),
                                                ("historyLength", historyLength),
                                                ("includeArtifacts", includeArtifacts)) if v is not None}
    return await _call(request, "list", params)


def _of_agent(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` for the routes under `/agents/{agent_id}`: the same, with the path's `agent_id`
    declared (so OpenAPI documents it); _call takes the agent from the path."""
    async def routed(request: Request, agent_id: str, **params: Any) -> Any:
        return await handler(request, **params)

    signature = inspect.signature(handler)
    request_param, *rest = signature.parameters.values()
    agent_param = inspect.Parameter("agent_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str)
    routed.__signature__ = signature.replace(parameters=[request_param, agent_param, *rest])  # type: ignore[attr-defined]
    routed.__name__ = f"{handler.__name__}_of_agent"
    return routed


def install(app: FastAPI, host: AgentHost) -> None:
    routes = RouteGroup(tags=["a2a"])
    body = {"openapi_extra": {"requestBody": _MESSAGE_BODY}}
    task = {"responses": {200: _TASK}}
    for prefix, of, whose in (("", "", lambda h: h), ("/agents/{agent_id}", " (one hosted agent)", _of_agent)):
        routes.post(f"{prefix}/v1/message:send", scope="chat", runs=True, errors=(404, 409, 429, 503), **body,
                    **task, summary=f"A2A REST: send a message, get the task when the run ends{of}")(
                        whose(message_send))
        routes.post(f"{prefix}/v1/message:stream", scope="chat", runs=True, errors=(404, 409, 429, 503), **body,
                    responses={200: {"description": "SSE: the task, then its status and artifact updates",
                                     "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
                    summary=f"A2A REST: send a message, stream the task's updates{of}")(whose(message_stream))
        routes.get(f"{prefix}/v1/tasks", scope="read", errors=(404,) if prefix else (), **task,
                   summary=f"A2A REST: the caller's tasks, filtered and paged{of}")(whose(list_tasks))
        routes.get(f"{prefix}/v1/tasks/{{task_id}}", scope="read", errors=(404,), **task,
                   summary=f"A2A REST: one task{of}")(whose(get_task))
        routes.post(f"{prefix}/v1/tasks/{{task_id}}:cancel", scope="chat", errors=(404, 409), **task,
                    summary=f"A2A REST: cancel a running task{of}")(whose(cancel_task))
    routes.install(app)
