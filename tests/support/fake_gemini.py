"""The scripted fake LLM (fake_llm.py), also speaking Google's Gemini REST protocol, so the
official `google-genai` SDK talks to it unmodified (its `http_options.base_url` set to
`root_url`):

* Gemini API  `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`  (key in x-goog-api-key)
* Vertex AI   `POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent?alt=sse`
  (a bearer token from Google credentials), or `/v1beta1/publishers/google/models/...` with a key
* OAuth2      `POST /token` (JWT-bearer or refresh-token grant), for a `service_account`
  credentials file whose `token_uri` points here, so Application Default Credentials work offline

Streamed answers are `data: {GenerateContentResponse}` SSE events: text parts (and `thought`
parts for reasoning), whole `functionCall` parts, `finishReason` on the last candidate and
cumulative `usageMetadata`. Errors use Google's `{error: {code, message, status}}` body.
The same steps as the OpenAI/Anthropic fake (Text, ToolCalls, Error, Broken, Delay).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fake_llm import FakeLLM, _Dropped
from tests.support.fake_llm_steps import Broken, Error, Step, Text, ToolCalls, last_user_text, split

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content-filter": "SAFETY"}


def gemini_user_text(body: dict[str, Any]) -> str:
    """The last user text of a generateContent body."""
    for content in reversed(body.get("contents") or []):
        if content.get("role") == "user":
            texts = [p["text"] for p in content.get("parts") or [] if p.get("text")]
            if texts:
                return " ".join(texts)
    return ""


def _gemini_default(body: dict[str, Any]) -> Step:
    """The default reply for either protocol (this fake serves the OpenAI routes too)."""
    text = gemini_user_text(body) if "contents" in body else last_user_text(body)
    return Text(f"fake reply to: {text}")


class FakeGemini(FakeLLM):
    """FakeLLM with the Gemini / Vertex routes. `requests[i]["path"]` is the URL path."""

    def __init__(self, host: str = "127.0.0.1", **kwargs: Any) -> None:
        kwargs.setdefault("default", _gemini_default)
        super().__init__(host, **kwargs)
        self._app.router.routes.extend([
            Route("/v1beta/{rest:path}", self._gemini, methods=["POST"]),
            Route("/v1beta1/{rest:path}", self._gemini, methods=["POST"]),
            Route("/v1/{rest:path}", self._gemini, methods=["POST"]),
            Route("/token", self._token, methods=["POST"]),
        ])
        self.tokens_issued = 0

    async def _token(self, request: Request) -> Response:
        """An OAuth2 token endpoint, for Google credentials whose `token_uri` points here."""
        form = await request.form()
        grants = {"refresh_token": "refresh_token",
                  "urn:ietf:params:oauth:grant-type:jwt-bearer": "assertion"}
        needed = grants.get(str(form.get("grant_type")))
        if needed is None or not form.get(needed):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.tokens_issued += 1
        return JSONResponse({"access_token": "ya29.fake-access-token", "expires_in": 3600,
                             "token_type": "Bearer"})

    async def _gemini(self, request: Request) -> Response:
        body, step = await self._take(request)
        self.requests[-1]["query"] = request.url.query
        if isinstance(step, Error):
            return JSONResponse({"error": {"code": step.status, "message": step.message,
                                           "status": _STATUS.get(step.status, "UNKNOWN")}},
                                status_code=step.status, headers=self._retry_headers(step))
        usage = self._usage(step, body)
        model = request.path_params["rest"].rsplit("/", 1)[-1].split(":")[0]
        return StreamingResponse(self._sse(step, model, usage), media_type="text/event-stream")

    async def _sse(self, step: Step, model: str, usage: tuple[int, int]) -> Any:
        def event(parts: list[dict[str, Any]], finish: str | None = None,
                  meta: dict[str, Any] | None = None) -> str:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            data: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                                    "responseId": "fake-response"}
            if meta:
                data["usageMetadata"] = meta
            return f"data: {json.dumps(data)}\r\n\r\n"

        thoughts = len(step.reasoning.split()) if isinstance(step, Text) and step.reasoning else 0
        meta = {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
                "totalTokenCount": sum(usage) + thoughts}
        if thoughts:
            meta["thoughtsTokenCount"] = thoughts
        if isinstance(step, Broken):
            for piece in split(step.text, step.chunks)[:step.after_chunks]:
                yield event([{"text": piece}])
            await asyncio.sleep(0.05)
            raise _Dropped()
        if isinstance(step, Text):
            if step.reasoning:
                yield event([{"text": step.reasoning, "thought": True}])
            pieces = [piece async for piece in step.pieces()]
            for piece in pieces[:-1]:
                yield event([{"text": piece}])
            yield event([{"text": pieces[-1] if pieces else ""}], _FINISH.get(step.finish, "OTHER"), meta)
        elif isinstance(step, ToolCalls):
            if step.text:
                yield event([{"text": step.text}])
            parts = [{"functionCall": {"name": name, "args": json.loads(args or "{}")},
                      "thoughtSignature": "c2lnLW9mLQ=="} for _, name, args in step.calls]
            # The Gemini API sends function calls whole, and says STOP after them.
            yield event(parts, "STOP", meta)
