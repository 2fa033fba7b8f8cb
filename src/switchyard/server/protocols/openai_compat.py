"""OpenAI-compatible API: `POST /v1/chat/completions` and `GET /v1/models`.

`model` names a hosted agent (`auto` asks the router). By default the request's `messages`
are the whole conversation: they are loaded into a throw-away session, the last user message
is run, and the session is deleted (stateless, like the OpenAI API). A session id, in the
`user` field or an `X-Session-Id` header, continues that stored session instead: only the last
user message is sent, the agent keeps the history. Errors use OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}`, with OpenAI's status codes.

The agent answers with its own system prompt, tools and model settings: the request's
`tools`, `temperature`, `max_tokens` and the like are accepted and ignored; `n` must be 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from switchyard.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    SwitchyardError,
    UserError,
)
from switchyard.events import RunResult
from switchyard.ids import SESSION_ID, new_id, now_ms
from switchyard.runtime.activity import Finished, Quiet, TextPiece, run_activity
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.principal import Principal
from switchyard.runtime.results import answer_of
from switchyard.runtime.session_access import SessionAccess
from switchyard.server.deps import principal_of
from switchyard.server.protocols.openai_doc import CHAT_DOC, MODEL_DOC
from switchyard.server.routes import RouteGroup
from switchyard.server.wire import KEEPALIVE_FRAME, KEEPALIVE_SECONDS, data_frame, keepalive_due

log = logging.getLogger("switchyard.openai")

FINISH_REASONS = {"stop": "stop", "length": "length", "content-filter": "content_filter",
                  "max-steps": "length", "tool-calls": "stop"}
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+/-]+);base64,(?P<data>.*)$", re.DOTALL)


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def invalid(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, "invalid_request_error", param, code)


def from_switchyard(exc: SwitchyardError) -> OpenAIError:
    if isinstance(exc, NotFoundError):
        if exc.code == "agent_not_found":
            return OpenAIError(404, exc.message, "invalid_request_error", "model", "model_not_found")
        return OpenAIError(404, exc.message, "invalid_request_error", None, exc.code)
    if isinstance(exc, ConflictError):
        return OpenAIError(409, exc.message, "invalid_request_error", None, exc.code)
    if isinstance(exc, ForbiddenError):
        return OpenAIError(403, exc.message, "permission_error", None, exc.code)
    if isinstance(exc, UserError):
        field = (exc.details or {}).get("field") if isinstance(exc.details, dict) else None
        return OpenAIError(exc.status if 400 <= exc.status < 500 else 400, exc.message,
                           "invalid_request_error", field, exc.code)
    if exc.status == 502:
        return OpenAIError(502, exc.message, "api_error", None, exc.code)
    return OpenAIError(500, exc.message, "server_error", None, exc.code)


# --- request parsing ---------------------------------------------------------------------

def _text_of(content: Any, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in ("text", "input_text"):
                raise invalid(f"{param}[{i}]: only text parts are accepted here", f"{param}[{i}]")
            texts.append(str(part.get("text", "")))
        return "\n".join(texts)
    raise invalid(f"{param} must be a string or an array of content parts", param)


def user_content(content: Any, param: str) -> Any:
    """An OpenAI user message content as the agent's content (string or content parts)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(f"{param} must be a string or an array of content parts", param)
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        if not isinstance(part, dict):
            raise invalid(f"{where} must be an object", where)
        kind = part.get("type")
        if kind in ("text", "input_text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise invalid(f"{where}.image_url.url is required", f"{where}.image_url")
            match = _DATA_URL.match(url)
            if match:
                parts.append({"type": "image", "image": match["data"], "mimeType": match["mime"]})
            else:
                parts.append({"type": "image", "image": url})
        elif kind == "file":
            file = part.get("file") if isinstance(part.get("file"), dict) else {}
            match = _DATA_URL.match(str(file.get("file_data", "")))
            data = match["data"] if match else file.get("file_data")
            if not data:
                raise invalid(f"{where}.file.file_data is required", f"{where}.file")
            parts.append({"type": "file", "data": data,
                          "mimeType": match["mime"] if match else "application/octet-stream",
                          **({"filename": file["filename"]} if file.get("filename") else {})})
        else:
            raise invalid(f"{where}: unsupported content part type {kind!r}", where)
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def prior_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation before the last user message, as stored history messages."""
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        param = f"messages[{i}].content"
        role = msg.get("role")
        base = {"id": new_id(), "timestamp": now_ms()}
        if role in ("system", "developer"):
            out.append({**base, "role": "system", "content": _text_of(msg.get("content"), param)})
        elif role == "user":
            out.append({**base, "role": "user", "content": user_content(msg.get("content"), param)})
        elif role == "assistant":
            item = {**base, "role": "assistant", "content": _text_of(msg.get("content"), param) or None}
            calls = msg.get("tool_calls")
            if isinstance(calls, list) and calls:
                item["toolCalls"] = [{"id": c.get("id") or f"call_{j}", "type": "function",
                                      "function": {"name": (c.get("function") or {}).get("name", ""),
                                                   "arguments": (c.get("function") or {}).get("arguments", "")}}
                                     for j, c in enumerate(calls) if isinstance(c, dict)]
            out.append(item)
        elif role == "tool":
            out.append({**base, "role": "tool", "content": _text_of(msg.get("content"), param),
                        "toolCallId": msg.get("tool_call_id") or "", "name": msg.get("name") or "",
                        "success": True})
        else:
            raise invalid(f"messages[{i}].role {role!r} is not one of system, developer, user, "
                          "assistant, tool", f"messages[{i}].role")
    return out


def usage_of(token_usage: dict[str, Any] | None) -> dict[str, Any]:
    u = token_usage or {}
    prompt, completion = int(u.get("inputTokens", 0)), int(u.get("outputTokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(u.get("totalTokens", prompt + completion)),
            "prompt_tokens_details": {"cached_tokens": int(u.get("cacheReadTokens", 0))},
            "completion_tokens_details": {"reasoning_tokens": int(u.get("reasoningTokens", 0))}}


# --- the routes ----------------------------------------------------------------------------

class ChatRequest:
    def __init__(self, body: Any, request: Request) -> None:
        if not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid("you must provide a model parameter", "model", "missing_required_parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid("messages must be a non-empty array", "messages")
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise invalid(f"messages[{i}] must be an object", f"messages[{i}]")
        last = messages[-1]
        if last.get("role") != "user":
            raise invalid("the last message must have the role 'user': it is what the agent answers",
                          f"messages[{len(messages) - 1}].role")
        for name in ("tools", "functions"):
            if body.get(name):
                # Silently dropping them would let a client believe the model could call its
                # functions: the agent calls only its own tools (its MCP servers).
                raise invalid(f"`{name}` is not supported: the agent calls only its own tools (the "
                              "MCP servers and tools of its agent file), not functions defined by "
                              "the request", name, "unsupported_parameter")
        n = body.get("n", 1)
        if n not in (1, None):
            raise invalid("only n=1 is supported", "n", "unsupported_value")
        stream = body.get("stream", False)
        if not isinstance(stream, bool) and stream is not None:
            raise invalid("stream must be a boolean", "stream")
        options = body.get("stream_options") or {}
        if not isinstance(options, dict):
            raise invalid("stream_options must be an object", "stream_options")
        session_id = request.headers.get("x-session-id") or body.get("user")
        if session_id is not None and (not isinstance(session_id, str) or not SESSION_ID.match(session_id)):
            raise invalid("a session id (`user` or X-Session-Id) must be 1-200 characters of letters, "
                          "digits and ._:@-", "user")
        self.model = model
        self.messages = messages
        self.stream = bool(stream)
        self.include_usage = bool(options.get("include_usage"))
        self.session_id: str | None = session_id
        self.content = user_content(last.get("content"), f"messages[{len(messages) - 1}].content")
        if not self.content or (isinstance(self.content, str) and not self.content.strip()):
            raise invalid("the last user message is empty", f"messages[{len(messages) - 1}].content")


def routing_offered(host: AgentHost) -> bool:
    """Whether `auto` (the router) is listed as a model: when there is a choice to make
    (several agents). A chat completion may name `auto` on a one-agent server too; it then
    goes to that agent."""
    return len(host.agents) > 1


async def resolve_agent(request: Request, host: AgentHost, chat: ChatRequest) -> Agent:
    if chat.model == "auto":
        try:
            from switchyard.server.routing_glue import route_for_request
        except ImportError:
            raise OpenAIError(404, "The model `auto` does not exist: routing is not available on this server",
                              "invalid_request_error", "model", "model_not_found") from None
        return await route_for_request(request, host, chat.content, chat.session_id)
    agent = host.agents.get(chat.model)
    if agent is None:
        raise OpenAIError(404, f"The model `{chat.model}` does not exist. Hosted agents: "
                               f"{', '.join(sorted(host.agents))}", "invalid_request_error", "model",
                          "model_not_found")
    return agent


class Completion:
    """One chat completion: the session it runs in, and how to clean up after it."""

    def __init__(self, agent: Agent, chat: ChatRequest, principal: Principal) -> None:
        self.agent, self.chat = agent, chat
        self.sessions = SessionAccess(agent, principal)
        self.ephemeral = chat.session_id is None
        self.session_id = chat.session_id or f"openai-{new_id()}"
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    async def start(self) -> Any:
        if self.ephemeral:
            await self.sessions.create_ephemeral(self.session_id, prior_messages(self.chat.messages[:-1]))
        else:
            await self.sessions.ensure_may_send(self.session_id)
        try:
            return await self.agent.start_run(self.session_id, self.chat.content, wait=False,
                                              owner=self.sessions.owner)
        except BaseException:
            await self.finish()
            raise

    async def finish(self) -> None:
        if self.ephemeral:
            try:
                await asyncio.shield(self.sessions.discard(self.session_id))
            except Exception:
                log.exception("could not delete the ephemeral session %s", self.session_id)

    def headers(self) -> dict[str, str]:
        return {} if self.ephemeral else {"X-Session-Id": self.session_id}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.agent.id, "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def _finish_reason(result: RunResult) -> str:
    return FINISH_REASONS.get(result.finish_reason or "stop", "stop")


async def _stream(completion: Completion, run: Any) -> AsyncIterator[bytes]:
    try:
        yield data_frame(completion.chunk({"role": "assistant", "content": ""}))
        result: RunResult | None = None
        async with aclosing(run_activity(run, quiet_every=KEEPALIVE_SECONDS)) as activity:
            async for item in activity:
                if isinstance(item, Quiet):
                    if keepalive_due(item):
                        yield KEEPALIVE_FRAME
                elif isinstance(item, TextPiece):
                    yield data_frame(completion.chunk({"content": item.text}))
                elif isinstance(item, Finished):
                    result = item.result
        try:
            result = answer_of(result)
        except SwitchyardError as exc:
            yield data_frame(from_switchyard(exc).body())
            yield b"data: [DONE]\n\n"
            return
        yield data_frame(completion.chunk({}, _finish_reason(result)))
        if completion.chat.include_usage:
            final = completion.chunk({})
            final["choices"] = []
            final["usage"] = usage_of(result.usage.to_dict())
            yield data_frame(final)
        yield b"data: [DONE]\n\n"
    finally:
        # Stateless: nobody can fetch the answer later, so a client that leaves ends the run.
        await completion.finish()


def build_router(host: AgentHost) -> RouteGroup:
    router = RouteGroup(tags=["openai"])

    @router.post("/v1/chat/completions", scope="chat", runs=True, **CHAT_DOC,
                 summary="OpenAI-compatible chat completion (model = agent id)")
    async def chat_completions(request: Request) -> Response:
        try:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise invalid(f"the request body is not valid JSON: {exc}") from None
            chat = ChatRequest(body, request)
            agent = await resolve_agent(request, host, chat)
            completion = Completion(agent, chat, principal_of(request))
            run = await completion.start()
        except OpenAIError as exc:
            return exc.response()
        except SwitchyardError as exc:
            return from_switchyard(exc).response()

        if chat.stream:
            return StreamingResponse(_stream(completion, run), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                              **completion.headers()})
        try:
            await asyncio.shield(run.wait())
            result = answer_of(run.result)
        except SwitchyardError as exc:
            return from_switchyard(exc).response()
        finally:
            await completion.finish()
        return JSONResponse({
            "id": completion.id, "object": "chat.completion", "created": completion.created,
            "model": agent.id, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.content,
                                                 "refusal": None},
                         "logprobs": None, "finish_reason": _finish_reason(result)}],
            "usage": usage_of(result.usage.to_dict()),
        }, headers=completion.headers())

    created = int(time.time())

    def model_entry(agent: Agent) -> dict[str, Any]:
        return {"id": agent.id, "object": "model", "created": created, "owned_by": "switchyard",
                "name": agent.config.name, "description": agent.config.description}

    auto_entry = {"id": "auto", "object": "model", "created": created, "owned_by": "switchyard",
                  "description": "Routes each message to the best-suited hosted agent"}

    @router.get("/v1/models", scope="read", summary="The hosted agents, as OpenAI models")
    async def list_models() -> JSONResponse:
        data = [model_entry(agent) for agent in host.agents.values()]
        if routing_offered(host) and "auto" not in host.agents:
            data.append(auto_entry)
        return JSONResponse({"object": "list", "data": data})

    @router.get("/v1/models/{model}", scope="read", summary="One hosted agent, as an OpenAI model", **MODEL_DOC)
    async def get_model(model: str) -> JSONResponse:
        agent = host.agents.get(model)
        if agent is None:
            if model == "auto" and routing_offered(host):
                return JSONResponse(auto_entry)
            return OpenAIError(404, f"The model `{model}` does not exist", "invalid_request_error", "model",
                               "model_not_found").response()
        return JSONResponse(model_entry(agent))

    return router
