"""A real agents folder on disk served as `switchyard serve --agents DIR` serves it, for the
agent config and agent management tests (tests/e2e/test_agent_config_api.py,
test_agents_manage_api.py). The agents talk to the scripted fake LLM over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.support.live_server import LiveServer

DEMO_MCP = str(Path(__file__).parent / "mcp_servers" / "demo_server.py")
ENV_KEY_VALUE = "fake-key-VALUE-from-env-6d1f"      # FAKE_LLM_KEY: resolved, never shown
MCP_TOKEN = "tok-plain-SECRET-7a2e9c"              # a literal secret in the agent file


def llm_block(fake: Any) -> str:
    return (f"llm: {{provider: openai-compatible, model: fake-model, baseURL: '{fake.base_url}', "
            "apiKey: $FAKE_LLM_KEY}")


def support_yaml(fake: Any, db: Path, prompt: str = "You are the support agent. Version one.") -> str:
    return f"""# The support agent (this comment is kept)
agentCard: {{name: Support, description: Answers support questions}}
systemPrompt: {prompt}
{llm_block(fake)}
storage: {{database: {{type: sqlite, path: '{db}'}}}}
mcpServers:
  demo:
    type: stdio
    command: {sys.executable}
    args: ['{DEMO_MCP}']
    env: {{NOTES_TOKEN: {MCP_TOKEN}}}
"""


def billing_yaml(fake: Any, db: Path) -> str:
    return f"""systemPrompt: You are the billing agent.
{llm_block(fake)}
storage: {{database: {{type: sqlite, path: '{db}'}}}}
"""


def make_folder(tmp_path: Path, fake: Any) -> Path:
    folder = tmp_path / "agents"
    (folder / "support").mkdir(parents=True)
    (folder / "support" / "support.yml").write_text(support_yaml(fake, tmp_path / "support.db"))
    (folder / "billing.yml").write_text(billing_yaml(fake, tmp_path / "billing.db"))
    return folder


def serve_folder(folder: Path, default_agent: str | None = "support", *, with_folder: bool = True) -> LiveServer:
    """The folder's agents checked and hosted as `switchyard serve --agents DIR` does."""

    def factory() -> Any:
        from switchyard.runtime.agent_files import load_agents
        from switchyard.server.app import create_app
        from switchyard.server.runner import build_host
        loaded, _notes = load_agents(folder=str(folder))
        host = build_host(loaded, default_agent)
        host.folder = str(folder) if with_folder else None
        return create_app(host, shutdown_grace=3)

    return LiveServer(factory)
