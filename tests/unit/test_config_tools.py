"""The agent file's `tools:` list: the reference's families validate with their defaults,
older files (`customTools`, `internalTools`) load into it, and `switchyard validate` names an
unknown family type, an unknown option and a bad value with the field path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from switchyard.config.loader import parse_agent
from switchyard.config.tools_schema import FilesystemToolsConfig, ProcessToolsConfig
from switchyard.errors import ConfigError


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True,
                          timeout=60)


def test_families_get_the_reference_defaults():
    tools = parse_agent({"tools": [{"type": "filesystem-tools"}, {"type": "process-tools"}]}).config.tools
    assert tools[0] == FilesystemToolsConfig(type="filesystem-tools")
    assert (tools[0].allowedPaths, tools[0].blockedPaths, tools[0].blockedExtensions, tools[0].maxFileSize) == (
        ["."], [".git", "node_modules/.bin", ".env"], [".exe", ".dll", ".so"], 10 * 1024 * 1024)
    assert tools[1] == ProcessToolsConfig(type="process-tools")
    assert (tools[1].securityLevel, tools[1].maxTimeout, tools[1].maxOutputBuffer) == ("moderate", 600_000, 1048576)


def test_older_custom_and_internal_tools_load_as_tools():
    loaded = parse_agent({"customTools": [{"type": "process-tools", "securityLevel": "strict"}],
                          "internalTools": ["ask_user", "read_file", "bash_exec", "teleport"]})
    kinds = [(t.type, getattr(t, "enabledTools", None)) for t in loaded.config.tools]
    assert kinds == [("process-tools", None), ("builtin-tools", ["ask_user"]),
                     ("filesystem-tools", ["read_file"]), ("process-tools", ["bash_exec"])]
    assert any("'teleport' is not implemented" in w for w in loaded.warnings)


def test_reference_tool_names_not_implemented_yet_warn():
    loaded = parse_agent({"tools": [{"type": "scheduler-tools"},
                                    {"type": "builtin-tools", "enabledTools": ["ask_user", "web_search"]},
                                    {"type": "lifecycle-tools", "enabledTools": ["search_history", "view_logs"]}]})
    assert [t.type for t in loaded.config.tools] == ["scheduler-tools", "builtin-tools", "lifecycle-tools"]
    assert loaded.config.tools[1].enabledTools == ["ask_user"]
    assert loaded.config.tools[2].enabledTools == ["search_history"]
    assert sorted(w.split("`")[1] for w in loaded.warnings) == ["tools[1].enabledTools", "tools[2].enabledTools"]


@pytest.mark.parametrize("entry, path, words", [
    ({"type": "shell-tools"}, "tools[0]", "unknown type 'shell-tools'"),
    ({"type": "filesystem-tools", "allowedPath": ["."]}, "tools[0].allowedPath", "unknown field"),
    ({"type": "process-tools", "securityLevel": "lax"}, "tools[0].securityLevel", "'strict', 'moderate' or 'permissive'"),
    ({"type": "process-tools", "maxTimeout": 9_999_999}, "tools[0].maxTimeout", "less than or equal to 600000"),
    ({"type": "filesystem-tools", "enabledTools": ["rm_rf"]}, "tools[0].enabledTools[0]", "got 'rm_rf'"),
    ({"filesystem-tools": {}}, "tools[0]", "type"),
])
def test_bad_entries_name_the_field(entry, path, words):
    with pytest.raises(ConfigError) as info:
        parse_agent({"tools": [entry]})
    [issue] = info.value.issues
    assert issue["path"] == path and words in issue["message"], issue


def test_validate_reports_unknown_tool_types_and_options(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("agentId: a\ntools:\n  - type: filesystem-tools\n    allowedPaths: [.]\n    maxFilesize: 10\n"
                   "  - type: web-tools\n")
    result = _cli("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}: tools[0].maxFilesize: unknown field" in result.stderr
    assert f"{bad}: tools[1]: unknown type 'web-tools'" in result.stderr
    good = tmp_path / "good.yml"
    good.write_text("agentId: a\ntools:\n  - {type: filesystem-tools, allowedPaths: [.]}\n  - {type: scheduler-tools}\n")
    result = _cli("validate", str(good))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr   # both families are implemented
