"""What /openapi.json says about the OpenAI-compatible routes. They read their bodies by hand
(OpenAI's error shape, OpenAI's status codes), so FastAPI cannot derive it: written here, kept
true by the fuzz run (tests/e2e/test_openapi_fuzz.py)."""

from __future__ import annotations

from typing import Any

from switchyard.server.response_models import OpenAIError

_ROLES = ["system", "developer", "user", "assistant", "tool"]
_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}, {"type": "null"}]}

CHAT_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1, "description": "an agent id, or `auto` to route"},
        "messages": {
            "type": "array", "minItems": 1,
            "description": "the conversation; the last message must be the user's (it is what the "
                           "agent answers), with some text or parts",
            "items": {"type": "object", "required": ["role"],
                      "properties": {"role": {"enum": _ROLES}, "content": _CONTENT}}},
        "stream": {"type": ["boolean", "null"]},
        "stream_options": {"type": ["object", "null"], "properties": {"include_usage": {"type": "boolean"}}},
        "user": {"type": "string", "description": "a session id to continue (as X-Session-Id)"},
        "n": {"enum": [1, None]},
        "tools": {"type": "array", "maxItems": 0, "description": "not supported: the agent's own tools are used"},
        "functions": {"type": "array", "maxItems": 0, "description": "not supported"},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"model": OpenAIError, "description": description}


CHAT_DOC: dict[str, Any] = {
    "openapi_extra": {"requestBody": {"required": True,
                                      "content": {"application/json": {"schema": CHAT_REQUEST}}}},
    "responses": {
        200: {"description": "A chat.completion, or with `stream: true` chat.completion.chunk SSE frames",
              "content": {"application/json": {"schema": {"type": "object"}},
                          "text/event-stream": {"schema": {"type": "string"}}}},
        400: _error("Bad Request: the body is not a valid chat completion request"),
        404: _error("Not Found: no such model (agent) or session"),
        409: _error("Conflict: the session is busy"),
        502: _error("Bad Gateway: the agent's model provider failed"),
        503: _error("Service Unavailable: the replicas' shared state (Redis) is unreachable; no turn started"),
    },
}

MODEL_DOC: dict[str, Any] = {"responses": {404: _error("Not Found: no such model (agent)")}}
