"""The reference's agent files that name `google` (nano-banana-agent, telegram-bot) and agent
files naming bedrock and the cohere / minimax / glm / dexto-nova presets, served by the real `switchyard
serve` command and answering through a loopback fake that speaks each provider's wire protocol
(Gemini's streamGenerateContent SSE; Bedrock's ConverseStream event stream; OpenAI chat
completions for the presets). The nano-banana
agent also runs a tool call round trip: Gemini function call -> its stdio MCP server -> the
function response sent back to Gemini."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.support.cli_process import CliProcess, cli_env
from tests.support.fake_bedrock import FakeBedrock
from tests.support.fake_llm import ToolCalls, Text
from tests.support.net import free_port

DEMO_SERVER = str(Path(__file__).parents[1] / "support" / "mcp_servers" / "demo_server.py")
GOOGLE_KEY = "AIzaSyTestKeyNotReal0123456789abcdefgh"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# agents/nano-banana-agent/nano-banana-agent.yml, in the reference's shape; its MCP server
# (an npx package, not reachable offline) is the local demo server, given the key the same way.
NANO_BANANA = f"""\
# Agent for image generation with Gemini
systemPrompt: |
  You are an AI assistant specialized in image generation and editing.
mcpServers:
  nano_banana:
    type: stdio
    command: {sys.executable}
    args:
      - {DEMO_SERVER}
    connectionMode: strict
    env:
      GEMINI_API_KEY: $GOOGLE_GENERATIVE_AI_API_KEY
    timeout: 60000
toolConfirmation:
  mode: "auto-approve"
  allowedToolsStorage: "memory"
llm:
  provider: google
  model: gemini-2.5-flash
  apiKey: $GOOGLE_GENERATIVE_AI_API_KEY
storage:
  cache:
    type: in-memory
  database:
    type: sqlite
    path: .dexto/database/nano-banana-agent.db
"""

# examples/telegram-bot/agent-config.yml, in the reference's shape.
TELEGRAM = """\
llm:
  provider: google
  model: gemini-2.5-flash
  apiKey: $GOOGLE_GENERATIVE_AI_API_KEY
systemPrompt: |
  You are a friendly and helpful Telegram bot.
toolConfirmation:
  mode: auto-approve
  allowedToolsStorage: memory
storage:
  cache:
    type: in-memory
  database:
    type: sqlite
  blob:
    type: local
    maxBlobSize: 52428800
    maxTotalSize: 1073741824
    cleanupAfterDays: 30
greeting: "Welcome! I'm a Telegram bot."
prompts:
  - type: inline
    id: quick-start
    title: "Quick Start"
    description: "Learn what I can do"
    prompt: "Show me a few examples of what you can do."
    category: learning
    priority: 10
    showInStarters: true
"""

PRESETS = {"cohere": ("command-a-03-2025", "COHERE_API_KEY"), "minimax": ("MiniMax-M2", "MINIMAX_API_KEY"),
           "glm": ("glm-4.5", "ZHIPU_API_KEY"), "dexto-nova": ("anthropic/claude-haiku-4.5", "DEXTO_API_KEY")}


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    server = FakeBedrock().start()
    try:
        yield server
    finally:
        server.stop()


def test_reference_agents_naming_the_new_providers_start_and_answer(tmp_path, fake):
    agents = tmp_path / "agents"
    (agents / "nano-banana-agent").mkdir(parents=True)
    (agents / "nano-banana-agent" / "nano-banana-agent.yml").write_text(NANO_BANANA)
    (agents / "telegram-bot").mkdir()
    (agents / "telegram-bot" / "telegram-bot.yml").write_text(TELEGRAM)
    keys = {}
    for provider, (model, key_env) in PRESETS.items():
        keys[key_env] = f"{provider}-key-not-real-0123456789"
        (agents / f"{provider}-agent.yml").write_text(
            f"systemPrompt: You answer briefly.\n"
            f"llm:\n  provider: {provider}\n  model: {model}\n  apiKey: ${key_env}\n"
            f"  baseURL: $FAKE_OPENAI_URL\n")
    # bedrock: no key of ours; the AWS credential chain and region from the environment.
    (agents / "bedrock-agent.yml").write_text(
        "systemPrompt: You answer briefly.\nllm: {provider: bedrock, model: amazon.nova-lite-v1:0}\n")
    port = free_port()
    env = cli_env(tmp_path / "home", GOOGLE_GENERATIVE_AI_API_KEY=GOOGLE_KEY,
                  GOOGLE_GEMINI_BASE_URL=fake.root_url, FAKE_OPENAI_URL=fake.base_url,
                  SWITCHYARD_ROUTER_SEMANTIC="off", AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKE0000",
                  AWS_SECRET_ACCESS_KEY=AWS_SECRET, AWS_REGION="us-west-2",
                  AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.root_url, **keys)
    # In tmp_path: the nano-banana file keeps its database at a relative path.
    with CliProcess("serve", "--agents", str(agents), "--port", str(port), "--no-access-log", env=env,
                    cwd=str(tmp_path)) as server:
        server.wait_for("Switchyard is ready on")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            ids = {a["id"] for a in client.get("/api/agents").json()["agents"]}
            assert ids == {"nano-banana-agent", "telegram-bot", "bedrock-agent", *(f"{p}-agent" for p in PRESETS)}

            for agent_id in ["telegram-bot", "bedrock-agent", *(f"{p}-agent" for p in PRESETS)]:
                r = client.post("/api/message-sync", json={"content": f"hello {agent_id}", "agentId": agent_id})
                assert r.status_code == 200, (agent_id, r.text)
                assert r.json()["response"] == f"fake reply to: hello {agent_id}"
            gemini_calls = [q for q in fake.requests if q["path"].startswith("/v1beta/")]
            assert len(gemini_calls) == 1
            assert gemini_calls[0]["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
            assert gemini_calls[0]["headers"]["x-goog-api-key"] == GOOGLE_KEY
            [bedrock_call] = [q for q in fake.requests if q["path"].startswith("/model/")]
            assert bedrock_call["model"] == "amazon.nova-lite-v1:0"
            assert "/us-west-2/bedrock/aws4_request" in bedrock_call["headers"]["authorization"]
            preset_calls = [q for q in fake.requests if q["path"] == "/v1/chat/completions"]
            assert sorted(q["json"]["model"] for q in preset_calls) == sorted(m for m, _ in PRESETS.values())
            for q in preset_calls:
                provider = next(p for p, (m, _) in PRESETS.items() if m == q["json"]["model"])
                assert q["headers"]["authorization"] == f"Bearer {keys[PRESETS[provider][1]]}"

            # A tool call round trip through Gemini and the agent's MCP server.
            fake.reset()
            fake.script(ToolCalls([("x", "get_weather", {"city": "Paris"})]), Text("It is sunny in Paris."))
            r = client.post("/api/message-sync", json={"content": "weather in Paris?",
                                                        "agentId": "nano-banana-agent"})
            assert r.status_code == 200, r.text
            assert r.json()["response"] == "It is sunny in Paris."
            declared = [d["name"] for d in fake.requests[0]["json"]["tools"][0]["functionDeclarations"]]
            assert any(name.endswith("get_weather") for name in declared)
            second = fake.requests[1]["json"]["contents"]
            assert [c["role"] for c in second] == ["user", "model", "user"]
            response = second[2]["parts"][0]["functionResponse"]
            assert response["name"].endswith("get_weather")
            assert "Sunny in Paris" in json.dumps(response["response"])
        assert GOOGLE_KEY not in server.output and AWS_SECRET not in server.output
        assert "Traceback" not in server.output
