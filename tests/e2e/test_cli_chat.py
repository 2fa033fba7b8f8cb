"""`switchyard chat` driven through a pseudo-terminal (pexpect), and the one-shot commands as a
person runs them: `run -` from stdin, no log lines in the answer, help that teaches."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pexpect
import pytest

from tests.support.cli_process import cli_env
from tests.support.fake_llm import Text

PROMPT = "you>"


def spawn_chat(tmp_path, *args: str, **env: str) -> pexpect.spawn:
    environment = cli_env(tmp_path / "home", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", **env)
    child = pexpect.spawn(sys.executable, ["-m", "switchyard.cli", "chat", *args], env=environment,
                          encoding="utf-8", timeout=60, dimensions=(40, 160))
    return child


def echo_agent(tmp_path):
    path = tmp_path / "helper.yml"
    path.write_text("greeting: Hello from the helper.\nllm: {provider: echo}\n")
    return path


def finish(child: pexpect.spawn) -> int:
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_chat_edits_recalls_and_handles_commands_locally(tmp_path):
    child = spawn_chat(tmp_path, "--agent", str(echo_agent(tmp_path)))
    child.expect(r"\(agent helper, session ([0-9a-f-]{36})\)")
    first_session = child.match.group(1)
    child.expect("Hello from the helper.")
    child.expect(PROMPT)
    child.sendline("hello there")
    child.expect("Echo: hello there")
    child.expect(PROMPT)
    # Up arrow recalls the previous line; Left arrow and typing edit it in place.
    child.send("\x1b[A")
    child.send("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D")
    child.send("my ")
    child.sendline("")
    child.expect("Echo: hello my there")
    child.expect(PROMPT)
    child.sendline("/help")
    for command in ("/new", "/sessions", "/agent", "/model", "/exit"):
        child.expect(re.escape(command))
    child.expect(PROMPT)
    child.sendline("/sessions")
    child.expect(rf"\* {first_session}  4 messages")
    child.expect(PROMPT)
    child.sendline("/agent")
    child.expect("agent helper: helper")
    child.expect("model: echo/echo")
    child.expect(PROMPT)
    child.sendline("/model")
    child.expect("model: echo/echo")
    child.expect(PROMPT)
    child.sendline("/new")
    child.expect(r"new session ([0-9a-f-]{36})")
    assert child.match.group(1) != first_session
    child.expect(PROMPT)
    # A line starting with // is a message that starts with /.
    child.sendline("//tool is just text")
    child.expect("Echo: /tool is just text")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_ctrl_c_cancels_the_answer_not_the_program(tmp_path, fake_llm):
    fake_llm.script(Text(" ".join(f"word{i}" for i in range(40)), chunks=40, chunk_delay=0.25),
                    Text("still here"))
    agent = tmp_path / "slow.yml"
    agent.write_text(json.dumps({"llm": {"provider": "openai-compatible", "model": "m",
                                         "baseURL": fake_llm.base_url, "apiKey": "k"}}))
    child = spawn_chat(tmp_path, "--agent", str(agent))
    child.expect(PROMPT)
    child.sendline("write a long answer")
    child.expect("word1 ")
    child.sendintr()
    child.expect(r"\(cancelled\)")
    assert "word39" not in child.before       # the answer stopped where it was
    child.expect(PROMPT)
    child.sendline("are you there?")
    child.expect("still here")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_ctrl_c_at_the_prompt_clears_the_line(tmp_path):
    child = spawn_chat(tmp_path, "--agent", str(echo_agent(tmp_path)))
    child.expect(PROMPT)
    child.send("half a thought")
    child.sendintr()
    child.expect(PROMPT)
    child.sendline("whole")
    child.expect("Echo: whole")
    assert "Echo: half" not in child.before
    child.expect(PROMPT)
    assert finish(child) == 0


def test_session_shows_its_earlier_history(tmp_path):
    agent = echo_agent(tmp_path)
    env = cli_env(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "switchyard.cli", "run", "remember the blue door",
                           "--agent", str(agent), "--session", "s1"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    child = spawn_chat(tmp_path, "--agent", str(agent), "--session", "s1")
    child.expect("you> remember the blue door")
    child.expect("helper> Echo: remember the blue door")
    child.expect(r"\(2 earlier messages\)")
    child.expect(PROMPT)
    assert "Hello from the helper." not in child.before   # a continued session is not greeted again
    assert finish(child) == 0


def _cli(tmp_path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchyard.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, env=cli_env(tmp_path / "home"))


def test_run_reads_stdin_and_prints_the_answer_not_a_log(tmp_path):
    agent = echo_agent(tmp_path)
    result = _cli(tmp_path, "run", "-", "--agent", str(agent), stdin="summarise this diff\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: summarise this diff\n"
    assert re.search(r"\d\d:\d\d:\d\d", result.stderr) is None and "INFO" not in result.stderr
    assert result.stderr.startswith("(session ")
    empty = _cli(tmp_path, "run", "-", "--agent", str(agent), stdin="  \n")
    assert empty.returncode == 2 and "the prompt is empty" in empty.stderr


def test_the_bundled_agent_says_it_is_the_echo_model_once_without_a_log_prefix(tmp_path):
    result = _cli(tmp_path, "run", "hi")
    assert result.returncode == 0 and result.stdout == "Echo: hi\n"
    assert result.stderr.count("offline 'echo' test model") == 1
    assert "INFO" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "run", "chat", "validate", "route"])
def test_every_command_describes_itself_with_examples(tmp_path, command):
    result = _cli(tmp_path, command, "--help")
    assert result.returncode == 0
    description = result.stdout.split("\n\n")[1]
    assert len(description) > 40                          # a description, not just the usage
    examples = result.stdout.split("examples:\n")[1]
    assert f"switchyard {command}" in examples


def test_bare_command_and_keys_help(tmp_path):
    bare = _cli(tmp_path)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: switchyard")
    assert "a command is required" in bare.stderr
    keys = _cli(tmp_path, "keys", "--help")
    assert keys.returncode == 0
    for action in ("create", "list", "revoke", "rotate"):
        assert re.search(rf"^\s+{action}\s+\S", keys.stdout, re.M), keys.stdout
    assert "switchyard keys create --name ci" in keys.stdout
    unknown = _cli(tmp_path, "run", "hi", "--nope")
    assert unknown.returncode == 2 and "unrecognized arguments: --nope" in unknown.stderr


def test_run_with_a_real_provider_client_prints_no_request_log(tmp_path, fake_llm):
    agent = tmp_path / "remote.yml"
    agent.write_text(json.dumps({"llm": {"provider": "openai", "model": "gpt-4o-mini",
                                         "apiKey": "$OPENAI_API_KEY", "baseURL": fake_llm.base_url}}))
    env = cli_env(tmp_path / "home", OPENAI_API_KEY="sk-test-0123456789abcdef")
    result = subprocess.run([sys.executable, "-m", "switchyard.cli", "run", "ping", "--agent", str(agent)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fake reply to: ping\n"
    assert "HTTP Request" not in result.stderr and "INFO" not in result.stderr
    assert result.stderr.startswith("(session ")
