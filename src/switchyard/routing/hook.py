"""`switchyard route --hook`: the router as a coding assistant's prompt-submit hook.

The assistant runs the hook on every prompt with the event as JSON on stdin
(`{"session_id", "cwd", "hook_event_name": "UserPromptSubmit", "prompt", ...}`). The hook routes
`prompt` (among the agents of a folder, or by asking a running server's `POST /api/route`) and,
when an agent fits well enough, prints

    {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "..."}}

which the assistant adds to the prompt's context. It never blocks or rewrites the prompt: every
failure (bad event, broken agent folder, unreachable server) is one line on stderr, nothing on
stdout, exit status 0. Below the threshold, or when only the fallback agent fits, it is silent.

This path runs on every prompt, so it imports little: json and a socket for `--server`
(hook_http.py); for `--agents`, the router rebuilt from an on-disk cache in plain Python
(hook_cache.py), and numpy and the agent-file schema only when the cache must be rebuilt.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: this path runs on every prompt
if TYPE_CHECKING:
    from typing import IO, Any

EVENT_NAME = "UserPromptSubmit"
DEFAULT_THRESHOLD = 0.5
DEFAULT_TIMEOUT = 2.0
# The router reads the start of a prompt: a pasted log of megabytes says no more about which
# agent fits than its first lines, and the server bounds `content` anyway.
MAX_PROMPT_CHARS = 8000


class HookChoice:
    """The decision the hook announces. `reach`: how to reach the agent (a command line or
    a URL)."""

    __slots__ = ("agent_id", "confidence", "reason", "fallback", "reach")

    def __init__(self, agent_id: str, confidence: float, reason: str, fallback: bool,
                 reach: str) -> None:
        self.agent_id, self.confidence, self.reason = agent_id, confidence, reason
        self.fallback, self.reach = fallback, reach


def hook_main(*, agents_dir: str | None, server: str | None, threshold: float,
              fallback: str | None, semantic: str | None, timeout: float,
              stdin: IO[str] | None = None, stdout: IO[str] | None = None,
              stderr: IO[str] | None = None) -> int:
    """Read one hook event, print the hook answer or nothing; always 0."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        prompt = read_prompt(stdin.read())
        if prompt is None:
            return 0
        if server:
            choice = ask_server(server, prompt, timeout)
        elif agents_dir:
            choice = route_locally(agents_dir, prompt, fallback=fallback, semantic=semantic)
        else:
            raise HookError("give --agents DIR or --server URL")
        if choice.fallback or choice.confidence < threshold:
            return 0
        stdout.write(json.dumps(hook_answer(choice)) + "\n")
        stdout.flush()
    except HookError as exc:
        print(f"switchyard route --hook: {exc}", file=stderr)
    except Exception as exc:  # noqa: BLE001 - a hook must never break the user's prompt
        print(f"switchyard route --hook: {type(exc).__name__}: {exc}", file=stderr)
    return 0


# `route --hook`'s options, read without argparse (13 ms of imports per prompt): the value
# each takes, and how. Anything else (--help, an abbreviation, a bad value) goes to argparse.
_OPTIONS = {"--agents": ("agents_dir", str), "--server": ("server", str),
            "--threshold": ("threshold", float), "--timeout": ("timeout", float),
            "--fallback": ("fallback", str), "--semantic": ("semantic", str)}
SEMANTIC_CHOICES = ("auto", "on", "static", "off")


def parse_hook_args(argv: list[str]) -> dict[str, Any] | None:
    """`switchyard route --hook ...`'s arguments (those after `route`) as `hook_main`'s
    keywords, or None when argparse must read them (it then says what is wrong, or helps)."""
    found: dict[str, Any] = {"agents_dir": None, "server": None, "threshold": DEFAULT_THRESHOLD,
                             "fallback": None, "semantic": None, "timeout": DEFAULT_TIMEOUT}
    hook = False
    args = iter(argv)
    for arg in args:
        if arg == "--hook":
            hook = True
            continue
        option, eq, value = arg.partition("=")
        if option not in _OPTIONS:
            return None
        if not eq:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
        key, kind = _OPTIONS[option]
        try:
            found[key] = kind(value)
        except ValueError:
            return None
    if not hook or found["semantic"] not in (None, *SEMANTIC_CHOICES):
        return None
    return found


class HookError(Exception):
    """A reported failure: one line on stderr, nothing on stdout."""


def read_prompt(raw: str) -> str | None:
    """The event's prompt, cut to MAX_PROMPT_CHARS; None (silence) for an empty prompt."""
    try:
        event = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HookError(f"stdin is not a JSON hook event ({exc.msg} at line {exc.lineno} "
                        f"column {exc.colno})") from None
    if not isinstance(event, dict):
        raise HookError(f"the hook event must be a JSON object, got {type(event).__name__}")
    prompt = event.get("prompt")
    if prompt is None:
        raise HookError("the hook event has no 'prompt' field")
    if not isinstance(prompt, str):
        raise HookError(f"the hook event's 'prompt' must be a string, got {type(prompt).__name__}")
    prompt = prompt[:MAX_PROMPT_CHARS]
    return prompt if prompt.strip() else None


def hook_answer(choice: HookChoice) -> dict[str, Any]:
    reason = " ".join(choice.reason.split())
    if len(reason) > 240:
        reason = reason[:237] + "..."
    context = (f"Switchyard router: this prompt fits the agent '{choice.agent_id}' "
               f"(confidence {choice.confidence:.2f}): {reason}\n"
               f"To hand it over: {choice.reach}")
    return {"hookSpecificOutput": {"hookEventName": EVENT_NAME, "additionalContext": context}}


def route_locally(agents_dir: str, prompt: str, *, fallback: str | None,
                  semantic: str | None) -> HookChoice:
    from switchyard.errors import SwitchyardError

    # The full model (numpy MiniLM) costs ~0.7 s a prompt in a fresh process (numpy, its
    # weights, every agent text embedded) against ~0.06 s for the cached static embeddings: a
    # per-prompt process uses the static ones unless told otherwise (the server keeps the
    # full model warm; docs/router-hook.md).
    semantic = semantic or "static"
    try:
        if semantic in ("static", "off"):
            # From the on-disk cache while the folder is unchanged (hook_cache.py).
            from switchyard.routing.hook_cache import cached_router
            router = cached_router(agents_dir, fallback=fallback, semantic=semantic)
        else:
            from switchyard.routing.cli import build_router
            router = build_router(agents_dir, fallback=fallback, semantic=semantic)
        decision = router.route_sync(prompt)
    except (SwitchyardError, ValueError) as exc:
        raise HookError(f"agents folder {agents_dir}: {' '.join(str(exc).split())}") from None
    source = router.files.get(decision.agent_id)
    reach = (f"switchyard run --agent {source} \"...\"" if source
             else f"agent id '{decision.agent_id}'")
    return HookChoice(decision.agent_id, decision.confidence, decision.reason,
                      decision.fallback, reach)


def ask_server(server: str, prompt: str, timeout: float) -> HookChoice:
    from switchyard.routing.hook_http import BadHeader, post_json

    base = server.rstrip("/")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = os.environ.get("SWITCHYARD_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        status, reason, raw = post_json(base, "/api/route", json.dumps({"content": prompt}).encode(),
                                        headers, timeout)
    except BadHeader as exc:  # says which header, never its value (the key)
        raise HookError(f"SWITCHYARD_API_KEY cannot be sent: {exc}") from None
    except ValueError:
        raise HookError(f"--server must be an http:// or https:// URL, got {server!r}") from None
    except OSError as exc:
        raise HookError(f"cannot reach {base}: {exc or type(exc).__name__}") from None
    if status != 200:
        raise HookError(f"{base}/api/route answered {status}: {_error_message(raw, reason)}")
    try:
        body = json.loads(raw)
    except ValueError:
        raise HookError(f"{base}/api/route did not answer JSON") from None
    try:
        return HookChoice(str(body["agentId"]), float(body["confidence"]), str(body.get("reason", "")),
                          bool(body.get("fallback", False)),
                          f"POST {base}/api/message-sync with {{\"agentId\": \"{body['agentId']}\", "
                          "\"content\": \"...\"}")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HookError(f"{base}/api/route answered an unexpected shape") from None


def _error_message(raw: bytes, reason: str) -> str:
    """The server's error envelope message, never its raw body (which could be anything)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return reason
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or reason)[:200]
