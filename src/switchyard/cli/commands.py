"""What each subcommand does. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from switchyard.cli.agent_use import with_agent
from switchyard.cli.output import print_issues


# --- validate ------------------------------------------------------------------------

def validate(args: argparse.Namespace) -> int:
    from switchyard.errors import ConfigError
    from switchyard.runtime.agent_files import check_agents
    files = [p for p in args.paths if not Path(p).is_dir()]
    folders = [p for p in args.paths if Path(p).is_dir()]
    reports = []
    try:
        if files:
            reports.append(check_agents(files, strict=args.strict))
        reports.extend(check_agents(folder=f, strict=args.strict) for f in folders)
    except ConfigError as exc:   # a folder with no agents, a broken registry
        print(str(exc), file=sys.stderr)
        return 1
    status = 0
    for report in reports:
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        for file in report.files:
            for warning in file.warnings:
                print(f"warning: {file.source}: {warning}", file=sys.stderr)
            if file.ok:
                loaded = file.loaded
                how = "" if loaded.id_source == "agentId" else f", id {_how_id(loaded.id_source)}"
                print(f"{file.source}: valid (agent {loaded.config.agentId!r}{how})")
            else:
                count = len(file.errors)
                print(f"{file.source}: invalid ({count} problem{'s' if count != 1 else ''})", file=sys.stderr)
                print_issues(file.errors)
                status = 1
        if report.errors:
            print("agent ids clash:", file=sys.stderr)
            print_issues(report.errors)
            status = 1
    return status


def _how_id(source: str) -> str:
    return {"file name": "from the file name", "folder name": "from the folder name",
            "registry": "from the registry", "default": "the default"}.get(source, source)


# --- run / chat ----------------------------------------------------------------------

async def print_turn(agent: Any, session_id: str, prompt: str) -> int:
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


def run(args: argparse.Namespace) -> int:
    from switchyard.ids import new_id
    prompt = args.prompt
    if prompt == "-":
        prompt = sys.stdin.read().strip()
    if not prompt.strip():
        print("error: the prompt is empty", file=sys.stderr)
        return 2
    session_id = args.session or new_id()

    async def body(agent: Any) -> int:
        status = await print_turn(agent, session_id, prompt)
        print(f"(session {session_id})", file=sys.stderr)
        return status
    import asyncio
    return asyncio.run(with_agent(args.agent, body))


def chat(args: argparse.Namespace) -> int:
    from switchyard.cli.chat import chat_main
    return chat_main(args)


# --- serve, route, keys --------------------------------------------------------------

def serve(args: argparse.Namespace) -> int:
    from switchyard.server.runner import serve as run_server
    return run_server(args)


def route(args: argparse.Namespace) -> int:
    if args.agents is None:
        print("switchyard route: --agents DIR is required (or --hook with --server URL)", file=sys.stderr)
        return 2
    from switchyard.routing.cli import route_main
    return route_main(args.text, args.agents, args.eval_file, args.fallback, args.semantic or "auto")


def keys(args: argparse.Namespace) -> int:
    from switchyard.server.security.keys_cli import keys_main
    return keys_main(args.args)
