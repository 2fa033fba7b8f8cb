"""The A2A task model: JSON-RPC error codes, conversions between our messages and the SDK's
protobuf types (and their 0.3 JSON shape), and the tracker that derives a task's state from
the agent's real runs. The JSON-RPC service over it is a2a_jsonrpc.py."""

from __future__ import annotations

import base64
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as t03
from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import ValidationError

from switchyard.errors import validation_issues
from switchyard.events import ApprovalRequestEvent, ApprovalResponseEvent, RunResult
from switchyard.ids import new_id
from switchyard.runtime.agent import Agent
from switchyard.runtime.run import Run
from switchyard.server.wire import approval_payload

log = logging.getLogger("switchyard.a2a")

# JSON-RPC and A2A error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002

APPROVAL_POLL_SECONDS = 0.25
MAX_OUTCOMES = 10_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

S = pb.TaskState
_STATE_NAMES_03 = {
    "submitted": S.TASK_STATE_SUBMITTED, "working": S.TASK_STATE_WORKING,
    "input-required": S.TASK_STATE_INPUT_REQUIRED, "completed": S.TASK_STATE_COMPLETED,
    "canceled": S.TASK_STATE_CANCELED, "failed": S.TASK_STATE_FAILED,
    "rejected": S.TASK_STATE_REJECTED, "auth-required": S.TASK_STATE_AUTH_REQUIRED,
}


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid params: {message}")


def task_not_found(task_id: str) -> RpcError:
    return RpcError(TASK_NOT_FOUND, f"Task not found: {task_id}", {"taskId": task_id})


# --- wire shapes -------------------------------------------------------------------------

V03, V10 = "0.3", "1.0"


def task_json(task: pb.Task, flavor: str) -> dict[str, Any]:
    if flavor == V03:
        return conversions.to_compat_task(task).model_dump(mode="json", by_alias=True, exclude_none=True)
    return MessageToDict(task)


def stream_json(item: pb.StreamResponse, flavor: str, request_id: Any) -> dict[str, Any]:
    if flavor == V03:
        return conversions.to_compat_stream_response(item, request_id).model_dump(
            mode="json", by_alias=True, exclude_none=True)
    return {"jsonrpc": "2.0", "id": request_id, "result": MessageToDict(item)}


def _now() -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def agent_message(sid: str, text: str, message_id: str | None = None, data: Any = None) -> pb.Message:
    message = pb.Message(message_id=message_id or new_id(), role=pb.Role.ROLE_AGENT,
                         context_id=sid, task_id=sid)
    if text:
        message.parts.append(pb.Part(text=text))
    if data is not None:
        part = pb.Part()
        ParseDict(data, part.data)
        message.parts.append(part)
    return message


def status_of(state: int, message: pb.Message | None = None) -> pb.TaskStatus:
    status = pb.TaskStatus(state=state, timestamp=_now())
    if message is not None:
        status.message.CopyFrom(message)
    return status


# --- incoming messages -------------------------------------------------------------------

def _legacy_part(part: Any) -> Any:
    if isinstance(part, dict) and "kind" not in part:
        for kind in ("text", "file", "data"):
            if kind in part:
                return {**part, "kind": kind}
    return part


def parse_message(raw: Any) -> pb.Message:
    """A message in either shape: 0.3 (parts with `kind`, role `user`) or 1.0 (protobuf JSON)."""
    if not isinstance(raw, dict):
        raise invalid_params("`message` must be an object")
    parts = raw.get("parts")
    if not isinstance(parts, list) or not parts:
        raise invalid_params("`message.parts` must be a non-empty array")
    legacy = ("kind" in raw or raw.get("role") in ("user", "agent")
              or any(isinstance(p, dict) and ("kind" in p or "file" in p) for p in parts))
    if legacy:
        data = {**raw, "parts": [_legacy_part(p) for p in parts]}
        data.setdefault("messageId", new_id())
        data.setdefault("role", "user")
        try:
            return conversions.to_core_message(t03.Message.model_validate(data))
        except (ValidationError, ValueError) as exc:
            raise invalid_params(f"`message`: {_first_error(exc)}") from None
    try:
        message = ParseDict(raw, pb.Message(), ignore_unknown_fields=True)
    except (ParseError, TypeError, ValueError) as exc:
        raise invalid_params(f"`message`: {exc}") from None
    if not message.message_id:
        message.message_id = new_id()
    return message


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = validation_issues(exc.errors())[0]
        return f"{first['path']}: {first['message']}"
    return str(exc)


def message_content(message: pb.Message) -> Any:
    """The agent's content for an A2A message: a string, or a list of content parts."""
    texts: list[str] = []
    extras: list[dict[str, Any]] = []
    for part in message.parts:
        which = part.WhichOneof("content")
        if which == "text":
            if part.text:
                texts.append(part.text)
        elif which == "data":
            texts.append(json.dumps(MessageToDict(part.data), indent=2))
        elif which == "raw":
            encoded = base64.b64encode(part.raw).decode()
            if part.media_type.startswith("image/"):
                extras.append({"type": "image", "image": encoded, "mimeType": part.media_type})
            else:
                extras.append({"type": "file", "data": encoded,
                               "mimeType": part.media_type or "application/octet-stream",
                               **({"filename": part.filename} if part.filename else {})})
        elif which == "url":
            if part.media_type.startswith("image/"):
                extras.append({"type": "image", "image": part.url, "mimeType": part.media_type})
            else:
                texts.append(f"[file: {part.filename or part.url}] {part.url}")
    text = " ".join(texts)
    if not extras:
        return text
    return ([{"type": "text", "text": text}] if text else []) + extras


# --- stored history -> task --------------------------------------------------------------

def _parts_of(content: Any) -> list[pb.Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [pb.Part(text=content)] if content else []
    parts: list[pb.Part] = []
    for item in content:
        if not isinstance(item, dict):
            parts.append(pb.Part(text=str(item)))
        elif item.get("type") == "text":
            parts.append(pb.Part(text=str(item.get("text", ""))))
        elif item.get("type") in ("image", "file"):
            value = str(item.get("image") or item.get("data") or "")
            mime = item.get("mimeType") or ""
            if value.startswith(("http://", "https://", "data:")):
                parts.append(pb.Part(url=value, media_type=mime, filename=item.get("filename") or ""))
            else:
                try:
                    parts.append(pb.Part(raw=base64.b64decode(value, validate=True), media_type=mime,
                                         filename=item.get("filename") or ""))
                except ValueError:
                    parts.append(pb.Part(text=f"[{item.get('type')}: {mime or 'attachment'}]"))
    return parts


def history_messages(sid: str, history: list[dict[str, Any]]) -> list[pb.Message]:
    out = []
    for message in history:
        role = message.get("role")
        if role not in ("user", "assistant"):
            continue
        parts = _parts_of(message.get("content"))
        if not parts:
            continue
        out.append(pb.Message(message_id=str(message.get("id") or new_id()),
                              role=pb.Role.ROLE_USER if role == "user" else pb.Role.ROLE_AGENT,
                              context_id=sid, task_id=sid, parts=parts))
    return out


@dataclass
class Outcome:
    state: int
    text: str = ""
    message_id: str | None = None


class TaskTracker:
    """Derives a task's state from the agent's runs, and remembers how recent runs ended
    (the run object itself leaves memory when its session goes idle)."""

    def __init__(self) -> None:
        self._outcomes: OrderedDict[tuple[str, str], Outcome] = OrderedDict()

    def remember(self, agent: Agent, sid: str, outcome: Outcome) -> None:
        key = (agent.id, sid)
        self._outcomes[key] = outcome
        self._outcomes.move_to_end(key)
        while len(self._outcomes) > MAX_OUTCOMES:
            self._outcomes.popitem(last=False)

    def forget(self, agent: Agent, sid: str) -> None:
        self._outcomes.pop((agent.id, sid), None)

    @staticmethod
    def outcome_of_run(run: Run) -> Outcome:
        return outcome_of_result(run.result)

    @staticmethod
    def pending_approvals(agent: Agent, sid: str, run: Run | None) -> list[dict[str, Any]]:
        if agent.approvals is not None:
            pending = agent.approvals.pending(sid)
            if pending:
                return pending
        if run is None:
            return []
        # Approval events that reached the run's own stream, unanswered.
        asked: dict[str, dict[str, Any]] = {}
        for event in run.events:
            if isinstance(event, ApprovalRequestEvent):
                asked[event.approval_id] = approval_payload(event)
            elif isinstance(event, ApprovalResponseEvent):
                asked.pop(event.approval_id, None)
        return list(asked.values())

    def current(self, agent: Agent, sid: str, history: list[dict[str, Any]],
                elsewhere: list[dict[str, Any]] | None = None) -> Outcome:
        """The task's state. `elsewhere`: with replicas, when the session's turn runs on another
        replica, the approvals it waits for (empty: none); None when it runs on none."""
        live = agent.live.peek(sid)
        run = live.run if live is not None else None
        if run is not None and not run.done:
            pending = self.pending_approvals(agent, sid, run)
            if pending:
                return Outcome(S.TASK_STATE_INPUT_REQUIRED, approval_text(pending))
            return Outcome(S.TASK_STATE_WORKING)
        if elsewhere is not None:
            return (Outcome(S.TASK_STATE_INPUT_REQUIRED, approval_text(elsewhere)) if elsewhere
                    else Outcome(S.TASK_STATE_WORKING))
        if run is not None:
            outcome = self.outcome_of_run(run)
            self.remember(agent, sid, outcome)
            return outcome
        known = self._outcomes.get((agent.id, sid))
        if known is not None:
            return known
        last = next((m for m in reversed(history) if m.get("role") in ("user", "assistant")), None)
        if last is None:
            return Outcome(S.TASK_STATE_SUBMITTED)
        if last["role"] == "assistant":
            if last.get("finishReason") == "cancelled":
                return Outcome(S.TASK_STATE_CANCELED)
            text = last.get("content") if isinstance(last.get("content"), str) else ""
            return Outcome(S.TASK_STATE_COMPLETED, text or "", last.get("id"))
        return Outcome(S.TASK_STATE_FAILED, "the last run ended without an answer")


def outcome_of_result(result: RunResult | None) -> Outcome:
    """A finished run's task outcome: canceled, failed (with why) or completed (the answer)."""
    reason = result.finish_reason if result is not None else "unknown"
    if reason == "cancelled":
        return Outcome(S.TASK_STATE_CANCELED)
    if reason == "error":
        error = result.error.message if result is not None and result.error is not None else None
        return Outcome(S.TASK_STATE_FAILED, error or "the run failed")
    if result is None or not result.answered:
        return Outcome(S.TASK_STATE_FAILED, f"the run ended without an answer ({reason})")
    return Outcome(S.TASK_STATE_COMPLETED, result.content or "", result.message_id)


def approval_text(pending: list[dict[str, Any]]) -> str:
    names = ", ".join(str((p.get("metadata") or {}).get("toolName", "a tool")) for p in pending)
    return f"Waiting for approval of {names}. Answer with POST /api/approvals/{{approvalId}}."


def approval_message(sid: str, pending: list[dict[str, Any]]) -> pb.Message:
    data = {"approvals": [{"approvalId": p.get("approvalId"),
                           "toolName": (p.get("metadata") or {}).get("toolName"),
                           "args": (p.get("metadata") or {}).get("args")} for p in pending]}
    return agent_message(sid, approval_text(pending), data=json.loads(json.dumps(data, default=str)))


def outcome_message(sid: str, outcome: Outcome) -> pb.Message | None:
    if outcome.state == S.TASK_STATE_COMPLETED:
        return agent_message(sid, outcome.text, outcome.message_id)
    if outcome.state in (S.TASK_STATE_FAILED, S.TASK_STATE_INPUT_REQUIRED) and outcome.text:
        return agent_message(sid, outcome.text)
    return None
