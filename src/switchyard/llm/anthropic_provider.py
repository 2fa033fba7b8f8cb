"""Anthropic via the official `anthropic` SDK: Messages API, streamed as raw events.

We consume raw events (not the SDK's accumulating helper) so each text, thinking and
tool-input fragment is forwarded as soon as it arrives. SDK retries are off; retry.py owns them.
"""

from __future__ import annotations

import base64
import json
from typing import Any, AsyncIterator

from switchyard.config.schema import LLMConfig

from .base import (Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, ToolSpec, Usage, alternating_turns,
                   append_turn, content_to_text)
from .presets import ResolvedLLM
from .reasoning import budget
from .retry import OnRetry, RetryingSDKClient, RetryPolicy

DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens on every request

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool-calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content-filter",
}


def _source(data: Any, mime: str | None, default_mime: str) -> dict[str, Any]:
    if isinstance(data, (bytes, bytearray)):
        data = base64.b64encode(bytes(data)).decode("ascii")
    data = str(data)
    if data.startswith(("http://", "https://")):
        return {"type": "url", "url": data}
    if data.startswith("data:") and ";base64," in data:
        header, payload = data.split(",", 1)
        return {"type": "base64", "media_type": header[5:].split(";")[0] or mime or default_mime,
                "data": payload}
    return {"type": "base64", "media_type": mime or default_mime, "data": data}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Our content -> Anthropic content blocks. Empty text blocks are dropped (the API
    rejects them)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image":
            blocks.append({"type": "image", "source": _source(part.get("image"), part.get("mimeType"), "image/png")})
        elif isinstance(part, dict) and part.get("type") == "file" \
                and part.get("mimeType") == "application/pdf" and part.get("data"):
            blocks.append({"type": "document",
                           "source": _source(part.get("data"), "application/pdf", "application/pdf")})
        else:
            text = content_to_text([part])
            if text:
                blocks.append({"type": "text", "text": text})
    return blocks


def _tool_result_first(turns: list[dict[str, Any]], result: dict[str, Any]) -> None:
    """tool_result blocks must come first in their user turn: a result joins the last user
    turn only when that turn holds results alone."""
    if turns and turns[-1]["role"] == "user" and all(b.get("type") == "tool_result" for b in turns[-1]["content"]):
        turns[-1]["content"].append(result)
    else:
        append_turn(turns, "user", [result])


def _tool_result(msg: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": msg.get("toolCallId") or "",
                              "content": content_to_text(msg.get("content")) or "(no output)"}
    if msg.get("isError"):
        result["is_error"] = True
    return result


def to_anthropic_messages(messages: list[dict[str, Any]], system: str | None = None
                          ) -> tuple[str | None, list[dict[str, Any]]]:
    """Returns (system, messages). System messages are lifted out; tool results become
    `tool_result` blocks in a user message; consecutive same-role messages are merged because
    the API wants user/assistant turns to alternate (so several tool results form one turn)."""
    systems, out = alternating_turns(
        messages, blocks=_blocks,
        tool_use=lambda call, args: {"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                                     "input": args},
        tool_result=_tool_result, add_result=_tool_result_first)
    return ("\n\n".join([system, *systems] if system else systems) or None), out


def to_anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description,
             "input_schema": t.parameters or {"type": "object", "properties": {}}} for t in tools]


def _transport() -> dict[str, Any]:
    """The SDK's aiohttp transport when installed (the `anthropic[aiohttp]` extra, a
    dependency of Switchyard), as for OpenAI: less CPU per streamed request than the default."""
    try:
        from anthropic import DefaultAioHttpClient
        import aiohttp  # noqa: F401 - DefaultAioHttpClient only fails when first used
    except ImportError:
        return {}
    return {"http_client": DefaultAioHttpClient()}


class AnthropicClient(RetryingSDKClient):
    """LLMClient for `anthropic`."""

    def __init__(self, resolved: ResolvedLLM, cfg: LLMConfig, *, on_retry: OnRetry | None = None,
                 retry_policy: RetryPolicy | None = None) -> None:
        from anthropic import AsyncAnthropic  # heavy; imported only when this provider is used

        super().__init__(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
        # base_url is the API root (the SDK appends /v1/messages); passed explicitly so that
        # ANTHROPIC_BASE_URL in the environment cannot redirect our key elsewhere.
        self._client = AsyncAnthropic(api_key=resolved.api_key, base_url=resolved.base_url,
                                      timeout=cfg.timeout, max_retries=0, **_transport())

    def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
               system: str | None = None) -> AsyncIterator[Delta]:
        system_text, converted = to_anthropic_messages(messages, system)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": converted,
            "max_tokens": self._cfg.maxOutputTokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system_text:
            request["system"] = system_text
        if tools:
            request["tools"] = to_anthropic_tools(tools)
        thinking = budget(self._cfg.reasoning, 4096) if self._cfg.reasoning is not None else 0
        if thinking:
            # The API wants 1024 <= budget < max_tokens, and no temperature with thinking.
            thinking = max(1024, thinking)
            request["thinking"] = {"type": "enabled", "budget_tokens": thinking}
            if request["max_tokens"] <= thinking:
                request["max_tokens"] = thinking + DEFAULT_MAX_TOKENS
        elif self._cfg.temperature is not None:
            request["temperature"] = self._cfg.temperature
        return self._with_retries(lambda: self._attempt(request))

    async def _attempt(self, request: dict[str, Any]) -> AsyncIterator[Delta]:
        from anthropic import AsyncStream

        # The SDK's own request path (transport, auth headers, errors, SSE decoding, error
        # events) with events left as plain dicts: `messages.create` validates the request
        # through its typed transform and builds a model object per event. With the aiohttp
        # transport this takes ~60% of the CPU per short completion (bench/anthropic_transport.py).
        stream = await self._client.post("/v1/messages", body=request, cast_to=object, stream=True,
                                         stream_cls=AsyncStream[object])
        tool_index: dict[int, int] = {}  # content block index -> our tool-call index
        input_tokens = output_tokens = cache_read = cache_write = 0
        finish = "other"
        try:
            async for event in stream:
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                if kind == "message_start":
                    u = (event.get("message") or {}).get("usage") or {}
                    input_tokens = u.get("input_tokens") or 0
                    cache_read = u.get("cache_read_input_tokens") or 0
                    cache_write = u.get("cache_creation_input_tokens") or 0
                    output_tokens = u.get("output_tokens") or 0
                elif kind == "content_block_start":
                    block = event.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        idx = tool_index.setdefault(event.get("index", 0), len(tool_index))
                        preset = block.get("input")
                        yield ToolCallDelta(index=idx, id=block.get("id"), name=block.get("name"),
                                            arguments=json.dumps(preset) if preset else "")
                    elif block.get("type") == "text" and block.get("text"):
                        yield TextDelta(block["text"])
                    elif block.get("type") == "thinking" and block.get("thinking"):
                        yield ReasoningDelta(block["thinking"])
                elif kind == "content_block_delta":
                    d = event.get("delta") or {}
                    kind_of_delta = d.get("type")
                    if kind_of_delta == "text_delta":
                        if d.get("text"):
                            yield TextDelta(d["text"])
                    elif kind_of_delta == "input_json_delta":
                        if d.get("partial_json") and event.get("index") in tool_index:
                            yield ToolCallDelta(index=tool_index[event["index"]], arguments=d["partial_json"])
                    elif kind_of_delta == "thinking_delta":
                        if d.get("thinking"):
                            yield ReasoningDelta(d["thinking"])
                elif kind == "message_delta":
                    stop = (event.get("delta") or {}).get("stop_reason")
                    if stop:
                        finish = STOP_REASONS.get(stop, "other")
                    usage = event.get("usage") or {}
                    if usage.get("output_tokens") is not None:
                        output_tokens = usage["output_tokens"]  # cumulative
        finally:
            await stream.close()
        # Anthropic's input_tokens excludes cached tokens; report the whole prompt like OpenAI.
        yield Usage(input_tokens=input_tokens + cache_read + cache_write, output_tokens=output_tokens,
                    cache_read_tokens=cache_read, cache_write_tokens=cache_write)
        yield Finish(finish)

