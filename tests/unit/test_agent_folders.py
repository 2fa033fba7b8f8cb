"""Agent folders in the reference's shapes, and the one check `validate` and `serve` share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.config.folder import scan_folder
from switchyard.config.loader import derive_agent_id, load_agent
from switchyard.errors import ConfigError
from switchyard.runtime.agent_files import check_agents, load_agents

ECHO = "llm: {provider: echo}\n"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    return subprocess.run([sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})})


def test_ids_come_from_file_and_folder_names_as_in_the_reference_tree(tmp_path):
    write(tmp_path, "default-agent.yml", ECHO)
    write(tmp_path, "coding-agent/coding-agent.yml", ECHO)
    write(tmp_path, "coding-agent/skills/notes.yml", "not: an agent\n")   # deeper: not scanned
    write(tmp_path, "database agent/agent.yml", ECHO)                       # a space in the name
    write(tmp_path, "triage-demo/billing-agent.yml", ECHO)
    write(tmp_path, "triage-demo/triage-agent.yaml", ECHO)
    write(tmp_path, "README.md", "# agents\n")
    agents, notes = load_agents(folder=str(tmp_path), env={})
    assert notes == []
    by_id = {a.config.agentId: (Path(a.path).relative_to(tmp_path.resolve()).as_posix(), a.id_source)
             for a in agents}
    assert by_id == {
        "default-agent": ("default-agent.yml", "file name"),
        "coding-agent": ("coding-agent/coding-agent.yml", "file name"),
        "database-agent": ("database agent/agent.yml", "folder name"),
        "billing-agent": ("triage-demo/billing-agent.yml", "file name"),
        "triage-agent": ("triage-demo/triage-agent.yaml", "file name"),
    }


def test_an_explicit_agent_id_wins_and_a_single_file_gets_its_name(tmp_path):
    named = write(tmp_path, "whatever.yml", "agentId: support\n" + ECHO)
    assert load_agent(named, env={}).config.agentId == "support"
    plain = write(tmp_path, "My Helper!.yml", ECHO)
    loaded = load_agent(plain, env={})
    assert (loaded.config.agentId, loaded.id_source) == ("My-Helper", "file name")
    assert derive_agent_id(tmp_path / "x" / "config.yml") == ("x", "folder name")
    # The bundled default agent keeps its own id.
    assert load_agent(None, env={}).config.agentId == "default-agent"


def test_a_clash_is_refused_naming_both_files_and_why(tmp_path):
    first = write(tmp_path, "billing.yml", ECHO)
    second = write(tmp_path, "team/helper.yml", "agentId: billing\n" + ECHO)
    with pytest.raises(ConfigError) as caught:
        load_agents(folder=str(tmp_path), env={})
    text = str(caught.value)
    assert str(first.resolve()) in text and str(second.resolve()) in text
    assert "'billing'" in text and "its agentId" in text and "from its file name" in text


def test_a_registry_names_the_agents_and_lists_what_it_leaves_out(tmp_path):
    write(tmp_path, "product-name-researcher/product-name-researcher.yml", ECHO)
    write(tmp_path, "default-agent.yml", ECHO)
    write(tmp_path, "agent-template.yml", ECHO)
    write(tmp_path, "agent-registry.json", json.dumps({"version": "1.0.0", "agents": {
        "product-researcher": {"id": "product-researcher", "name": "Product Researcher",
                               "description": "Product names and branding", "source": "product-name-researcher/",
                               "main": "product-name-researcher.yml"},
        "default-agent": {"id": "default-agent", "name": "Default", "description": "The default",
                          "source": "default-agent.yml"}}}))
    agents, notes = load_agents(folder=str(tmp_path), env={})
    assert [(a.config.agentId, a.config.name, a.config.description) for a in agents] == [
        ("product-researcher", "Product Researcher", "Product names and branding"),
        ("default-agent", "Default", "The default")]
    assert len(notes) == 1 and "agent-template.yml" in notes[0]
    # An entry pointing at nothing names the registry and the entry.
    write(tmp_path, "agent-registry.json", json.dumps({"agents": {"gone": {"source": "gone/", "main": "gone.yml"}}}))
    with pytest.raises(ConfigError, match=r"agent-registry.json: agents.gone: .*gone.yml does not exist"):
        scan_folder(tmp_path)


def test_every_problem_of_a_file_is_reported_in_one_pass(tmp_path):
    bad = write(tmp_path, "bad.yml", "llm: {provider: openai, apiKey: $NOT_SET_ANYWHERE, temperature: 9}\n"
                                     "mcpServers: {fs: {type: stdio, command: $NO_COMMAND}}\nbogus: 1\n")
    report = check_agents([str(bad)], env={}, strict=True)
    problems = {(e["path"], e["message"].split(" (")[0]) for e in report.files[0].errors}
    assert ("llm.apiKey", "environment variable $NOT_SET_ANYWHERE is not set") in problems
    assert ("mcpServers.fs.command", "environment variable $NO_COMMAND is not set") in problems
    assert any(p == "llm.temperature" for p, _ in problems) and ("bogus", "unknown field") in problems
    # The missing command is not reported a second time as a missing field.
    assert len(report.files[0].errors) == 4, report.files[0].errors


def test_unset_variables_warn_in_validate_and_fail_with_strict_and_at_serve(tmp_path):
    readme_agent = write(tmp_path, "support-agent.yml",
                         "agentId: support-agent\nsystemPrompt: You are a helpful support agent.\n"
                         "llm: {provider: openai, model: gpt-4o-mini, apiKey: $OPENAI_API_KEY}\n")
    lenient = cli("validate", str(readme_agent))
    assert lenient.returncode == 0, lenient.stderr
    assert "valid (agent 'support-agent')" in lenient.stdout
    assert "$OPENAI_API_KEY is not set (an error when serving)" in lenient.stderr
    strict = cli("validate", "--strict", str(readme_agent))
    assert strict.returncode == 1 and "llm.apiKey: environment variable $OPENAI_API_KEY is not set" in strict.stderr
    serve = cli("serve", "--agent", str(readme_agent), "--port", "1")
    assert serve.returncode == 2 and "Traceback" not in serve.stderr
    assert f"{readme_agent}: llm.apiKey: environment variable $OPENAI_API_KEY is not set" in serve.stderr


def test_validate_and_serve_agree_on_an_unknown_provider(tmp_path):
    google = write(tmp_path, "gemini.yml", "llm: {provider: gemini, model: gemini-2.5-pro, apiKey: abc}\n")
    validated = cli("validate", str(google))
    served = cli("serve", "--agent", str(google), "--port", "1")
    assert validated.returncode == 1 and served.returncode == 2
    for result in (validated, served):
        assert f"{google}: llm.provider: got 'gemini'; expected 'openai'" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_empty_file_is_said_to_be_empty(tmp_path):
    for text in ("", "# only a comment\n"):
        empty = write(tmp_path, "empty.yml", text)
        result = cli("validate", str(empty))
        assert result.returncode == 1 and f"{empty}: (top level): the file is empty" in result.stderr
        assert "valid (" not in result.stdout


def test_validate_takes_a_folder_and_reports_each_file(tmp_path):
    write(tmp_path, "good/good.yml", ECHO)
    write(tmp_path, "other.yml", "llm: {provider: echo, maxIterations: 0}\n")
    result = cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert "good.yml: valid (agent 'good', id from the file name)" in result.stdout
    assert "other.yml: llm.maxIterations:" in result.stderr
