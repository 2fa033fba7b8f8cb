"""The `switchyard` command. Heavy modules are imported inside each command so that
`switchyard --help` stays instant."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from switchyard import __version__
from switchyard.ids import new_id


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="A secure agent server for Dexto-format agents.")
    parser.add_argument("--version", action="version", version=f"switchyard {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("SWITCHYARD_LOG_LEVEL", "info"),
                        choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve agents over HTTP (REST+SSE, A2A, MCP, OpenAI)")
    serve.add_argument("--agent", action="append", help="agent YAML (repeatable); default: the bundled agent")
    serve.add_argument("--agents", help="a folder of agent YAML files to host together")
    serve.add_argument("--default-agent", help="the agent that answers requests naming none")
    serve.add_argument("--router-fallback", help="the agent for messages that fit none (agentId \"auto\")")
    serve.add_argument("--router-llm-margin", type=_non_negative_float, metavar="M",
                       help="with an LLM, the router also asks it when the first two agents score "
                            "closer than M (default 0.10; 0: only below the confidence threshold)")
    serve.add_argument("--router-semantic", choices=["auto", "on", "static", "off"],
                       help="the router's embedding layer (default auto: the full model with the "
                            "[semantic] extra, else the static embeddings shipped in the package)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", 3001)), help="port (default 3001, or $PORT)")
    serve.add_argument("--insecure-no-auth", action="store_true",
                       help="allow binding a non-loopback address without an API key (dangerous)")
    serve.add_argument("--mcp-stdio", action="store_true", help="serve the agent as an MCP server over stdio instead")
    serve.add_argument("--shutdown-grace", type=float, default=10.0, help="seconds running turns get at shutdown")

    run = sub.add_parser("run", help="send one prompt and stream the answer")
    run.add_argument("prompt")
    run.add_argument("--agent", help="agent YAML (default: the bundled agent)")
    run.add_argument("--session", help="continue this session")

    chat = sub.add_parser("chat", help="an interactive chat with history across turns")
    chat.add_argument("--agent", help="agent YAML (default: the bundled agent)")
    chat.add_argument("--session", help="continue this session")

    validate = sub.add_parser("validate", help="check an agent YAML file")
    validate.add_argument("file")

    route = sub.add_parser("route", help="show which agent the router picks, or evaluate it")
    route.add_argument("text", nargs="?")
    route.add_argument("--agents", required=True, help="a folder of agent YAML files")
    route.add_argument("--eval", dest="eval_file", help="a JSONL file of {text, agent} lines")
    route.add_argument("--fallback", help="the agent for messages that fit none")
    route.add_argument("--semantic", default="auto", choices=["auto", "on", "static", "off"])

    keys = sub.add_parser("keys", help="manage API keys (stored hashed)")
    keys.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from switchyard.logs import configure_logging
    configure_logging(args.log_level)
    handler = {"serve": _serve, "run": _run, "chat": _chat, "validate": _validate,
               "route": _route, "keys": _keys}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI reports, it does not trace back
        from switchyard.errors import SwitchyardError
        if isinstance(exc, SwitchyardError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


# --- validate ------------------------------------------------------------------------

def _validate(args: argparse.Namespace) -> int:
    from switchyard.config import load_agent
    from switchyard.errors import ConfigError
    try:
        loaded = load_agent(args.file, log_warnings=False)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    print(f"{args.file}: valid (agent {loaded.config.agentId!r})")
    return 0


# --- run / chat ----------------------------------------------------------------------

def _startup_notice(agent: Any) -> None:
    from switchyard.llm.factory import resolve_llm
    notice = resolve_llm(agent.config.llm).notice
    if notice:
        print(notice, file=sys.stderr)


async def _print_turn(agent: Any, session_id: str, prompt: str) -> int:
    from contextlib import aclosing

    from switchyard.events import ErrorEvent, ToolCallEvent, ToolResultEvent
    from switchyard.runtime.activity import Finished, TextPiece, run_activity
    status = 0
    run = await agent.start_run(session_id, prompt)
    async with aclosing(run_activity(run)) as activity:
        async for item in activity:
            if isinstance(item, TextPiece):
                sys.stdout.write(item.text)
                sys.stdout.flush()
            elif isinstance(item, ToolCallEvent):
                print(f"\n[tool] {item.tool_name}({json.dumps(item.args)})", file=sys.stderr)
            elif isinstance(item, ToolResultEvent):
                mark = "ok" if item.success else "error"
                print(f"[tool] {item.tool_name} -> {mark}: {item.text()[:300]}", file=sys.stderr)
            elif isinstance(item, ErrorEvent):
                print(f"\nerror: {item.message}", file=sys.stderr)
                status = 1
            elif isinstance(item, Finished) and item.result.finish_reason == "max-steps":
                print("\n(stopped: llm.maxIterations reached)", file=sys.stderr)
    print()
    return status


async def _with_agent(path: str | None, body: Any) -> int:
    from switchyard.config import load_agent
    from switchyard.runtime.agent import Agent
    agent = Agent(load_agent(path))
    await agent.start()
    try:
        _startup_notice(agent)
        return await body(agent)
    finally:
        await agent.stop(grace=1)


def _run(args: argparse.Namespace) -> int:
    session_id = args.session or new_id()

    async def body(agent: Any) -> int:
        status = await _print_turn(agent, session_id, args.prompt)
        print(f"(session {session_id})", file=sys.stderr)
        return status
    return asyncio.run(_with_agent(args.agent, body))


def _chat(args: argparse.Namespace) -> int:
    session_id = args.session or new_id()

    async def body(agent: Any) -> int:
        print(f"Chatting with {agent.config.name} (session {session_id}). Ctrl-D or /exit to quit.", file=sys.stderr)
        if agent.config.greeting:
            print(agent.config.greeting)
        loop = asyncio.get_running_loop()
        while True:
            try:
                line = await loop.run_in_executor(None, lambda: input("> "))
            except EOFError:
                print()
                return 0
            if line.strip() in ("/exit", "/quit"):
                return 0
            if line.strip():
                await _print_turn(agent, session_id, line)
    return asyncio.run(_with_agent(args.agent, body))


# --- serve ---------------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from switchyard.server.runner import serve
    return serve(args)


def _route(args: argparse.Namespace) -> int:
    from switchyard.routing.cli import route_main
    return route_main(args.text, args.agents, args.eval_file, args.fallback, args.semantic)


def _keys(args: argparse.Namespace) -> int:
    from switchyard.server.security.keys_cli import keys_main
    return keys_main(args.args)


if __name__ == "__main__":
    sys.exit(main())
