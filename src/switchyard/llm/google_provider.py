"""Google Gemini (`google`) via the official `google-genai` SDK: streamGenerateContent over SSE.

The SDK's own retries are off (its default, no `retry_options`); retry.py owns them, as for the
other providers. The SDK is pointed at `base_url` explicitly so that GOOGLE_GEMINI_BASE_URL in
the environment cannot redirect our key, and the key is always passed so it never falls back
to GOOGLE_API_KEY / GEMINI_API_KEY from the environment.

Gemini returns whole function calls (not fragments) and, on thinking models, a
`thoughtSignature` with each call that must be sent back with it on the next request; the
client keeps the signatures of the calls it produced, keyed by call id.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import OrderedDict
from typing import Any, AsyncIterator

from switchyard.config.schema import LLMConfig

from .base import (Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, ToolSpec, Usage, alternating_turns,
                   content_to_text)
from .presets import ResolvedLLM
from .reasoning import budget
from .retry import OnRetry, RetryingSDKClient, RetryPolicy

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content-filter",
    "RECITATION": "content-filter",
    "BLOCKLIST": "content-filter",
    "PROHIBITED_CONTENT": "content-filter",
    "SPII": "content-filter",
    "IMAGE_SAFETY": "content-filter",
    "IMAGE_PROHIBITED_CONTENT": "content-filter",
    "MALFORMED_FUNCTION_CALL": "error",
}

_KEEP_SIGNATURES = 2048


def _inline(data: Any, mime: str | None, default_mime: str) -> dict[str, Any]:
    if isinstance(data, (bytes, bytearray)):
        return {"inline_data": {"mime_type": mime or default_mime, "data": bytes(data)}}
    data = str(data)
    if data.startswith(("http://", "https://")):
        return {"file_data": {"file_uri": data, "mime_type": mime or default_mime}}
    if data.startswith("data:") and ";base64," in data:
        header, data = data.split(",", 1)
        mime = header[5:].split(";")[0] or mime
    return {"inline_data": {"mime_type": mime or default_mime, "data": base64.b64decode(data)}}


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image":
            parts.append(_inline(part.get("image"), part.get("mimeType"), "image/png"))
        elif isinstance(part, dict) and part.get("type") == "file" and part.get("data"):
            parts.append(_inline(part.get("data"), part.get("mimeType"), "application/pdf"))
        else:
            text = content_to_text([part])
            if text:
                parts.append({"text": text})
    return parts


def to_gemini_contents(messages: list[dict[str, Any]], signatures: dict[str, bytes] | None = None
                       ) -> tuple[str | None, list[dict[str, Any]]]:
    """Returns (system instruction, contents). Roles become user/model; tool results become
    `function_response` parts in a user turn, named after the call they answer; consecutive
    same-role turns are merged (several results of one step form one turn)."""
    signatures = signatures or {}
    call_names: dict[str, str] = {}

    def function_call(call: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        name = call["function"]["name"]
        call_names[call["id"]] = name
        part: dict[str, Any] = {"function_call": {"name": name, "args": args}}
        if call["id"] in signatures:
            part["thought_signature"] = signatures[call["id"]]
        return part

    def function_response(msg: dict[str, Any]) -> dict[str, Any]:
        name = call_names.get(msg.get("toolCallId") or "") or msg.get("name") or "tool"
        key = "error" if msg.get("isError") else "output"
        return {"function_response": {"name": name, "response": {key: content_to_text(msg.get("content"))}}}

    systems, out = alternating_turns(messages, blocks=_parts, tool_use=function_call,
                                     tool_result=function_response, assistant_role="model", key="parts")
    return ("\n\n".join(systems) or None), out


def to_gemini_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"function_declarations": [
        {"name": t.name, "description": t.description,
         "parameters_json_schema": t.parameters or {"type": "object", "properties": {}}}
        for t in tools]}]


def _usage(meta: Any) -> Usage:
    prompt = getattr(meta, "prompt_token_count", None) or 0
    output = getattr(meta, "candidates_token_count", None) or 0
    thoughts = getattr(meta, "thoughts_token_count", None) or 0
    return Usage(input_tokens=prompt, output_tokens=output + thoughts, reasoning_tokens=thoughts,
                 cache_read_tokens=getattr(meta, "cached_content_token_count", None) or 0)


def thinking_config(cfg: LLMConfig) -> dict[str, Any] | None:
    """Gemini's thinkingConfig for llm.reasoning (a budget of -1 lets the model decide)."""
    if cfg.reasoning is None:
        return None
    tokens = budget(cfg.reasoning, -1)
    return {"include_thoughts": tokens != 0, "thinking_budget": tokens}


class GoogleClient(RetryingSDKClient):
    """LLMClient for `google` (the Gemini API) and, with `vertexai=True`, `vertex`."""

    def __init__(self, resolved: ResolvedLLM, cfg: LLMConfig, *, on_retry: OnRetry | None = None,
                 retry_policy: RetryPolicy | None = None, vertex: dict[str, Any] | None = None) -> None:
        from google import genai  # heavy; imported only when this provider is used

        super().__init__(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
        http_options: dict[str, Any] = {"timeout": int(cfg.timeout * 1000)}
        if resolved.base_url:
            http_options["base_url"] = resolved.base_url
        if vertex is None:
            # v1beta: where the Gemini API has function calling with JSON schema, thinking and
            # every current model (the SDK's default version changes between releases).
            http_options["api_version"] = "v1beta"
        if vertex is not None:
            self._client = genai.Client(vertexai=True, http_options=http_options, **vertex)
        else:
            self._client = genai.Client(api_key=resolved.api_key, http_options=http_options)
        self._signatures: OrderedDict[str, bytes] = OrderedDict()

    def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
               system: str | None = None) -> AsyncIterator[Delta]:
        system_text, contents = to_gemini_contents(messages, dict(self._signatures))
        if system:
            system_text = system + ("\n\n" + system_text if system_text else "")
        config: dict[str, Any] = {}
        if system_text:
            config["system_instruction"] = system_text
        if tools:
            config["tools"] = to_gemini_tools(tools)
            # Our tool loop runs the calls; the SDK must not call Python functions itself.
            config["automatic_function_calling"] = {"disable": True}
        if self._cfg.temperature is not None:
            config["temperature"] = self._cfg.temperature
        if self._cfg.maxOutputTokens:
            config["max_output_tokens"] = self._cfg.maxOutputTokens
        thinking = thinking_config(self._cfg)
        if thinking is not None:
            config["thinking_config"] = thinking
        return self._with_retries(lambda: self._attempt(contents, config))

    def _remember(self, call_id: str, signature: bytes | None) -> None:
        if signature:
            self._signatures[call_id] = signature
            while len(self._signatures) > _KEEP_SIGNATURES:
                self._signatures.popitem(last=False)

    async def _attempt(self, contents: list[dict[str, Any]], config: dict[str, Any]) -> AsyncIterator[Delta]:
        from google.genai import types

        # Typed objects, not dicts: the SDK converts nested dicts' keys to the wire's camelCase
        # only through its models.
        stream = await self._client.aio.models.generate_content_stream(
            model=self.model, contents=[types.Content.model_validate(c) for c in contents],
            config=types.GenerateContentConfig.model_validate(config))
        finish: str | None = None
        calls = 0
        usage = None
        try:
            async for chunk in stream:
                if chunk.usage_metadata is not None:
                    usage = chunk.usage_metadata  # cumulative: the last one counts
                for candidate in chunk.candidates or []:
                    for part in (candidate.content.parts if candidate.content else None) or []:
                        if part.function_call is not None:
                            call_id = part.function_call.id or f"call_{uuid.uuid4().hex[:24]}"
                            self._remember(call_id, part.thought_signature)
                            yield ToolCallDelta(index=calls, id=call_id, name=part.function_call.name,
                                                arguments=json.dumps(part.function_call.args or {}))
                            calls += 1
                        elif part.text:
                            yield ReasoningDelta(part.text) if part.thought else TextDelta(part.text)
                    if candidate.finish_reason is not None:
                        reason = getattr(candidate.finish_reason, "value", str(candidate.finish_reason))
                        finish = FINISH_REASONS.get(reason, "other")
                feedback = chunk.prompt_feedback
                if feedback is not None and feedback.block_reason is not None:
                    finish = "content-filter"
        finally:
            # Release the HTTP response now, also when our consumer stops early.
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
        if usage is not None:
            yield _usage(usage)
        if calls and finish == "stop":
            finish = "tool-calls"  # Gemini says STOP after function calls
        yield Finish(finish or "other")

    async def aclose(self) -> None:
        await self._client.aio.aclose()
