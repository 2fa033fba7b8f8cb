"""Amazon Bedrock (`bedrock`) via the official AWS SDK (boto3): the Converse API, streamed with
ConverseStream (AWS's binary event-stream framing, decoded by botocore).

Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws, SSO, container and instance roles; botocore also
honours AWS_BEARER_TOKEN_BEDROCK). The region is AWS_REGION / AWS_DEFAULT_REGION. boto3 is
synchronous: each blocking call (the request, then each event) runs in a worker thread. botocore's
own retries are off (one attempt); retry.py owns them. boto3 is the `[bedrock]` extra.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, AsyncIterator, Iterator

from switchyard.config.schema import LLMConfig

from .base import (Delta, Finish, ReasoningDelta, TextDelta, ToolCallDelta, ToolSpec, Usage, alternating_turns,
                   content_to_text)
from .presets import ResolvedLLM
from .reasoning import budget
from .retry import OnRetry, RetryingSDKClient, RetryPolicy

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool-calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content-filter",
    "content_filtered": "content-filter",
}
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}


class BedrockHTTPError(Exception):
    """A Bedrock error response in the shape retry.classify reads (status_code, response
    headers, body message)."""

    def __init__(self, status: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status_code = status
        self.message = message
        self.body = {"message": message}
        self.response = type("Response", (), {"headers": headers})()


def _translate(exc: Exception) -> Exception:
    """botocore's exceptions -> ones retry.classify understands."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        meta = exc.response.get("ResponseMetadata") or {}
        error = exc.response.get("Error") or {}
        status = meta.get("HTTPStatusCode") or (429 if "Throttling" in str(error.get("Code")) else 500)
        message = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
        return BedrockHTTPError(int(status), message, dict(meta.get("HTTPHeaders") or {}))
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)):
        return TimeoutError(str(exc))
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ConnectionError)):
        return ConnectionError(str(exc))
    return exc


def _image(part: dict[str, Any]) -> dict[str, Any] | None:
    data, mime = part.get("image"), part.get("mimeType")
    if isinstance(data, str) and data.startswith("data:") and ";base64," in data:
        header, data = data.split(",", 1)
        mime = header[5:].split(";")[0] or mime
    if isinstance(data, str) and data.startswith(("http://", "https://")):
        return None  # Converse takes bytes or S3 only
    raw = bytes(data) if isinstance(data, (bytes, bytearray)) else base64.b64decode(str(data))
    return {"image": {"format": _IMAGE_FORMATS.get(mime or "image/png", "png"), "source": {"bytes": raw}}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        block = _image(part) if isinstance(part, dict) and part.get("type") == "image" else None
        if block is None:
            text = content_to_text([part])
            block = {"text": text} if text else None
        if block:
            blocks.append(block)
    return blocks


def _tool_result(msg: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"toolUseId": msg.get("toolCallId") or "",
                              "content": [{"text": content_to_text(msg.get("content")) or "(no output)"}]}
    if msg.get("isError"):
        result["status"] = "error"
    return {"toolResult": result}


def to_converse_messages(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Returns (system texts, messages); tool results become `toolResult` blocks of a user turn
    and consecutive same-role turns are merged, as Converse wants them to alternate."""
    return alternating_turns(
        messages, blocks=_blocks,
        tool_use=lambda call, args: {"toolUse": {"toolUseId": call["id"], "name": call["function"]["name"],
                                                 "input": args}},
        tool_result=_tool_result)


class BedrockClient(RetryingSDKClient):
    """LLMClient for `bedrock`."""

    def __init__(self, resolved: ResolvedLLM, cfg: LLMConfig, *, region: str, on_retry: OnRetry | None = None,
                 retry_policy: RetryPolicy | None = None) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            from switchyard.errors import ConfigError
            raise ConfigError("provider 'bedrock' needs the AWS SDK: pip install 'switchyard[bedrock]'",
                              issues=[{"path": "llm.provider", "message": "install the [bedrock] extra"}]) from None
        super().__init__(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=cfg.timeout,
                        connect_timeout=min(cfg.timeout, 10.0))
        session = boto3.session.Session()
        self._client = session.client("bedrock-runtime", region_name=region,
                                      endpoint_url=resolved.base_url, config=config)
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            self._secrets = [s for s in (frozen.secret_key, frozen.token) if s]

    def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
               system: str | None = None) -> AsyncIterator[Delta]:
        systems, converted = to_converse_messages(messages)
        request: dict[str, Any] = {"modelId": self.model, "messages": converted}
        texts = ([system] if system else []) + systems
        if texts:
            request["system"] = [{"text": t} for t in texts]
        inference: dict[str, Any] = {}
        if self._cfg.maxOutputTokens:
            inference["maxTokens"] = self._cfg.maxOutputTokens
        thinking = budget(self._cfg.reasoning, 4096) if self._cfg.reasoning is not None else 0
        if thinking:
            # Claude on Bedrock: the Anthropic thinking block, passed through as-is.
            thinking = max(1024, thinking)
            request["additionalModelRequestFields"] = {"thinking": {"type": "enabled", "budget_tokens": thinking}}
            inference["maxTokens"] = max(inference.get("maxTokens", 0), thinking + 4096)
        elif self._cfg.temperature is not None:
            inference["temperature"] = self._cfg.temperature
        if inference:
            request["inferenceConfig"] = inference
        if tools:
            request["toolConfig"] = {"tools": [{"toolSpec": {
                "name": t.name, "description": t.description or t.name,
                "inputSchema": {"json": t.parameters or {"type": "object", "properties": {}}}}} for t in tools]}
        return self._with_retries(lambda: self._attempt(request))

    async def _attempt(self, request: dict[str, Any]) -> AsyncIterator[Delta]:
        try:
            response = await asyncio.to_thread(self._client.converse_stream, **request)
        except Exception as exc:
            raise _translate(exc) from None
        events: Iterator[dict[str, Any]] = iter(response["stream"])
        tool_index: dict[int, int] = {}
        finish = "other"
        try:
            while True:
                try:
                    event = await asyncio.to_thread(next, events, None)
                except Exception as exc:
                    raise _translate(exc) from None
                if event is None:
                    break
                if "contentBlockStart" in event:
                    start = event["contentBlockStart"]
                    tool = (start.get("start") or {}).get("toolUse")
                    if tool:
                        idx = tool_index.setdefault(start.get("contentBlockIndex", 0), len(tool_index))
                        yield ToolCallDelta(index=idx, id=tool.get("toolUseId"), name=tool.get("name"))
                elif "contentBlockDelta" in event:
                    body = event["contentBlockDelta"]
                    delta = body.get("delta") or {}
                    if delta.get("text"):
                        yield TextDelta(delta["text"])
                    elif "toolUse" in delta and body.get("contentBlockIndex") in tool_index:
                        yield ToolCallDelta(index=tool_index[body["contentBlockIndex"]],
                                            arguments=delta["toolUse"].get("input") or "")
                    elif (delta.get("reasoningContent") or {}).get("text"):
                        yield ReasoningDelta(delta["reasoningContent"]["text"])
                elif "messageStop" in event:
                    finish = STOP_REASONS.get(event["messageStop"].get("stopReason"), "other")
                elif "metadata" in event:
                    u = event["metadata"].get("usage") or {}
                    yield Usage(input_tokens=u.get("inputTokens") or 0, output_tokens=u.get("outputTokens") or 0,
                                cache_read_tokens=u.get("cacheReadInputTokens") or 0,
                                cache_write_tokens=u.get("cacheWriteInputTokens") or 0)
        finally:
            response["stream"].close()
        yield Finish(finish)

    async def aclose(self) -> None:
        self._client.close()
