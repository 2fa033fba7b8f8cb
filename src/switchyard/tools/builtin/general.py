"""The `builtin-tools` family: ask_user, http_request, delegate_to_url, invoke_skill and
read_skill (skills.py), sleep, search_history, list_resources and get_resource (resources.py).

- ask_user publishes an approval-style request (approval:request for tool `ask_user`, the
  question in its args) and waits for the answer over HTTP: POST /api/approvals/{id} with
  status approved and the answer in formData (tools/approval.py's coordinator).
- http_request goes through tools/url_guard.py (no loopback, private, link-local or metadata
  addresses unless allowedHosts says so; redirects re-checked; size and time caps).
- delegate_to_url sends an A2A `message/send` (JSON-RPC) to another agent, through the same
  guard as http_request (so an agent on a private address needs allowedHosts).
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
from switchyard.ids import new_id
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.builtin.resources import ResourceTools
from switchyard.tools.builtin.skills import InvokeSkillInput, ReadSkillInput, SkillTools
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


class DelegateToUrlInput(ToolInput):
    url: str = Field(description='The A2A agent\'s URL (e.g. "http://agents.example.com" or ".../agents/<id>"); '
                                 "the JSON-RPC endpoint is appended")
    message: str = Field(min_length=1, description="The task for the other agent, in natural language")
    sessionId: str | None = Field(None, description="Continue an earlier delegation's conversation")
    timeout: int = Field(30_000, gt=0, le=600_000, description="Timeout in milliseconds")


class GeneralTools:
    def __init__(self, config: BuiltinToolsConfig, approvals: Callable[[], Any],
                 search_history: HistorySearch | None, skills: SkillTools | None = None,
                 resources: ResourceTools | None = None) -> None:
        self.config = config
        self.approvals = approvals
        self.search = search_history
        self.skills = skills
        self.resources = resources

    def tools(self) -> list[BuiltinTool[Any]]:
        skill_names = self.skills.names() if self.skills is not None else []
        every = {
            "ask_user": BuiltinTool("ask_user", "Ask the user a question and wait for the answer (use when "
                                    "the request is ambiguous). `schema` describes form fields, if any.",
                                    AskUserInput, self.ask_user, family=FAMILY),
            "http_request": BuiltinTool("http_request", "Make an HTTP request to a public http(s) URL. "
                                        "Returns ok, status, statusText, headers, body and json when the "
                                        "body is JSON.", HttpRequestInput, self.http_request, family=FAMILY),
            "delegate_to_url": BuiltinTool(
                "delegate_to_url", "Delegate a task to another A2A agent at a URL and return its answer. The "
                "result carries a sessionId: pass it again to continue the same conversation.",
                DelegateToUrlInput, self.delegate_to_url, family=FAMILY),
            "invoke_skill": BuiltinTool(
                "invoke_skill", "Invoke a skill to load specialized instructions for a task: when a task "
                "matches an available skill, or the user names one. Use the skill name exactly as listed. "
                f"Skills: {', '.join(skill_names) or 'none'}.", InvokeSkillInput,
                self._skill_call("invoke_skill"), family=FAMILY),
            "read_skill": BuiltinTool(
                "read_skill", "Read skill instructions or a file from a skill bundle (`path`). This is "
                "read-only and does not invoke the skill.", ReadSkillInput, self._skill_call("read_skill"),
                family=FAMILY),
            "sleep": BuiltinTool("sleep", "Pause for a number of milliseconds.", SleepInput, self.sleep,
                                 family=FAMILY),
            "search_history": BuiltinTool("search_history", "Search the messages of your sessions with "
                                          "this agent. Returns sessionId, role, a snippet and the time of "
                                          "each match.", SearchHistoryInput, self.search_history, family=FAMILY),
        }
        every.update(self.resources.tools() if self.resources is not None else {})
        enabled = self.config.enabledTools if self.config.enabledTools is not None else list(BUILTIN_TOOL_NAMES)
        if self.search is None:
            enabled = [n for n in enabled if n != "search_history"]
        enabled = [n for n in enabled if n in every]   # list/get_resource need the agent's catalog
        if not skill_names:   # offered only where the agent's folder holds skills when it starts
            enabled = [n for n in enabled if n not in ("invoke_skill", "read_skill")]
        return [every[name] for name in BUILTIN_TOOL_NAMES if name in enabled]

    def _skill_call(self, name: str) -> Callable[[Any, ToolCallContext], Awaitable[Any]]:
        async def call(args: Any, context: ToolCallContext) -> Any:
            assert self.skills is not None
            return await getattr(self.skills, name)(args, context)
        return call

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

    async def delegate_to_url(self, args: DelegateToUrlInput, context: ToolCallContext) -> dict[str, Any]:
        session = args.sessionId or f"delegation-{new_id()}"
        request = {"jsonrpc": "2.0", "id": new_id(), "method": "message/send", "params": {
            "message": {"role": "user", "kind": "message", "messageId": new_id(), "contextId": session,
                        "parts": [{"kind": "text", "text": args.message}]},
            "configuration": {"blocking": True}}}
        base = args.url.rstrip("/")
        failures = []
        for endpoint in (f"{base}/v1/jsonrpc", f"{base}/jsonrpc"):
            response = await safe_request("POST", endpoint, headers={"Content-Type": "application/json"},
                                          content=json.dumps(request).encode(), timeout=args.timeout / 1000,
                                          max_bytes=self.config.maxResponseBytes, max_redirects=0,
                                          allowed_hosts=self.config.allowedHosts)
            if response.status >= 400:
                failures.append(f"{strip_credentials(endpoint)}: HTTP {response.status}")
                continue
            try:
                body = json.loads(response.body)
            except ValueError:
                raise ToolError(f"{strip_credentials(endpoint)} did not answer JSON-RPC") from None
            if isinstance(body, dict) and body.get("error"):
                raise ToolError(f"the agent returned an error: {body['error'].get('message', body['error'])}")
            return {"success": True, "agentUrl": strip_credentials(args.url), "sessionId": session,
                    "response": _answer_text(body.get("result") if isinstance(body, dict) else body)}
        raise ToolError(f"no A2A endpoint answered at {strip_credentials(args.url)} ({'; '.join(failures)})")

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


def _answer_text(result: Any) -> str:
    """The text of an A2A result: a message's text parts, or the last agent message of a task
    (its history or its status message); the raw JSON otherwise."""
    if isinstance(result, dict):
        candidates = [result] if result.get("kind") == "message" else []
        history = [m for m in result.get("history") or [] if isinstance(m, dict) and m.get("role") == "agent"]
        status = (result.get("status") or {}).get("message")
        candidates += [*(history[-1:]), *([status] if isinstance(status, dict) else [])]
        for message in candidates:
            texts = [p.get("text", "") for p in message.get("parts") or [] if p.get("kind") == "text"]
            if texts:
                return "\n".join(texts)
        for artifact in result.get("artifacts") or []:
            texts = [p.get("text", "") for p in artifact.get("parts") or [] if p.get("kind") == "text"]
            if texts:
                return "\n".join(texts)
    return json.dumps(result)
