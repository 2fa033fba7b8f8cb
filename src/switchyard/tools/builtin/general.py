"""The `builtin-tools` family: ask_user, http_request, sleep, search_history.

- ask_user publishes an approval-style request (approval:request for tool `ask_user`, the
  question in its args) and waits for the answer over HTTP: POST /api/approvals/{id} with
  status approved and the answer in formData (tools/approval.py's coordinator).
- http_request goes through tools/url_guard.py (no loopback, private, link-local or metadata
  addresses unless allowedHosts says so; redirects re-checked; size and time caps).
- sleep waits, waking early when the call is cancelled.
- search_history searches the messages of the caller's own sessions of this agent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Literal

from pydantic import Field

from switchyard.config.tools_schema import BUILTIN_TOOL_NAMES, BuiltinToolsConfig
from switchyard.errors import ToolError
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext
from switchyard.tools.url_guard import safe_request, strip_credentials

FAMILY = "builtin-tools"
# (query, session id or None, role or None, limit, owner) -> matching messages
HistorySearch = Callable[[str, str | None, str | None, int, str | None], Awaitable[list[dict[str, Any]]]]


class AskUserInput(ToolInput):
    question: str = Field(min_length=1, description="The question to ask the user")
    schema_: dict[str, Any] | None = Field(None, alias="schema",
                                           description="Optional JSON schema of the answer's form fields")


class HttpRequestInput(ToolInput):
    url: str = Field(description="Absolute http(s) URL")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] | None = Field(None, description="Request headers")
    query: dict[str, str] | None = Field(None, description="Query parameters appended to the URL")
    body: str | dict[str, Any] | list[Any] | None = Field(None, description="Body: a string, or JSON")
    timeoutMs: int = Field(30_000, gt=0, le=120_000, description="Timeout in milliseconds")


class SleepInput(ToolInput):
    ms: int = Field(gt=0, le=600_000, description="Milliseconds to sleep (max 10 minutes)")


class SearchHistoryInput(ToolInput):
    query: str = Field(min_length=1, description="Text to look for (case-insensitive)")
    sessionId: str | None = Field(None, description="Only this session")
    role: Literal["user", "assistant", "tool"] | None = Field(None, description="Only messages of this role")
    limit: int = Field(20, gt=0, le=200, description="Maximum number of matches")


class GeneralTools:
    def __init__(self, config: BuiltinToolsConfig, approvals: Callable[[], Any],
                 search_history: HistorySearch | None) -> None:
        self.config = config
        self.approvals = approvals
        self.search = search_history

    def tools(self) -> list[BuiltinTool[Any]]:
        every = {
            "ask_user": BuiltinTool("ask_user", "Ask the user a question and wait for the answer (use when "
                                    "the request is ambiguous). `schema` describes form fields, if any.",
                                    AskUserInput, self.ask_user, family=FAMILY),
            "http_request": BuiltinTool("http_request", "Make an HTTP request to a public http(s) URL. "
                                        "Returns ok, status, statusText, headers, body and json when the "
                                        "body is JSON.", HttpRequestInput, self.http_request, family=FAMILY),
            "sleep": BuiltinTool("sleep", "Pause for a number of milliseconds.", SleepInput, self.sleep,
                                 family=FAMILY),
            "search_history": BuiltinTool("search_history", "Search the messages of your sessions with "
                                          "this agent. Returns sessionId, role, a snippet and the time of "
                                          "each match.", SearchHistoryInput, self.search_history, family=FAMILY),
        }
        enabled = self.config.enabledTools if self.config.enabledTools is not None else list(BUILTIN_TOOL_NAMES)
        if self.search is None:
            enabled = [n for n in enabled if n != "search_history"]
        return [every[name] for name in BUILTIN_TOOL_NAMES if name in enabled]

    async def ask_user(self, args: AskUserInput, context: ToolCallContext) -> dict[str, Any]:
        coordinator = self.approvals()
        if coordinator is None or context.session_id is None:
            raise ToolError("ask_user needs a session (no one could answer)")
        request = {"question": args.question}
        if args.schema_ is not None:
            request["schema"] = args.schema_
        outcome = await coordinator.request_input(context.session_id, "ask_user", context.call_id, request)
        if not outcome.approved:
            raise ToolError(f"the user did not answer ({outcome.reason}): {outcome.message}")
        return {"answered": True, "answer": outcome.form_data or {}}

    async def http_request(self, args: HttpRequestInput, context: ToolCallContext) -> dict[str, Any]:
        import httpx
        url = httpx.URL(args.url)
        if args.query:
            url = url.copy_merge_params(args.query)
        headers = dict(args.headers or {})
        content: bytes | None = None
        if isinstance(args.body, str):
            content = args.body.encode()
        elif args.body is not None:
            content = json.dumps(args.body).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        response = await safe_request(args.method, str(url), headers=headers, content=content,
                                      timeout=args.timeoutMs / 1000, max_bytes=self.config.maxResponseBytes,
                                      max_redirects=self.config.maxRedirects,
                                      allowed_hosts=self.config.allowedHosts)
        text = response.body.decode("utf-8", errors="replace")
        out: dict[str, Any] = {"ok": 200 <= response.status < 300, "status": response.status,
                               "statusText": response.reason, "headers": response.headers, "body": text,
                               "url": strip_credentials(response.url)}
        if "application/json" in response.headers.get("content-type", "").lower():
            try:
                out["json"] = json.loads(text)
            except ValueError:
                pass
        return out

    async def sleep(self, args: SleepInput, context: ToolCallContext) -> dict[str, Any]:
        try:
            await asyncio.wait_for(context.cancellation.wait(), args.ms / 1000)
        except asyncio.TimeoutError:
            return {"sleptMs": args.ms}
        raise ToolError("sleep was cancelled")

    async def search_history(self, args: SearchHistoryInput, context: ToolCallContext) -> dict[str, Any]:
        assert self.search is not None
        found = await self.search(args.query, args.sessionId, args.role, args.limit, context.owner)
        return {"matches": found, "count": len(found)}
