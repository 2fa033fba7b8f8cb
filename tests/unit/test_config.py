"""The agent YAML: loading, env expansion, unimplemented fields, clear errors, validate CLI."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from switchyard.config import load_agent, parse_agent
from switchyard.config.schema import PostgresDatabase, SqliteDatabase, StdioServerConfig
from switchyard.errors import ConfigError


def write(tmp_path, text: str, name: str = "agent.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


FULL_REFERENCE_EXAMPLE = """
agentId: support-agent
greeting: "Hi! How can I help?"
systemPrompt:
  contributors:
    - {id: primary, type: static, priority: 0, content: "You are a helpful support agent."}
    - {id: date, type: dynamic, priority: 10, source: date}
    - id: faq
      type: file
      priority: 20
      files: ["${{dexto.agent_dir}}/docs/faq.md"]
      options: {includeFilenames: true, errorHandling: skip}
llm:
  provider: anthropic
  model: claude-sonnet-4-5-20250929
  apiKey: $ANTHROPIC_API_KEY
  maxIterations: 30
  maxOutputTokens: 8192
  temperature: 0.3
  reasoning: {variant: enabled, budgetTokens: 4000}
mcpServers:
  filesystem: {type: stdio, command: npx, args: [-y, "@modelcontextprotocol/server-filesystem", "."]}
  remote: {type: http, url: "https://mcp.example.com/mcp", headers: {Authorization: "Bearer $REMOTE_TOKEN"}, connectionMode: strict}
storage:
  cache: {type: redis, url: $REDIS_URL}
  database: {type: postgres, url: $DATABASE_URL}
  blob: {type: local, storePath: ./data/blobs, maxBlobSize: 52428800}
sessions: {maxSessions: 100, sessionTTL: 3600000}
permissions:
  mode: manual
  timeout: 120000
  allowedToolsStorage: storage
  toolPolicies: {alwaysAllow: [ask_user, "mcp--read_file"]}
elicitation: {enabled: true}
memories: {enabled: true, limit: 10}
tools:
  - {type: builtin-tools, enabledTools: [ask_user, web_search, http_request]}
resources:
  - {type: filesystem, paths: ["."], maxFiles: 50}
prompts:
  - {type: inline, id: quick-start, title: "Quick start", prompt: "Show me what you can do", showInStarters: true}
hooks:
  - {type: content-policy, maxInputChars: 50000, redactEmails: true}
compaction: {type: reactive-overflow, thresholdPercent: 0.9, preserveLastNTurns: 2}
agentCard:
  name: Support Agent
  description: Answers product questions
  version: 1.0.0
  url: http://localhost:3001/mcp
"""

ENV = {"ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdef", "REMOTE_TOKEN": "tok123",
       "REDIS_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "postgresql://u@127.0.0.1/db"}


def test_the_reference_example_loads_with_one_warning_per_unimplemented_field(tmp_path):
    path = write(tmp_path, FULL_REFERENCE_EXAMPLE)
    loaded = load_agent(path, env=ENV, log_warnings=False)
    config = loaded.config
    assert config.agentId == "support-agent"
    assert config.llm.provider == "anthropic"
    assert config.llm.apiKey == ENV["ANTHROPIC_API_KEY"]
    assert config.llm.maxIterations == 30
    assert isinstance(config.mcpServers["filesystem"], StdioServerConfig)
    assert config.mcpServers["remote"].headers == {"Authorization": "Bearer tok123"}
    assert isinstance(config.storage.database, PostgresDatabase)
    assert config.storage.database.dsn() == ENV["DATABASE_URL"]
    assert config.permissions.mode == "manual"
    assert config.name == "Support Agent"
    faq = config.systemPrompt.contributors[2]
    assert faq.files == [f"{tmp_path}/docs/faq.md"]
    flagged = sorted(w.split("`")[1] for w in loaded.warnings)
    assert flagged == sorted(["elicitation", "tools[0].enabledTools", "hooks", "storage.blob"])
    assert config.resources[0].paths == ["."] and config.resources[0].maxFiles == 50
    assert len(loaded.warnings) == len(set(loaded.warnings))


def test_tool_types_name_each_enabled_family_once():
    loaded = parse_agent({"agentId": "a", "tools": [{"type": "scheduler-tools"}, {"type": "process-tools"},
                                                     {"type": "scheduler-tools"}]}, env={})
    assert loaded.tool_types == ("scheduler-tools", "process-tools")
    assert loaded.warnings == []
    off = parse_agent({"agentId": "a", "tools": [{"type": "scheduler-tools", "enabled": False}]}, env={})
    assert off.tool_types == () and off.warnings == []


def test_warnings_are_logged_once_each(tmp_path, caplog):
    path = write(tmp_path, "agentId: a\ntelemetry: {enabled: true}\nlogger: {level: info}\n")
    with caplog.at_level(logging.WARNING, logger="switchyard.config"):
        load_agent(path, env={})
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert any("`telemetry`" in m for m in messages) and any("`logger`" in m for m in messages)


@pytest.mark.parametrize("text, expected", [
    ("llm: {apiKey: $NOPE_KEY}", ("llm.apiKey", "$NOPE_KEY")),
    ("llm: {baseURL: '${NOPE_URL}/v1'}", ("llm.baseURL", "$NOPE_URL")),
    ("mcpServers: {fs: {command: x, env: {T: $NOPE_T}}}", ("mcpServers.fs.env.T", "$NOPE_T")),
])
def test_a_missing_variable_is_an_error_naming_it_and_the_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_agent(path, env={})
    issue = info.value.issues[0]
    assert issue["path"] == expected[0]
    assert expected[1] in issue["message"]
    assert str(path) in str(info.value)


def test_variable_defaults_and_both_spellings_expand():
    loaded = parse_agent({"llm": {"model": "${MODEL:-gpt-x}", "apiKey": "$KEY", "baseURL": "http://${HOST}/v1"}},
                         env={"KEY": "k1", "HOST": "127.0.0.1:9"})
    assert loaded.config.llm.model == "gpt-x"
    assert loaded.config.llm.apiKey == "k1"
    assert loaded.config.llm.baseURL == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("raw, path, fragment", [
    ({"bogusField": 1}, "bogusField", "unknown field"),
    ({"llm": {"provider": "openai", "temprature": 0.5}}, "llm.temprature", "unknown field"),
    ({"llm": {"temperature": 3}}, "llm.temperature", "less than or equal to 1"),
    ({"llm": {"provider": "skynet"}}, "llm.provider", "expected"),
    ({"llm": {"maxIterations": 0}}, "llm.maxIterations", "greater than or equal to 1"),
    ({"mcpServers": {"fs": {"type": "stdio"}}}, "mcpServers.fs.command", "Field required"),
    ({"mcpServers": {"web": {"type": "http", "url": "ftp://x"}}}, "mcpServers.web.url", "http"),
    ({"mcpServers": {"x": {"type": "carrier-pigeon"}}}, "mcpServers.x", "carrier-pigeon"),
    ({"storage": {"database": {"type": "mongodb"}}}, "storage.database", "mongodb"),
    ({"sessions": {"maxSessions": -1}}, "sessions.maxSessions", "greater than or equal to 1"),
    ({"permissions": {"mode": "yolo"}}, "permissions.mode", "yolo"),
    ({"greeting": "x" * 501}, "greeting", "at most 500"),
    ({"systemPrompt": {"contributors": [{"id": "a", "type": "static"}]}}, "systemPrompt.contributors[0].content", "required"),
    ({"compaction": {"llm": {"provider": "openai"}}}, "compaction.llm.model", "required"),
    ({"compaction": {"llm": {"model": "m", "provider": "skynet"}}}, "compaction.llm.provider", "expected"),
    ({"compaction": {"llm": {"model": "m", "baseURL": "ftp://x"}}}, "compaction.llm.baseURL", "http"),
    ({"compaction": {"llm": {"model": "m", "maxIterations": 3}}}, "compaction.llm.maxIterations", "unknown field"),
])
def test_invalid_fields_name_their_path(raw, path, fragment):
    with pytest.raises(ConfigError) as info:
        parse_agent(raw, source="x.yml", env={})
    issues = info.value.issues
    assert any(i["path"] == path and fragment.lower() in i["message"].lower() for i in issues), issues
    assert all(i["file"] == "x.yml" for i in issues)


def test_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, "agentId: a\nllm: {provider: openai\n")
    with pytest.raises(ConfigError) as info:
        load_agent(path, env={})
    assert "line" in str(info.value) and str(path) in str(info.value)


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_agent(write(tmp_path, "- a\n- b\n"), env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_agent(tmp_path / "nope.yml", env={})


def test_older_files_without_mcp_type_and_tool_confirmation(tmp_path):
    loaded = parse_agent({"mcpServers": {"a": {"command": "node", "args": ["s.js"]},
                                         "b": {"url": "http://127.0.0.1:1/mcp"}},
                          "toolConfirmation": {"mode": "manual"}}, env={})
    assert loaded.config.mcpServers["a"].type == "stdio"
    assert loaded.config.mcpServers["b"].type == "http"
    assert loaded.config.permissions.mode == "manual"
    assert any("toolConfirmation" in w for w in loaded.warnings)


def test_defaults_bounded_loop_and_sqlite_paths(tmp_path):
    config = parse_agent({}, env={}).config
    assert config.llm.maxIterations == 16
    assert config.storage.database is None
    assert config.sessions.maxSessions == 100 and config.sessions.sessionTTL == 3_600_000
    sqlite = parse_agent({"storage": {"database": {"type": "sqlite", "path": str(tmp_path / "db")}}}, env={}).config
    assert isinstance(sqlite.storage.database, SqliteDatabase)


def test_the_bundled_default_agent_loads_cleanly():
    loaded = load_agent(None, env={})
    assert loaded.config.agentId == "default-agent"
    assert loaded.warnings == []
    assert loaded.config.llm.provider is None  # detected from the environment


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_validate_command(tmp_path):
    good = write(tmp_path, "agentId: ok\nllm: {provider: echo}\ntelemetry: {enabled: true}\n", "good.yml")
    result = _cli("validate", str(good))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "telemetry" in result.stderr

    bad = write(tmp_path, "agentId: bad\nllm: {temperature: 9}\nextra: 1\n", "bad.yml")
    result = _cli("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}: llm.temperature:" in result.stderr
    assert f"{bad}: extra: unknown field" in result.stderr


def test_help_and_version_are_fast_and_light():
    result = _cli("--version")
    assert result.returncode == 0 and "switchyard 0.1.0" in result.stdout
    # --help must not import the heavy stacks (SDKs, FastAPI, SQLAlchemy).
    probe = subprocess.run([sys.executable, "-c",
                            "import sys; from switchyard.cli import _parser; _parser().format_help();"
                            "heavy=[m for m in ('openai','anthropic','fastapi','sqlalchemy','mcp','a2a','uvicorn') if m in sys.modules];"
                            "print(heavy)"], capture_output=True, text=True, timeout=30)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
