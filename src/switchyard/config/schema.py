"""The agent YAML, as pydantic models that mirror the Dexto agent format field for field.

Attribute names are the YAML's own (camelCase) so that a field path in an error is the path
the user wrote. Every model forbids unknown fields; fields the reference format knows but
Switchyard does not implement yet are listed in `UNIMPLEMENTED` per model and are removed
with one warning each before validation (see loader.py), so real Dexto files load unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchyard.config.resources_schema import ResourceConfig
from switchyard.config.tools_schema import ToolFamilyConfig

# Providers the reference format names, plus Switchyard's own: echo (offline, deterministic),
# and presets for local OpenAI-compatible servers.
REFERENCE_PROVIDERS = (
    "openai", "openai-compatible", "anthropic", "google", "groq", "xai", "cohere", "minimax",
    "glm", "openrouter", "litellm", "glama", "vertex", "bedrock", "local", "ollama", "dexto-nova",
)
SWITCHYARD_PROVIDERS = ("echo", "llama-cpp", "vllm")
ProviderName = Literal[REFERENCE_PROVIDERS + SWITCHYARD_PROVIDERS]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- system prompt ---------------------------------------------------------------------

class StaticContributor(Strict):
    id: str
    type: Literal["static"]
    priority: int = 0
    enabled: bool = True
    content: str


class DynamicContributor(Strict):
    id: str
    type: Literal["dynamic"]
    priority: int = 10
    enabled: bool = True
    source: Literal["date", "env", "resources"]


class FileContributorOptions(Strict):
    includeFilenames: bool = True
    separator: str = "\n\n---\n\n"
    errorHandling: Literal["skip", "error"] = "skip"
    maxFileSize: int = Field(100_000, gt=0)
    includeMetadata: bool = False


class FileContributor(Strict):
    id: str
    type: Literal["file"]
    priority: int = 20
    enabled: bool = True
    files: list[str] = Field(min_length=1)
    options: FileContributorOptions = Field(default_factory=FileContributorOptions)


Contributor = Annotated[Union[StaticContributor, DynamicContributor, FileContributor],
                        Field(discriminator="type")]


class SystemPromptConfig(Strict):
    contributors: list[Contributor] = Field(default_factory=list)


# --- llm -------------------------------------------------------------------------------

class ReasoningConfig(Strict):
    """How hard a thinking model thinks: a preset, or an explicit token budget (which wins
    where the provider takes a budget). Mapped per provider in switchyard.llm."""

    # off|low|medium|high|max|xhigh in the reference; other names mean the provider's default.
    variant: str = Field("medium", min_length=1)
    budgetTokens: int | None = Field(None, ge=0)


class LLMConfig(Strict):
    UNIMPLEMENTED: ClassVar[tuple[str, ...]] = ("allowedMediaTypes",)

    provider: ProviderName | None = None  # None: detect from the environment (see llm.factory)
    model: str | None = None
    apiKey: str | None = None
    baseURL: str | None = None
    maxIterations: int = Field(16, ge=1, le=1000)
    maxInputTokens: int | None = Field(None, gt=0)
    maxOutputTokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=1)
    # Switchyard's own: request timeout in seconds and bounded retries.
    timeout: float = Field(60.0, gt=0)
    maxRetries: int = Field(2, ge=0, le=10)
    reasoning: ReasoningConfig | None = None

    @field_validator("baseURL")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def public_dict(self) -> dict[str, Any]:
        """The config as the API shows it: never the key, only whether there is one."""
        data = self.model_dump(exclude_none=True, exclude={"apiKey"})
        data["hasApiKey"] = bool(self.apiKey)
        return data


# --- MCP servers -----------------------------------------------------------------------

class _MCPCommon(Strict):
    enabled: bool = True
    timeout: int = Field(30_000, gt=0, description="milliseconds")
    connectionMode: Literal["lenient", "strict"] = "lenient"


class StdioServerConfig(_MCPCommon):
    type: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class HttpServerConfig(_MCPCommon):
    type: Literal["http", "sse"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


MCPServerConfig = Annotated[Union[StdioServerConfig, HttpServerConfig], Field(discriminator="type")]


def infer_mcp_type(raw: Any) -> Any:
    """Older agent files leave `type` out: a `command` means stdio, a `url` means http."""
    if isinstance(raw, dict) and "type" not in raw:
        if "command" in raw:
            return {**raw, "type": "stdio"}
        if "url" in raw:
            return {**raw, "type": "http"}
    return raw


# --- storage ---------------------------------------------------------------------------

class InMemoryDatabase(Strict):
    type: Literal["in-memory"]


class SqliteDatabase(Strict):
    type: Literal["sqlite"]
    path: str | None = None
    database: str | None = None  # the reference's file name inside its data folder


class PostgresDatabase(Strict):
    UNIMPLEMENTED: ClassVar[tuple[str, ...]] = ("keyPrefix", "maxConnections", "options")

    type: Literal["postgres"]
    url: str | None = None
    connectionString: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _has_target(self) -> "PostgresDatabase":
        if not (self.url or self.connectionString or self.host):
            raise ValueError("postgres needs `url`, `connectionString` or `host`")
        return self

    def dsn(self) -> str:
        if self.url or self.connectionString:
            return (self.url or self.connectionString)  # type: ignore[return-value]
        auth = self.user or ""
        if self.password:
            auth += f":{self.password}"
        if auth:
            auth += "@"
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{auth}{self.host}{port}/{self.database or 'postgres'}"


DatabaseConfig = Annotated[Union[InMemoryDatabase, SqliteDatabase, PostgresDatabase],
                           Field(discriminator="type")]


class InMemoryCache(Strict):
    type: Literal["in-memory"]


class RedisCache(Strict):
    UNIMPLEMENTED: ClassVar[tuple[str, ...]] = ("maxConnections", "options")

    type: Literal["redis"]
    url: str | None = None
    host: str | None = None
    port: int | None = None
    password: str | None = None
    database: int | None = None

    def redis_url(self) -> str:
        if self.url:
            return self.url
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host or '127.0.0.1'}:{self.port or 6379}/{self.database or 0}"


CacheConfig = Annotated[Union[InMemoryCache, RedisCache], Field(discriminator="type")]


class StorageConfig(Strict):
    UNIMPLEMENTED: ClassVar[tuple[str, ...]] = ("blob",)

    database: DatabaseConfig | None = None  # None: sqlite under SWITCHYARD_HOME
    cache: CacheConfig = Field(default_factory=lambda: InMemoryCache(type="in-memory"))


# --- sessions, permissions -------------------------------------------------------------

class SessionsConfig(Strict):
    maxSessions: int = Field(100, ge=1)
    sessionTTL: int = Field(3_600_000, gt=0, description="milliseconds")


class ToolPolicies(Strict):
    alwaysAllow: list[str] = Field(default_factory=list)
    alwaysDeny: list[str] = Field(default_factory=list)


class PermissionsConfig(Strict):
    mode: Literal["manual", "auto-approve", "auto-deny"] = "auto-approve"
    timeout: int | None = Field(None, gt=0, description="milliseconds")
    allowedToolsStorage: Literal["memory", "storage"] = "storage"
    toolPolicies: ToolPolicies = Field(default_factory=ToolPolicies)


# --- card, memories, prompts, routing ---------------------------------------------------

class AgentCardConfig(BaseModel):
    """Overrides for the A2A card. The card has many optional fields; they pass through."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    description: str | None = None
    version: str | None = None
    url: str | None = None


class MemoriesConfig(Strict):
    enabled: bool = False
    priority: int = 40
    includeTimestamps: bool = False
    includeTags: bool = True
    limit: int | None = Field(None, gt=0)
    pinnedOnly: bool = False
    # Switchyard's own: offer the model the memory_* tools (tools/memory_tools.py).
    tools: bool = False


class InlinePrompt(Strict):
    type: Literal["inline"]
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str | None = None
    description: str = ""
    prompt: str
    category: str = "general"
    priority: int = 0
    showInStarters: bool = False
    user_invocable: bool = Field(True, alias="user-invocable")


class FilePrompt(Strict):
    type: Literal["file"]
    file: str
    showInStarters: bool = False
    user_invocable: bool | None = Field(None, alias="user-invocable")
    namespace: str | None = None


PromptConfig = Annotated[Union[InlinePrompt, FilePrompt], Field(discriminator="type")]


class RoutingConfig(Strict):
    """Switchyard's own: how the router recognises messages for this agent."""

    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    # This agent takes the messages that fit no other agent (when no --fallback is given).
    fallback: bool = False


class SummaryLLMConfig(Strict):
    """The model that writes compaction summaries (Switchyard's own `compaction.llm`): the
    agent's `llm` with these fields replaced; naming another provider drops the agent's
    apiKey and baseURL (they belong to its own provider)."""

    provider: ProviderName | None = None
    model: str = Field(min_length=1)
    apiKey: str | None = None
    baseURL: str | None = None
    maxInputTokens: int | None = Field(None, gt=0)
    timeout: float | None = Field(None, gt=0)
    _http_url = field_validator("baseURL")(LLMConfig._http_url.__func__)  # type: ignore[attr-defined]


class CompactionConfig(Strict):
    """How a conversation that outgrows the model's context window is made to fit
    (runtime/compaction.py): `reactive-overflow` summarises its oldest part with the agent's
    model (or `llm`, a cheaper one); `noop` (or `enabled: false`) leaves the older turns out
    of the request instead."""

    type: Literal["reactive-overflow", "noop"] = "reactive-overflow"
    enabled: bool = True
    # The window to fit in, overriding llm.maxInputTokens and the model catalog.
    maxContextTokens: int | None = Field(None, gt=0)
    # Compact when the request would exceed this fraction of the window.
    thresholdPercent: float = Field(0.9, ge=0.1, le=1.0)
    # The last turns (from a user message on) kept verbatim when they fit.
    preserveLastNTurns: int = Field(2, ge=0)
    maxSummaryTokens: int = Field(2000, gt=0)
    # Instructions for the model that writes the summary, replacing Switchyard's own.
    summaryPrompt: str | None = Field(None, min_length=1)
    # The model that writes the summaries; None: the session's own.
    llm: SummaryLLMConfig | None = None


# --- the agent -------------------------------------------------------------------------

class AgentConfig(Strict):
    UNIMPLEMENTED: ClassVar[tuple[str, ...]] = (
        "telemetry", "image", "hooks", "agentFile", "logger", "elicitation",
        "plugins", "internalResources",
    )

    agentId: str = Field("default-agent", min_length=1, max_length=100,
                         pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    systemPrompt: str | SystemPromptConfig = ""
    llm: LLMConfig = Field(default_factory=LLMConfig)
    mcpServers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    greeting: str | None = Field(None, max_length=500)
    agentCard: AgentCardConfig | None = None
    memories: MemoriesConfig = Field(default_factory=MemoriesConfig)
    prompts: list[PromptConfig] = Field(default_factory=list)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    tools: list[ToolFamilyConfig] = Field(default_factory=list)
    compaction: CompactionConfig = Field(default_factory=CompactionConfig)
    resources: list[ResourceConfig] = Field(default_factory=list)   # config/resources_schema.py

    @field_validator("mcpServers", mode="before")
    @classmethod
    def _infer_types(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: infer_mcp_type(raw) for name, raw in value.items()}
        return value

    @property
    def name(self) -> str:
        return (self.agentCard.name if self.agentCard and self.agentCard.name else self.agentId)

    @property
    def description(self) -> str:
        if self.agentCard and self.agentCard.description:
            return self.agentCard.description
        return self.routing.description or ""
