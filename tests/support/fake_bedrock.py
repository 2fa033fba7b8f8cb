"""The scripted fake LLM also speaking Amazon Bedrock's ConverseStream protocol, so the official
AWS SDK (boto3, `endpoint_url` set to `root_url`) talks to it unmodified:

* `POST /model/{modelId}/converse-stream` -> `application/vnd.amazon.eventstream`: binary
  event-stream frames (prelude with lengths and CRC32, `:event-type` / `:message-type` /
  `:content-type` string headers, a JSON payload, a message CRC32): messageStart,
  contentBlockStart (toolUse), contentBlockDelta (text / toolUse input / reasoningContent),
  contentBlockStop, messageStop (stopReason), metadata (usage).
* errors: a JSON `{message}` body with the `x-amzn-ErrorType` header (ThrottlingException for
  429, InternalServerException for 500, ValidationException for 400).

It serves the Gemini and OpenAI/Anthropic routes too (it extends FakeGemini), so one fake can
stand behind agents of every provider.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fake_gemini import FakeGemini, gemini_user_text
from tests.support.fake_llm_steps import Error, Step, Text, ToolCalls, last_user_text, split

_ERROR_TYPES = {429: "ThrottlingException", 400: "ValidationException", 403: "AccessDeniedException",
                503: "ServiceUnavailableException"}
_STOP = {"stop": "end_turn", "length": "max_tokens", "content-filter": "content_filtered"}


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One event-stream message (the AWS binary framing), for an `event` of `event_type`."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        raw = value.encode()
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            texts = [b["text"] for b in message.get("content") or [] if isinstance(b, dict) and b.get("text")]
            if texts:
                return " ".join(texts)
    return ""


def _any_default(body: dict[str, Any]) -> Step:
    """The default reply for any of the protocols this fake serves."""
    if "contents" in body:
        return Text(f"fake reply to: {gemini_user_text(body)}")
    return Text(f"fake reply to: {last_user_text(body) or bedrock_user_text(body)}")


class FakeBedrock(FakeGemini):
    def __init__(self, host: str = "127.0.0.1", **kwargs: Any) -> None:
        kwargs.setdefault("default", _any_default)
        super().__init__(host, **kwargs)
        self._app.router.routes.append(Route("/model/{rest:path}", self._bedrock, methods=["POST"]))

    async def _bedrock(self, request: Request) -> Response:
        if not request.path_params["rest"].endswith("/converse-stream"):
            return JSONResponse({"message": "only converse-stream is faked"}, status_code=404)
        body, step = await self._take(request)
        model = unquote(request.path_params["rest"].rsplit("/", 1)[0])
        self.requests[-1]["model"] = model
        if isinstance(step, Error):
            kind = _ERROR_TYPES.get(step.status, "InternalServerException")
            return JSONResponse({"message": step.message}, status_code=step.status,
                                headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/",
                                         **self._retry_headers(step)})
        usage = self._usage(step, body)
        return StreamingResponse(self._events(step, usage), media_type="application/vnd.amazon.eventstream")

    async def _events(self, step: Step, usage: tuple[int, int]) -> Any:
        yield frame("messageStart", {"role": "assistant"})
        index = 0
        if isinstance(step, Text) and step.reasoning:
            yield frame("contentBlockDelta", {"contentBlockIndex": index,
                                              "delta": {"reasoningContent": {"text": step.reasoning}}})
            yield frame("contentBlockStop", {"contentBlockIndex": index})
            index += 1
        text = getattr(step, "text", None)
        if text:
            pieces = [p async for p in step.pieces()] if isinstance(step, Text) else [text]
            for piece in pieces:
                yield frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
            yield frame("contentBlockStop", {"contentBlockIndex": index})
            index += 1
        stop = "end_turn"
        if isinstance(step, ToolCalls):
            for cid, name, args in step.calls:
                yield frame("contentBlockStart", {"contentBlockIndex": index,
                                                  "start": {"toolUse": {"toolUseId": cid, "name": name}}})
                for piece in split(args, step.arg_chunks):
                    yield frame("contentBlockDelta", {"contentBlockIndex": index,
                                                      "delta": {"toolUse": {"input": piece}}})
                yield frame("contentBlockStop", {"contentBlockIndex": index})
                index += 1
            stop = "tool_use"
        elif isinstance(step, Text):
            stop = _STOP.get(step.finish, "end_turn")
        yield frame("messageStop", {"stopReason": stop})
        yield frame("metadata", {"usage": {"inputTokens": usage[0], "outputTokens": usage[1],
                                           "totalTokens": sum(usage)}, "metrics": {"latencyMs": 1}})
