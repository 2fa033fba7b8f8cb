"""Named providers: where each one lives, which env var holds its key, and its default model.

Most hosted and local model servers speak the OpenAI chat-completions protocol, so they are
presets over one client (`openai_provider.py`) rather than separate integrations. A `baseURL`
in the agent config always overrides the preset's URL.
"""

from __future__ import annotations

from dataclasses import dataclass

# Which client implements a provider.
KIND_OPENAI = "openai"          # openai_provider.OpenAIClient
KIND_ANTHROPIC = "anthropic"    # anthropic_provider.AnthropicClient
KIND_ECHO = "echo"              # echo.EchoClient (offline test model)
KIND_LOCAL = "local"            # local_provider.LocalClient (llama.cpp, in process)
KIND_GOOGLE = "google"          # google_provider.GoogleClient (google-genai SDK)
KIND_VERTEX = "vertex"          # the same client on Vertex AI (project + location, ADC)
KIND_BEDROCK = "bedrock"        # bedrock_provider.BedrockClient (boto3, the [bedrock] extra)


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    kind: str
    base_url: str | None           # None: the user must give baseURL (or the SDK default applies)
    key_env: str | None            # env var holding the API key
    key_required: bool
    default_model: str | None      # None: the user must name a model
    base_url_env: str | None = None  # env var that may supply the base URL
    supports_base_url: bool = True


PRESETS: dict[str, Preset] = {p.id: p for p in [
    Preset("openai", "OpenAI", KIND_OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY", True,
           "gpt-4o-mini"),
    Preset("anthropic", "Anthropic", KIND_ANTHROPIC, "https://api.anthropic.com", "ANTHROPIC_API_KEY",
           True, "claude-haiku-4-5"),
    # A generic OpenAI-compatible server. Deliberately NOT keyed by OPENAI_API_KEY: that would
    # send the user's OpenAI key to whatever server baseURL points at.
    Preset("openai-compatible", "OpenAI-compatible", KIND_OPENAI, None, "OPENAI_COMPATIBLE_API_KEY",
           False, None, base_url_env="OPENAI_COMPATIBLE_BASE_URL"),
    Preset("openrouter", "OpenRouter", KIND_OPENAI, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
           True, "openai/gpt-4o-mini"),
    Preset("groq", "Groq", KIND_OPENAI, "https://api.groq.com/openai/v1", "GROQ_API_KEY", True,
           "llama-3.3-70b-versatile"),
    Preset("xai", "xAI", KIND_OPENAI, "https://api.x.ai/v1", "XAI_API_KEY", True, "grok-3-mini"),
    Preset("glama", "Glama", KIND_OPENAI, "https://glama.ai/api/gateway/openai/v1", "GLAMA_API_KEY",
           True, "openai/gpt-4o-mini"),
    # LiteLLM proxies are self-hosted; the key is whatever the proxy was configured with.
    Preset("litellm", "LiteLLM proxy", KIND_OPENAI, "http://127.0.0.1:4000/v1", "LITELLM_API_KEY",
           False, None, base_url_env="LITELLM_BASE_URL"),
    Preset("ollama", "Ollama", KIND_OPENAI, "http://127.0.0.1:11434/v1", None, False, "llama3.2",
           base_url_env="OLLAMA_BASE_URL"),
    # llama.cpp's server serves whatever model it was started with and ignores the name.
    Preset("llama-cpp", "llama.cpp server", KIND_OPENAI, "http://127.0.0.1:8080/v1", None, False,
           "default", base_url_env="LLAMA_CPP_BASE_URL"),
    Preset("vllm", "vLLM", KIND_OPENAI, "http://127.0.0.1:8000/v1", "VLLM_API_KEY", False, None,
           base_url_env="VLLM_BASE_URL"),
    # The SDK appends /v1beta/models/{model}:streamGenerateContent to this root.
    Preset("google", "Google Gemini", KIND_GOOGLE, "https://generativelanguage.googleapis.com",
           "GOOGLE_GENERATIVE_AI_API_KEY", True, "gemini-2.5-flash", base_url_env="GOOGLE_GEMINI_BASE_URL"),
    # Vertex AI: Google Cloud credentials (Application Default Credentials) and a project from
    # GOOGLE_VERTEX_PROJECT; or an API key (Vertex "express mode"). No base URL needed.
    Preset("vertex", "Google Vertex AI", KIND_VERTEX, None, "GOOGLE_VERTEX_API_KEY", False,
           "gemini-2.5-flash", base_url_env="GOOGLE_VERTEX_BASE_URL"),
    # Bedrock: the AWS credential chain and AWS_REGION; no key of ours, no base URL needed
    # (AWS_ENDPOINT_URL_BEDROCK_RUNTIME is the SDK's standard override).
    Preset("bedrock", "Amazon Bedrock", KIND_BEDROCK, None, None, False, "amazon.nova-lite-v1:0",
           base_url_env="AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
    # Hosted services through their documented OpenAI-compatible endpoints (chat completions
    # with streaming and tools); a baseURL overrides, e.g. for a regional endpoint.
    Preset("cohere", "Cohere", KIND_OPENAI, "https://api.cohere.ai/compatibility/v1", "COHERE_API_KEY",
           True, "command-a-03-2025"),
    Preset("minimax", "MiniMax", KIND_OPENAI, "https://api.minimax.io/v1", "MINIMAX_API_KEY", True,
           "MiniMax-M2"),
    Preset("glm", "GLM (Zhipu AI)", KIND_OPENAI, "https://open.bigmodel.cn/api/paas/v4", "ZHIPU_API_KEY",
           True, "glm-4.5"),
    # Dexto's own gateway (OpenRouter-style model ids, billed to a Dexto account).
    Preset("dexto-nova", "Dexto Nova", KIND_OPENAI, "https://api.dexto.ai/v1", "DEXTO_API_KEY", True,
           "anthropic/claude-haiku-4.5"),
    Preset("local", "Local (SmolLM2 in process)", KIND_LOCAL, None, None, False,
           "smollm2-135m-instruct", supports_base_url=False),
    Preset("echo", "Echo (offline test model)", KIND_ECHO, None, None, False, "echo",
           supports_base_url=False),
]}

SUPPORTED = tuple(PRESETS)


@dataclass(frozen=True)
class ResolvedLLM:
    """The outcome of provider resolution (see factory.resolve_llm). `api_key` is a secret:
    this object's repr hides it so it never ends up in a log line."""

    provider: str
    model: str
    api_key: str | None
    base_url: str | None
    notice: str | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return (f"ResolvedLLM(provider={self.provider!r}, model={self.model!r}, api_key=<{key}>, "
                f"base_url={self.base_url!r}, notice={self.notice!r})")

    @property
    def kind(self) -> str:
        preset = PRESETS.get(self.provider)
        return preset.kind if preset else KIND_OPENAI
