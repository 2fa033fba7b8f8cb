"""Which values of an agent configuration are secrets, and the redacted views of a file and
of an effective configuration (config/secrets.py)."""

from __future__ import annotations

import yaml

from switchyard.config.secrets import placeholders, redact_tree, redact_yaml_text, secret_literals

FILE = """# kept comment
llm:
  provider: openai
  apiKey: sk-live-SECRET-1   # inline comment kept
  maxOutputTokens: 4000
mcpServers:
  fs: {type: stdio, command: npx, env: {TOKEN: env-SECRET-2, HOME_DIR: $HOME}}
  web:
    type: http
    url: https://user:url-SECRET-3@mcp.example/mcp
    headers:
      Authorization: |
        Bearer block-SECRET-4
storage: {database: {type: postgres, url: "postgres://me:db-SECRET-5@h/db"}}
compaction: {maxSummaryTokens: 2000}
"""


def test_the_file_text_is_redacted_in_place():
    text = redact_yaml_text(FILE)
    for n in range(1, 6):
        assert f"SECRET-{n}" not in text
    assert text.startswith("# kept comment\n") and "# inline comment kept" in text
    data = yaml.safe_load(text)
    assert data["llm"] == {"provider": "openai", "apiKey": "[REDACTED]", "maxOutputTokens": 4000}
    # A reference is not a secret, even where every value is one.
    assert data["mcpServers"]["fs"]["env"] == {"TOKEN": "[REDACTED]", "HOME_DIR": "$HOME"}
    assert data["mcpServers"]["web"]["url"] == "https://user:[REDACTED]@mcp.example/mcp"
    assert data["mcpServers"]["web"]["headers"]["Authorization"] == "[REDACTED]"
    assert data["storage"]["database"]["url"] == "postgres://me:[REDACTED]@h/db"
    assert data["compaction"] == {"maxSummaryTokens": 2000}


def test_text_that_is_not_yaml_is_still_redacted_line_by_line():
    text = redact_yaml_text("llm:\n  apiKey: sk-broken-SECRET\n  model: [unclosed\n")
    assert "sk-broken-SECRET" not in text and "model: [unclosed" in text


def test_secret_literals_and_placeholders_name_their_paths():
    raw = yaml.safe_load(FILE)
    assert secret_literals(raw) == ["llm.apiKey", "mcpServers.fs.env.TOKEN", "mcpServers.web.headers.Authorization"]
    assert placeholders(yaml.safe_load(redact_yaml_text(FILE)))[:2] == ["llm.apiKey", "mcpServers.fs.env.TOKEN"]
    assert placeholders(raw) == []


def test_an_effective_config_shows_environment_values_as_their_references():
    raw = {"llm": {"apiKey": "$OPENAI_API_KEY", "baseURL": "${BASE}/v1"}, "mcpServers": {"x": {"env": {"A": "lit"}}},
           "tools": [{"path": "${HOME}/work"}]}
    effective = {"llm": {"apiKey": "sk-resolved", "baseURL": "http://internal:8080/v1", "model": "m"},
                 "mcpServers": {"x": {"env": {"A": "lit"}}}, "tools": [{"path": "/home/me/work"}]}
    shown = redact_tree(effective, raw)
    assert shown == {"llm": {"apiKey": "$OPENAI_API_KEY", "baseURL": "${BASE}/v1", "model": "m"},
                     "mcpServers": {"x": {"env": {"A": "[REDACTED]"}}}, "tools": [{"path": "${HOME}/work"}]}
    assert redact_tree({"llm": {"apiKey": "sk-no-file"}}, None) == {"llm": {"apiKey": "[REDACTED]"}}
