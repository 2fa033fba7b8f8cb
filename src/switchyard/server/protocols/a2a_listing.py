"""A2A task listing: `tasks/list` (0.3) and `ListTasks` (1.0) with their filters and paging,
and the parameter checks the other task methods share."""

from __future__ import annotations

from typing import Any

from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import MessageToDict

from switchyard.server.protocols.a2a_model import (_STATE_NAMES_03, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, S, V03,
                                                   invalid_params, task_json)

# The messages of each listed task's history at most (its newest ones): a page of tasks is a
# page of summaries, not every conversation in full. tasks/get returns a whole history.
MAX_LIST_HISTORY = 20


async def list_tasks(service: Any, call: Any) -> Any:
    """`tasks/list` (0.3) and `ListTasks` (1.0): the caller's visible sessions as tasks, filtered
    and paged. `service` is the A2AService and `call` its parsed call (not imported: a2a_jsonrpc
    imports this module)."""
    params = call.params
    agent = call.agent
    page_size = int_param(params, "pageSize")
    if page_size is not None and page_size > MAX_PAGE_SIZE:
        raise invalid_params(f"`pageSize` must be between 1 and {MAX_PAGE_SIZE}")
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
    if history_length is None:
        history_length = MAX_LIST_HISTORY
    elif history_length > MAX_LIST_HISTORY:
        raise invalid_params(f"`historyLength` must be at most {MAX_LIST_HISTORY} when listing tasks")
    include_artifacts = bool(params.get("includeArtifacts", call.flavor == V03))
    sessions = await service._sessions(call).list_visible()
    if context_id:
        sessions = [s for s in sessions if s["id"] == context_id]
    if wanted_state is None:
        # Only the page is built: a listing costs a page's worth of work, not every session's.
        total = len(sessions)
        page = [await service.build_task(agent, s["id"], history_length=history_length,
                                         include_artifacts=include_artifacts)
                for s in sessions[offset:offset + page_size]]
    else:
        matching = []
        for session in sessions:
            # The state alone first (no history); the page's tasks in full below.
            probe = await service.build_task(agent, session["id"], history_length=0, include_artifacts=False)
            if probe.status.state == wanted_state:
                matching.append(session["id"])
        total = len(matching)
        page = [await service.build_task(agent, sid, history_length=history_length,
                                         include_artifacts=include_artifacts)
                for sid in matching[offset:offset + page_size]]
    next_token = str(offset + page_size) if offset + page_size < total else ""
    if call.flavor == V03:
        return {"tasks": [task_json(t, V03) for t in page], "totalSize": total,
                "pageSize": page_size, "nextPageToken": next_token}
    response = pb.ListTasksResponse(tasks=page, next_page_token=next_token, page_size=page_size,
                                    total_size=total)
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
