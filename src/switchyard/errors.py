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
