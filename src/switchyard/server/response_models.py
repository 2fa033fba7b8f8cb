"""Response bodies of the main routes, for /openapi.json.

They document what the handlers return (the reference's shapes); they are not applied to each
response (no per-request re-validation, no reordering of keys). tests/test_server_openapi.py
validates real answers against them, so a handler that drifts from its model fails a test.
Models allow extra fields: the reference adds fields over time and clients ignore unknown ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- messages ------------------------------------------------------------------------------

class TokenUsage(_Body):
    inputTokens: int | None = None
    outputTokens: int | None = None
    totalTokens: int | None = None


class MessageAccepted(_Body):
    accepted: Literal[True]
    sessionId: str


class MessageSyncResult(_Body):
    response: str
    sessionId: str
    tokenUsage: TokenUsage | None = None
    messageId: str | None = None
    model: str | None = None
    provider: str | None = None
    reasoning: str | None = None
    finishReason: str | None = None
    agentId: str
    routing: dict[str, Any] | None = None


class SessionBusy(_Body):
    busy: Literal[True]
    sessionId: str | None
    queueLength: int
    hint: str


class ResetResult(_Body):
    status: str
    sessionId: str


# --- sessions ------------------------------------------------------------------------------

class SessionMetadata(_Body):
    id: str
    createdAt: int
    lastActivity: int
    messageCount: int
    title: str | None = None
    tokenUsage: dict[str, Any] | None = None
    workspaceId: str | None = None
    parentSessionId: str | None = None
    agentId: str | None = None


class SessionList(_Body):
    sessions: list[SessionMetadata]


class SessionResult(_Body):
    session: SessionMetadata


class SessionDetail(SessionMetadata):
    history: int


class SessionDetailResult(_Body):
    session: SessionDetail


class SessionDeleted(_Body):
    status: Literal["deleted"]
    sessionId: str


class HistoryMessage(_Body):
    role: str
    content: Any = None


class SessionHistory(_Body):
    history: list[HistoryMessage]
    isBusy: bool


class CancelResult(_Body):
    cancelled: bool
    sessionId: str
    queueCleared: bool
    clearedCount: int


class SessionLoad(_Body):
    session: dict[str, Any]
    usageSummary: dict[str, Any]
    activeUsageScopeId: str | None = None
    activeUsageScope: Any = None


# --- llm -----------------------------------------------------------------------------------

class LLMPublicConfig(_Body):
    """A model configuration as the API shows it: never the key, only whether there is one."""

    provider: str
    model: str
    hasApiKey: bool
    baseURL: str | None = None
    maxIterations: int | None = None
    maxInputTokens: int | None = None
    maxOutputTokens: int | None = None
    temperature: float | None = None
    reasoning: dict[str, Any] | None = None
    displayName: str | None = None


class LLMCurrent(_Body):
    config: LLMPublicConfig
    routing: dict[str, Any]


class LLMSwitched(_Body):
    config: LLMPublicConfig
    sessionId: str | None = None


class CatalogModel(_Body):
    name: str
    displayName: str | None = None
    maxInputTokens: int | None = None
    supportedFileTypes: list[str]
    default: bool | None = None
    provider: str | None = None    # in the flat mode


class CatalogProvider(_Body):
    name: str
    hasApiKey: bool
    primaryEnvVar: str | None = None
    supportsBaseURL: bool
    models: list[CatalogModel]
    supportedFileTypes: list[str]


class LLMCatalog(_Body):
    """`mode=grouped` (default): `providers`; `mode=flat`: `models`."""

    providers: dict[str, CatalogProvider] | None = None
    models: list[CatalogModel] | None = None


class LLMCapabilities(_Body):
    """What a model takes (file types) and how `llm.reasoning` applies to it."""

    provider: str
    model: str
    supportedFileTypes: list[str]
    reasoning: dict[str, Any]


# --- agents --------------------------------------------------------------------------------

class AgentRef(_Body):
    id: str
    name: str


class AgentEntry(AgentRef):
    description: str | None = None
    type: str


class AgentList(_Body):
    agents: list[AgentEntry]
    installed: list[AgentEntry]
    available: list[AgentEntry]
    current: AgentRef


class RoutingDecision(_Body):
    agentId: str
    confidence: float
    layer: str
    reason: str
    sticky: bool
    fallback: bool
    latencyMs: float
    ranked: list[dict[str, Any]]


class Greeting(_Body):
    greeting: str | None = None


# --- approvals, tools, MCP servers -----------------------------------------------------------

class ApprovalList(_Body):
    ok: bool
    approvals: list[dict[str, Any]]


class ApprovalAnswered(_Body):
    ok: bool
    approvalId: str
    status: str


class ToolEntry(_Body):
    id: str
    name: str
    description: str
    source: Literal["builtin", "local", "mcp"]
    serverName: str | None = None
    inputSchema: dict[str, Any] | None = None


class ToolList(_Body):
    tools: list[ToolEntry]
    totalCount: int
    localCount: int
    mcpCount: int


class PromptList(_Body):
    prompts: list[dict[str, Any]]


class ResourceList(_Body):
    ok: bool | None = None
    success: bool | None = None
    resources: list[dict[str, Any]]


class OpenAIErrorDetail(_Body):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(_Body):
    """The OpenAI-compatible endpoints' error body (OpenAI's shape, which its SDKs read)."""

    error: OpenAIErrorDetail


class MCPServerInfo(_Body):
    id: str
    name: str
    status: str
    error: str | None = None


class MCPServerList(_Body):
    servers: list[MCPServerInfo]


class MCPServerStatus(_Body):
    status: str
    name: str | None = None
    id: str | None = None
    error: str | None = None


class MCPServerConfig(_Body):
    name: str
    config: dict[str, Any]


class MCPServerTools(_Body):
    tools: list[dict[str, Any]]


class MCPToolResult(_Body):
    success: bool
    data: dict[str, Any] | None = None
    error: str | None = None
