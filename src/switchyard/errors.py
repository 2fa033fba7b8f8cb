"""The one error taxonomy of Switchyard.

SwitchyardError
├── UserError            what the caller did wrong (maps to 4xx)
│   ├── ConfigError      an agent YAML that does not validate (file, field path, expectation)
│   ├── RequestError     a request that does not validate (400)
│   ├── NotFoundError    an unknown session, agent, server, approval (404)
│   ├── ConflictError    a busy session, a duplicate (409)
│   ├── ForbiddenError   a missing scope (403)
│   └── LimitError       over a configured limit (400 unless a status is given: 429 for a
│                        caller over its share, 503 for a server at capacity; Retry-After)
└── RuntimeFailure       what failed at run time (maps to 5xx)
    ├── LLMError         a provider failed (names provider, status, message; never the key)
    ├── ToolError        a tool failed (goes back to the model, never crashes a run)
    └── StoreError       persistence failed

The HTTP layer maps these to one JSON envelope `{code, message, details?}` in one place.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Any


class SwitchyardError(Exception):
    """Base of every error Switchyard raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class UserError(SwitchyardError):
    status = 400
    code = "bad_request"


class ConfigError(UserError):
    """An agent configuration problem. `issues` lists every problem found, each naming
    the file, the field path and what was expected."""

    code = "config_invalid"

    def __init__(self, message: str, *, issues: list[dict[str, Any]] | None = None,
                 file: str | None = None) -> None:
        super().__init__(message, details={"issues": issues or []})
        self.issues = issues or []
        self.file = file

    def __str__(self) -> str:
        if not self.issues:
            return self.message
        lines = [self.message]
        for issue in self.issues:
            where = issue.get("path") or "(top level)"
            lines.append(f"  {issue.get('file') or self.file or '<config>'}: {where}: {issue['message']}")
        return "\n".join(lines)


class RequestError(UserError):
    code = "validation_failed"


class NotFoundError(UserError):
    status = 404
    code = "not_found"


class ConflictError(UserError):
    status = 409
    code = "conflict"


class ForbiddenError(UserError):
    status = 403
    code = "forbidden"


class LimitError(UserError):
    """Over a limit. `retry_after` (seconds) when waiting helps: the HTTP layer sends it as
    Retry-After (with status 429 or 503)."""

    code = "limit_exceeded"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code, details=details, status=status)
        self.retry_after = retry_after


class RuntimeFailure(SwitchyardError):
    status = 500
    code = "runtime_error"


class LLMError(RuntimeFailure):
    """A provider failed after retries. Carries provider and upstream status; the message
    never contains the API key (providers are responsible for redacting before raising)."""

    status = 502
    code = "llm_error"

    def __init__(self, message: str, *, provider: str, upstream_status: int | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message, details={"provider": provider, "status": upstream_status})
        self.provider = provider
        self.upstream_status = upstream_status
        self.retryable = retryable

    def __str__(self) -> str:
        status = f" (status {self.upstream_status})" if self.upstream_status else ""
        return f"{self.provider}{status}: {self.message}"


class ToolError(RuntimeFailure):
    """Raised by a tool to fail with a message meant for the model: the turn sends back
    "Tool <name> failed: <message>" as the tool's result and the run goes on."""

    code = "tool_error"


class StoreError(RuntimeFailure):
    """The database failed us: it could not be opened or migrated (`store_unavailable`), was
    used before `open()` (`store_not_open`), or carries a schema revision this version does not
    know (`store_schema_unknown`). A missing row is not a StoreError: an unknown session is a
    NotFoundError (`session_not_found`)."""

    code = "store_error"


# --- validation errors, as people read them -------------------------------------------------

# Where a request's part lives (FastAPI's first `loc` element): not part of the field path.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})
# Steps pydantic adds to a `loc` for the branch of a union it tried ("str", "list[...]",
# "tagged-union[TextPart,ImagePart]", "function-after[...]", a model's name): its internals,
# not a field of the request.
_INTERNAL_STEP = re.compile(r"^(?:str|int|float|bool|bytes|none|list|dict|tuple|set|"
                            r"[a-z-]+\[.*\]|[A-Z][A-Za-z0-9]*|"
                            r"(?:constrained|function|json|lax|nullable|tagged|default|definition|"
                            r"model|typed|chain)-[a-z-]+)$")
_MESSAGES = {
    "missing": "field required",
    "extra_forbidden": "unknown field",
    "union_tag_invalid": "unknown type",
    "model_attributes_type": "expected an object",
    "dict_type": "expected an object",
}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "content", "list[tagged-union[...]]", 0, "text")` -> `content[0].text`."""
    path = ""
    tag_next = False    # a discriminated union puts the tag's value after it (and any index)
    for position, step in enumerate(loc):
        if isinstance(step, int):
            path += f"[{step}]"
            continue
        step = str(step)
        # Only the first step names the request part: a body field may itself be called
        # `path` or `query` (POST /api/workspaces/active {path}).
        if position == 0 and step in _REQUEST_PARTS:
            continue
        if _INTERNAL_STEP.match(step):
            tag_next = tag_next or "tagged-union[" in step
            continue
        if tag_next:
            tag_next = False
            continue
        path += f".{step}" if path else step
    return path


def validation_issues(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's error list as `[{path, message}]`: field paths without pydantic's branch
    names, messages without its URLs or the offending input (it may be a secret), and one
    entry per path (the branches of a union each complained: their messages are joined)."""
    merged: dict[str, list[str]] = {}
    for err in errors:
        path = field_path(tuple(err.get("loc", ()))) or "(body)"
        kind = err.get("type", "")
        message = _MESSAGES.get(kind) or str(err.get("msg", "invalid")).split("\n")[0]
        if kind == "union_tag_invalid":
            expected = (err.get("ctx") or {}).get("expected_tags")
            message = f"unknown type; expected one of {expected}" if expected else message
        seen = merged.setdefault(path, [])
        if message not in seen:
            seen.append(message)
    # A union's other branches complain at the field itself ("should be a valid string") when
    # the branch that fits has a deeper problem: keep the deeper one.
    deeper = [p for p in merged if any(o != p and (o.startswith(p + ".") or o.startswith(p + "["))
                                       for o in merged)]
    return [{"path": path, "message": " or ".join(messages)} for path, messages in merged.items()
            if path not in deeper]
