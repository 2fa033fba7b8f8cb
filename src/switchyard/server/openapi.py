"""/openapi.json: FastAPI's document of the app's routes, corrected to what the server answers.

- Fast routes are documented through their documentation-only twins (plain_routes.py).
- A documented response model replaces the schema FastAPI derives from the handler's return
  annotation (`dict[str, Any]`, kept because FastAPI serialises a dict through it several
  times faster than without any response field).
- Validation errors are answered 400 with the error envelope (server/errors.py), never 422:
  FastAPI's 422 entries become 400 entries, and its validation schemas are dropped.
- Every protected operation can be refused by the security middleware: 401 (no or a bad
  key), 403 (a missing scope) and 429 (a limit), in the same envelope; public ones are
  marked `security: []`. Each can also answer 503 (a database failure, a full session pool or
  provider queue), and each with a body 400 (the JSON body check).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from switchyard.server.routes import route_specs

def _error(description: str, model: str = "ErrorEnvelope") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    from switchyard.server.schemas import ErrorEnvelope

    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=[*app.routes, *app.state.doc_routes])
    _document_mounts(app, schema)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in (ErrorEnvelope,):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer",
                       "description": "An API key: Authorization: Bearer <api-key>"}}
    schema["security"] = [{"bearerAuth": []}]

    public = {(m, s.path) for s in route_specs(app) if s.scope == "public" for m in s.methods}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                for media in (response.get("content") or {}).values():
                    schema_ = media.get("schema") or {}
                    if "$ref" in schema_ and len(schema_) > 1:
                        media["schema"] = {"$ref": schema_["$ref"]}
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _error("Bad Request: the body or a parameter is invalid"))
            if "requestBody" in operation:
                responses.setdefault("400", _error("Bad Request: the body is not valid JSON or not valid"))
                responses.setdefault("413", _error("Payload Too Large: the body is over the size limit"))
                responses.setdefault("415", _error("Unsupported Media Type: the body is not JSON"))
            if (method.upper(), path) in public:
                operation["security"] = []
                operation["responses"] = dict(sorted(responses.items()))
                continue
            responses.setdefault("401", _error("Unauthorized: no API key, or not a valid one"))
            responses.setdefault("403", _error("Forbidden: the API key lacks the route's scope"))
            responses.setdefault("429", _error("Too Many Requests: a rate or run limit"))
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                # The JSON body check (security/json_guard.py) sits in front of every route.
                responses.setdefault("400", _error("Bad Request: the body is invalid (e.g. nested too deep, "
                                                   "a lone surrogate, an integer over 20 digits)"))
            responses.setdefault("503", _error("Service Unavailable: the database failed, or a pool the "
                                               "request needs is full; retry after Retry-After"))
            operation["responses"] = dict(sorted(responses.items()))
    return schema


_MCP_DOC = ("MCP over streamable HTTP (the official `mcp` SDK): JSON-RPC 2.0 messages in, JSON or an "
            "SSE stream out, the `Mcp-Session-Id` header carrying the session after `initialize`. "
            "Tools: `chat_with_agent {message, sessionId?}`; resources: the agent card. Protocol "
            "errors are JSON-RPC error objects; the HTTP statuses are the SDK's.")
_MCP_RESPONSES = {
    "200": {"description": "A JSON-RPC response (application/json) or an SSE stream of them",
            "content": {"application/json": {"schema": {"type": "object"}},
                        "text/event-stream": {"schema": {"type": "string"}}}},
    "202": {"description": "Accepted (a notification or a response sent by the client)"},
    "400": {"description": "Bad Request: not a JSON-RPC message, or a missing session id",
            "content": {"application/json": {"schema": {"type": "object"}}}},
    "404": {"description": "Unknown MCP session (or agent)",
            "content": {"application/json": {"schema": {"type": "object"}}}},
    "405": {"description": "Method Not Allowed (e.g. GET streams are not offered)",
            "content": {"application/json": {"schema": {"type": "object"}}}},
    "406": {"description": "Not Acceptable: Accept must list application/json and text/event-stream",
            "content": {"application/json": {"schema": {"type": "object"}}}},
    "413": _error("Payload Too Large: the body is over the size limit"),
    "415": {"description": "Unsupported Media Type: the body must be application/json",
            "content": {"application/json": {"schema": {"type": "object"}}}},
}


def _document_mounts(app: FastAPI, schema: dict[str, Any]) -> None:
    """The MCP endpoints are raw ASGI mounts, outside FastAPI's routes: describe them here so
    that the document lists every path the server answers."""
    for spec in route_specs(app):
        if spec.kind != "mount":
            continue
        parameters = [{"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
                      ] if "{agent_id}" in spec.path else []
        operations = schema.setdefault("paths", {}).setdefault(spec.path, {})
        for method in spec.methods:
            operation: dict[str, Any] = {
                "tags": ["mcp"], "summary": f"MCP (streamable HTTP): {method}", "description": _MCP_DOC,
                "operationId": f"mcp_{method.lower()}_{spec.path.strip('/').replace('/', '_')}",
                # GET (the server's stream) and DELETE (the end of a session) name a session.
                "parameters": [*parameters, {"name": "Mcp-Session-Id", "in": "header",
                                             "required": method != "POST", "schema": {"type": "string"}}],
                "responses": dict(_MCP_RESPONSES)}
            if method == "POST":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "description": "A JSON-RPC 2.0 message or batch"}}}}
            operations[method.lower()] = operation


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
