"""OpenAI and every OpenAI-compatible server (openrouter, groq, xai, ollama, vllm, ...), via the
official `openai` SDK's chat-completions streaming API.

The SDK's own retries are off (`max_retries=0`); retry.py does them so that streamed text is
never duplicated and each retry can be reported.
"""

from __future__ import annotations

import base64
from typing import Any, AsyncIterator

from switchyard.config.schema import LLMConfig

from .base import Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, ToolSpec, Usage, content_to_text
from .presets import ResolvedLLM
from .reasoning import openai_effort
from .retry import OnRetry, RetryingSDKClient, RetryPolicy

FINISH_REASONS = {
    "stop": "stop",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "length": "length",
    "content_filter": "content-filter",
}

# Keyless local servers still need *some* key: the SDK refuses to start without one and would
# otherwise fall back to OPENAI_API_KEY from the environment (leaking it to that server).
_NO_KEY = "no-key-needed"


def _data_url(data: Any, mime: str | None, default_mime: str) -> str:
    if isinstance(data, (bytes, bytearray)):
        data = base64.b64encode(bytes(data)).decode("ascii")
    data = str(data)
    if data.startswith(("http://", "https://", "data:")):
        return data
    return f"data:{mime or default_mime};base64,{data}"


def _user_content(content: Any) -> Any:
    """Our content parts -> OpenAI content parts (text, image_url, file for PDFs)."""
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            parts.append({"type": "text", "text": str(part)})
            continue
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image":
            parts.append({"type": "image_url",
                          "image_url": {"url": _data_url(part.get("image"), part.get("mimeType"), "image/png")}})
        elif kind == "file" and part.get("mimeType") == "application/pdf" and part.get("data"):
            parts.append({"type": "file", "file": {
                "filename": part.get("filename") or "document.pdf",
                "file_data": _data_url(part.get("data"), "application/pdf", "application/pdf")}})
        else:
            parts.append({"type": "text", "text": content_to_text([part])})
    return parts


def to_openai_messages(messages: list[dict[str, Any]], system: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for msg in messages:
        role = msg.get("role")
        if role == "system":
            out.append({"role": "system", "content": content_to_text(msg.get("content"))})
        elif role == "user":
            out.append({"role": "user", "content": _user_content(msg.get("content"))})
        elif role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": content_to_text(msg.get("content")) or None}
            calls = msg.get("toolCalls") or []
            if calls:
                item["tool_calls"] = [{
                    "id": c["id"], "type": "function",
                    "function": {"name": c["function"]["name"],
                                 "arguments": c["function"].get("arguments") or "{}"},
                } for c in calls]
            elif item["content"] is None:
                item["content"] = ""
            out.append(item)
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": msg.get("toolCallId") or "",
                        "content": content_to_text(msg.get("content"))})
    return out


def to_openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {
        "name": t.name, "description": t.description,
        "parameters": t.parameters or {"type": "object", "properties": {}}}} for t in tools]


def _usage(u: dict[str, Any]) -> Usage:
    details = u.get("completion_tokens_details") or {}
    prompt_details = u.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=u.get("prompt_tokens") or 0,
        output_tokens=u.get("completion_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens") or 0,
        cache_read_tokens=prompt_details.get("cached_tokens") or 0,
    )


def _transport() -> dict[str, Any]:
    """The SDK's aiohttp transport when installed (the `openai[aiohttp]` extra, a dependency
    of Switchyard): it costs about 40% less CPU per streamed request than the default
    transport (bench/llm_transport.py)."""
    try:
        from openai import DefaultAioHttpClient
        import aiohttp  # noqa: F401 - DefaultAioHttpClient only fails when first used
    except ImportError:
        return {}
    return {"http_client": DefaultAioHttpClient()}


class OpenAIClient(RetryingSDKClient):
    """LLMClient for `openai`, `openai-compatible` and the OpenAI-compatible presets."""

    def __init__(self, resolved: ResolvedLLM, cfg: LLMConfig, *, on_retry: OnRetry | None = None,
                 retry_policy: RetryPolicy | None = None) -> None:
        from openai import AsyncOpenAI  # heavy; imported only when this provider is used

        super().__init__(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
        self._client = AsyncOpenAI(api_key=resolved.api_key or _NO_KEY, base_url=resolved.base_url,
                                   timeout=cfg.timeout, max_retries=0, **_transport())

    def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
               system: str | None = None) -> AsyncIterator[Delta]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages, system),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            request["tools"] = to_openai_tools(tools)
        if self._cfg.temperature is not None:
            request["temperature"] = self._cfg.temperature
        if self._cfg.maxOutputTokens:
            # OpenAI's newer models only accept max_completion_tokens; compatible servers
            # mostly only know the older max_tokens.
            key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
            request[key] = self._cfg.maxOutputTokens
        if self._cfg.reasoning is not None and self.provider == "openai":
            # Only OpenAI's own API is known to take reasoning_effort; compatible servers may
            # reject the unknown field.
            effort = openai_effort(self._cfg.reasoning)
            if effort:
                request["reasoning_effort"] = effort
        return self._with_retries(lambda: self._attempt(request))

    async def _attempt(self, request: dict[str, Any]) -> AsyncIterator[Delta]:
        from openai import AsyncStream

        # The SDK's own request path (transport, auth, errors, SSE decoding) with chunks left
        # as plain dicts: `chat.completions.create` would first walk the whole conversation
        # through its type-driven transform and then build a model object per chunk, which
        # doubled the CPU cost of a short turn (bench/http_bench.py).
        stream = await self._client.post("/chat/completions", body=request, cast_to=object,
                                         stream=True, stream_cls=AsyncStream[object])
        finish: str | None = None
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("usage"):
                    yield _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta")
                    if delta:
                        # Reasoning text is a non-standard field some compatible servers add.
                        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                        if isinstance(reasoning, str) and reasoning:
                            yield ReasoningDelta(reasoning)
                        if delta.get("content"):
                            yield TextDelta(delta["content"])
                        for tc in delta.get("tool_calls") or []:
                            fn = tc.get("function") or {}
                            yield ToolCallDelta(index=tc.get("index", 0), id=tc.get("id") or None,
                                                name=fn.get("name") or None,
                                                arguments=fn.get("arguments") or "")
                    if choice.get("finish_reason"):
                        finish = FINISH_REASONS.get(choice["finish_reason"], "other")
        finally:
            await stream.close()
        yield Finish(finish or "other")


