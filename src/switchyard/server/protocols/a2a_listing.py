"""A2A task listing: `tasks/list` (0.3) and `ListTasks` (1.0) with their filters and paging,
and the parameter checks the other task methods share."""

from __future__ import annotations

from typing import Any

from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import MessageToDict

from switchyard.server.protocols.a2a_model import (_STATE_NAMES_03, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, S, V03,
                                                   invalid_params, task_json)


async def list_tasks(service: Any, call: Any) -> Any:
    """`tasks/list` (0.3) and `ListTasks` (1.0): the caller's visible sessions as tasks, filtered
    and paged. `service` is the A2AService and `call` its parsed call (not imported: a2a_jsonrpc
    imports this module)."""
    params = call.params
    agent = call.agent
    page_size = int_param(params, "pageSize")
    page_size = DEFAULT_PAGE_SIZE if not page_size else page_size
    if page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise invalid_params(f"`pageSize` must be between 1 and {MAX_PAGE_SIZE}")
    token = params.get("pageToken") or "0"
    if not isinstance(token, str) or not token.isdigit():
        raise invalid_params("`pageToken` is not one this server issued")
    offset = int(token)
    wanted_state = status_filter(params.get("status"))
    context_id = params.get("contextId")
    history_length = int_param(params, "historyLength")
    include_artifacts = bool(params.get("includeArtifacts", call.flavor == V03))
    sessions = await service._sessions(call).list_visible()
    if context_id:
        sessions = [s for s in sessions if s["id"] == context_id]
    tasks: list[pb.Task] = []
    for session in sessions:
        task = await service.build_task(agent, session["id"], history_length=history_length,
                                     include_artifacts=include_artifacts)
        if wanted_state is None or task.status.state == wanted_state:
            tasks.append(task)
    page = tasks[offset:offset + page_size]
    next_token = str(offset + page_size) if offset + page_size < len(tasks) else ""
    if call.flavor == V03:
        return {"tasks": [task_json(t, V03) for t in page], "totalSize": len(tasks),
                "pageSize": page_size, "nextPageToken": next_token}
    response = pb.ListTasksResponse(tasks=page, next_page_token=next_token, page_size=page_size,
                                    total_size=len(tasks))
    return MessageToDict(response, always_print_fields_with_no_presence=True)


def int_param(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_params(f"`{name}` must be a non-negative integer")
    return value


def status_filter(value: Any) -> int | None:
    if value in (None, "", "TASK_STATE_UNSPECIFIED", 0):
        return None
    if isinstance(value, str):
        if value in _STATE_NAMES_03:
            return _STATE_NAMES_03[value]
        if value in S.keys():  # noqa: SIM118 - a protobuf enum wrapper, not a dict
            return S.Value(value)
    if isinstance(value, int) and value in S.values():
        return value
    raise invalid_params(f"`status` {value!r} is not a task state")


def state_name(state: int) -> str:
    return next((k for k, v in _STATE_NAMES_03.items() if v == state), "unknown")
