"""A scripted fake LLM server over real HTTP on 127.0.0.1, for tests.

It speaks enough of two real wire protocols for the official SDKs to talk to it unmodified:

* OpenAI   `POST {base_url}/chat/completions`  (stream and non-stream, tool calls, usage chunk)
* Anthropic `POST {anthropic_base_url}/v1/messages` (SSE: message_start, content_block_start,
  content_block_delta (text_delta / input_json_delta / thinking_delta), content_block_stop,
  message_delta, message_stop; and non-stream)

Usage:

    fake = FakeLLM().start()
    AsyncOpenAI(base_url=fake.base_url, api_key="x")            # base_url ends with /v1
    AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="x")  # the root: SDK adds /v1/messages
    fake.script(Text("hello world", chunks=3),
                ToolCalls([("call_1", "get_weather", {"city": "Paris"})]),
                Error(status=429, retry_after=0),
                Delay(2.0, then=Text("late")))
    fake.requests   # [{"path", "headers", "json", "tokens"}, ...] in arrival order
    fake.context_window = 4000   # longer requests get the provider's context-length error
    fake.stop()

Each request consumes one scripted step (a step may also be a callable `f(body) -> step`);
the steps are in tests/support/fake_llm_steps.py and importable from here. With the script
empty it answers `default(body)`, by default "fake reply to: <last user text>". The server runs
uvicorn in its own thread and event loop, so it works with any test event loop (or none).

Tests take it from the `fake_llm` fixture (tests/support/fixtures.py), which fails a test that
leaves scripted steps unrequested. Benchmarks run it in a process of its own with `serve()`
(bench/_fake_llm.py), so that its CPU is not counted as the server's.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fake_llm_steps import (  # noqa: F401 - the steps are part of this module's interface
    Broken, Delay, Error, ScriptItem, Stamped, Step, Text, ToolCalls, context_length_exceeded, last_user_text,
    request_tokens, split, words_in)


class _Dropped(Exception):
    """Raised inside a streaming body to make the server drop the connection."""


# --- the server ----------------------------------------------------------------------------


def _default_reply(body: dict[str, Any]) -> Step:
    return Text(f"fake reply to: {last_user_text(body)}")


class FakeLLM:
    """The scripted fake LLM (see the module docstring).

    default:       the step for a request when the script is empty.
    keep_requests: keep only the last N requests in `requests` (long benchmark runs).
    """

    def __init__(self, host: str = "127.0.0.1", *, default: Callable[[dict[str, Any]], Step] = _default_reply,
                 keep_requests: int | None = None) -> None:
        self.host = host
        self.port: int | None = None
        self.default = default
        self.requests: deque[dict[str, Any]] | list[dict[str, Any]] = (
            deque(maxlen=keep_requests) if keep_requests else [])
        self._script: deque[ScriptItem] = deque()
        # A request larger than this (`request_tokens`) is refused as a real provider refuses
        # it (OpenAI: 400 `context_length_exceeded`), without consuming a scripted step.
        self.context_window: int | None = None
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app = Starlette(routes=[
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            Route("/v1/messages", self._anthropic, methods=["POST"]),
        ])

    # -- lifecycle

    def start(self) -> "FakeLLM":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="critical", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)
        return self

    def serve(self, port: int, **uvicorn_options: Any) -> None:
        """Serve on `port` in the calling thread until interrupted (a process of its own)."""
        self.port = port
        uvicorn.run(self._app, host=self.host, port=port, log_level="warning", access_log=False,
                    lifespan="off", **uvicorn_options)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For OpenAI clients (and llm.baseURL of OpenAI-compatible providers)."""
        return f"{self.root_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """For Anthropic clients: the root, because the SDK appends /v1/messages itself."""
        return self.root_url

    # -- scripting

    def script(self, *steps: ScriptItem) -> "FakeLLM":
        with self._lock:
            self._script.extend(steps)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.context_window = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    async def _take(self, request: Request) -> tuple[dict[str, Any], Step]:
        body = await request.json()
        tokens = request_tokens(body)
        with self._lock:
            self.requests.append({"path": request.url.path, "headers": dict(request.headers), "json": body,
                                  "tokens": tokens})
            if self.context_window is not None and tokens > self.context_window:
                return body, context_length_exceeded(self.context_window, tokens)
            item = self._script.popleft() if self._script else None
        step = item(body) if callable(item) else item
        if step is None:
            step = self.default(body)
        if isinstance(step, Delay):
            await asyncio.sleep(step.delay)
            step = step.then or self.default(body)
        if step.delay:
            await asyncio.sleep(step.delay)
        return body, step

    @staticmethod
    def _retry_headers(step: Error) -> dict[str, str]:
        return {"retry-after": str(step.retry_after)} if step.retry_after is not None else {}

    # -- OpenAI

    async def _openai(self, request: Request) -> Response:
        body, step = await self._take(request)
        model = body.get("model", "fake-model")
        if isinstance(step, Error):
            kind = "invalid_request_error" if step.status == 400 else "fake_error"
            return JSONResponse({"error": {"message": step.message, "type": kind, "code": step.code,
                                           "param": "messages" if step.code else None}},
                                status_code=step.status, headers=self._retry_headers(step))
        usage = self._usage(step, body)
        if not body.get("stream"):
            return JSONResponse(self._openai_completion(step, model, usage))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._openai_sse(step, model, usage, include_usage),
                                 media_type="text/event-stream")

    def _usage(self, step: Step, body: dict[str, Any]) -> tuple[int, int]:
        if getattr(step, "usage", None):
            return step.usage  # type: ignore[attr-defined]
        out = len((getattr(step, "text", None) or "").split())
        if isinstance(step, ToolCalls):
            out += sum(len(args.split()) for _, _, args in step.calls) + 1
        return words_in(body), out

    def _openai_completion(self, step: Step, model: str, usage: tuple[int, int]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": getattr(step, "text", None)}
        finish = getattr(step, "finish", "stop")
        if isinstance(step, ToolCalls):
            message["tool_calls"] = [{"id": cid, "type": "function",
                                      "function": {"name": name, "arguments": args}}
                                     for cid, name, args in step.calls]
            finish = "tool_calls"
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                          "total_tokens": sum(usage)}}

    async def _openai_sse(self, step: Step, model: str, usage: tuple[int, int],
                          include_usage: bool) -> Any:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    **extra}
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        finish = "stop"
        if isinstance(step, Broken):
            for piece in split(step.text, step.chunks)[:step.after_chunks]:
                yield chunk({"content": piece})
            await asyncio.sleep(0.05)
            raise _Dropped()
        if isinstance(step, Text):
            if step.reasoning:
                yield chunk({"reasoning_content": step.reasoning})
            async for piece in step.pieces():
                yield chunk({"content": piece})
            finish = step.finish
        elif isinstance(step, ToolCalls):
            if step.text:
                yield chunk({"content": step.text})
            for i, (cid, name, args) in enumerate(step.calls):
                yield chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                             "function": {"name": name, "arguments": ""}}]})
                for piece in split(args, step.arg_chunks):
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
            finish = "tool_calls"
        yield chunk({}, finish)
        if include_usage:
            data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                             "total_tokens": sum(usage)}}
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"

    # -- Anthropic

    _STOP = {"stop": "end_turn", "length": "max_tokens", "tool-calls": "tool_use"}

    async def _anthropic(self, request: Request) -> Response:
        body, step = await self._take(request)
        model = body.get("model", "fake-model")
        if isinstance(step, Error):
            kind = {429: "rate_limit_error", 401: "authentication_error", 400: "invalid_request_error",
                    529: "overloaded_error"}.get(step.status, "api_error")
            message = step.message
            if step.code == "context_length_exceeded":   # Anthropic's wording of the same refusal
                message = f"prompt is too long: {request_tokens(body)} tokens > {self.context_window} maximum"
            return JSONResponse({"type": "error", "error": {"type": kind, "message": message}},
                                status_code=step.status, headers=self._retry_headers(step))
        usage = self._usage(step, body)
        if not body.get("stream"):
            return JSONResponse(self._anthropic_message(step, model, usage))
        return StreamingResponse(self._anthropic_sse(step, model, usage), media_type="text/event-stream")

    def _anthropic_blocks(self, step: Step) -> Iterator[dict[str, Any]]:
        if isinstance(step, Text) and step.reasoning:
            yield {"type": "thinking", "thinking": step.reasoning, "signature": "fake-signature"}
        text = getattr(step, "text", None)
        if text:
            yield {"type": "text", "text": text}
        if isinstance(step, ToolCalls):
            for cid, name, args in step.calls:
                yield {"type": "tool_use", "id": cid, "name": name, "input": json.loads(args or "{}")}

    def _stop_reason(self, step: Step) -> str:
        if isinstance(step, ToolCalls):
            return "tool_use"
        return self._STOP.get(getattr(step, "finish", "stop"), "end_turn")

    def _anthropic_message(self, step: Step, model: str, usage: tuple[int, int]) -> dict[str, Any]:
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": list(self._anthropic_blocks(step)), "stop_reason": self._stop_reason(step),
                "stop_sequence": None, "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}

    async def _anthropic_sse(self, step: Step, model: str, usage: tuple[int, int]) -> Any:
        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        yield event("message_start", {"message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": 1}}})
        yield event("ping", {})
        index = 0
        if isinstance(step, Broken):
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for piece in split(step.text, step.chunks)[:step.after_chunks]:
                yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            await asyncio.sleep(0.05)
            raise _Dropped()
        if isinstance(step, Text) and step.reasoning:
            yield event("content_block_start", {"index": index, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}})
            yield event("content_block_delta", {"index": index, "delta": {
                "type": "thinking_delta", "thinking": step.reasoning}})
            yield event("content_block_delta", {"index": index, "delta": {
                "type": "signature_delta", "signature": "fake-signature"}})
            yield event("content_block_stop", {"index": index})
            index += 1
        text = getattr(step, "text", None)
        if text or isinstance(step, Stamped):
            yield event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
            pieces = step.pieces() if isinstance(step, Text) else _one(text)
            async for piece in pieces:
                yield event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}})
            yield event("content_block_stop", {"index": index})
            index += 1
        if isinstance(step, ToolCalls):
            for cid, name, args in step.calls:
                yield event("content_block_start", {"index": index, "content_block": {
                    "type": "tool_use", "id": cid, "name": name, "input": {}}})
                for piece in split(args, step.arg_chunks):
                    yield event("content_block_delta", {"index": index, "delta": {
                        "type": "input_json_delta", "partial_json": piece}})
                yield event("content_block_stop", {"index": index})
                index += 1
        yield event("message_delta", {"delta": {"stop_reason": self._stop_reason(step), "stop_sequence": None},
                                      "usage": {"output_tokens": usage[1]}})
        yield event("message_stop", {})


async def _one(text: str) -> Any:
    yield text
