"""`switchyard chat`: an interactive chat in the terminal.

prompt_toolkit reads the lines (editing, arrow-key history kept in $SWITCHYARD_HOME/chat_history,
Ctrl-C clears the line, Ctrl-D quits); rich draws everything that is not the answer (the
"thinking" spinner, command output, dim tool lines) on stderr; the answer's tokens are written
to stdout as they arrive. During an answer Ctrl-C cancels that turn, not the program.
Both libraries are imported only here. Without a terminal (stdin piped) lines are read plainly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

HELP = [("/help", "this list"),
        ("/new", "start a new session"),
        ("/sessions", "this agent's sessions"),
        ("/agent", "the agent: id, file, model, MCP servers and tools"),
        ("/model [NAME]", "the model of this session, or switch it to NAME"),
        ("/exit", "quit (or Ctrl-D)"),
        ("//text", "send a message that starts with /"),
        ("Ctrl-C", "cancel the answer being written (at the prompt: clear the line)")]


def chat_main(args: argparse.Namespace) -> int:
    from switchyard.cli.agent_use import with_agent
    from switchyard.ids import new_id
    interactive = sys.stdin.isatty() and sys.stdout.isatty()

    async def body(agent: Any) -> int:
        return await Chat(agent, args.session or new_id(), interactive).loop(resumed=bool(args.session))
    return asyncio.run(with_agent(args.agent, body))


def _history_file() -> Path:
    home = Path(os.environ.get("SWITCHYARD_HOME") or Path.home() / ".switchyard")
    home.mkdir(parents=True, exist_ok=True)
    return home / "chat_history"


def _when(value: Any) -> str:
    """A session's last activity (milliseconds since the epoch) as local time."""
    if not isinstance(value, (int, float)):
        return str(value or "")[:19]
    from datetime import datetime
    return datetime.fromtimestamp(value / 1000).strftime("%Y-%m-%d %H:%M")


class Chat:
    def __init__(self, agent: Any, session_id: str, interactive: bool) -> None:
        from rich.console import Console
        self.agent = agent
        self.session_id = session_id
        self.interactive = interactive
        self.meta = Console(stderr=True, highlight=False)   # everything but the answer
        self.prompt: Any = None
        if interactive:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory
            self.prompt = PromptSession(history=FileHistory(str(_history_file())))

    # --- the loop ----------------------------------------------------------------------

    async def loop(self, *, resumed: bool) -> int:
        config = self.agent.config
        self.meta.print(f"[bold]{config.name}[/bold] [dim](agent {self.agent.id}, session "
                        f"{self.session_id})[/dim]  /help for commands, Ctrl-D to quit")
        if resumed:
            await self._show_history()
        elif config.greeting:
            self.meta.print(config.greeting)
        while True:
            line = await self._read()
            if line is None:
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                done = await self._command(text)
                if done:
                    return 0
                if done is not None:
                    continue
            await self.turn(text[1:] if text.startswith("//") else text)

    async def _read(self) -> str | None:
        if self.prompt is None:
            try:
                return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline) or None
            except EOFError:
                return None
        while True:
            try:
                return await self.prompt.prompt_async("you> ")
            except KeyboardInterrupt:
                continue          # Ctrl-C at the prompt clears the line
            except EOFError:
                return None

    # --- one turn ----------------------------------------------------------------------

    async def turn(self, text: str) -> None:
        from switchyard.events import ErrorEvent, ToolCallEvent, ToolResultEvent
        from switchyard.runtime.activity import Finished, TextPiece, run_activity
        loop = asyncio.get_running_loop()
        cancelled = False

        def cancel() -> None:
            nonlocal cancelled
            if not cancelled:
                cancelled = True
                loop.create_task(self.agent.cancel(self.session_id))

        status = self.meta.status("[dim]thinking…[/dim]", spinner="dots")
        status.start()
        writing = False
        loop.add_signal_handler(signal.SIGINT, cancel)
        try:
            run = await self.agent.start_run(self.session_id, text)
            async with aclosing(run_activity(run)) as activity:
                async for item in activity:
                    if isinstance(item, TextPiece):
                        if not writing:
                            status.stop()
                            writing = True
                        sys.stdout.write(item.text)
                        sys.stdout.flush()
                    elif isinstance(item, ToolCallEvent):
                        status.stop()
                        self.meta.print(f"\n[dim]→ {item.tool_name}({json.dumps(item.args)[:200]})[/dim]")
                        status.start()
                        writing = False
                    elif isinstance(item, ToolResultEvent):
                        mark = "ok" if item.success else "error"
                        self.meta.print(f"[dim]← {item.tool_name}: {mark}[/dim]")
                    elif isinstance(item, ErrorEvent) and not cancelled:
                        status.stop()
                        self.meta.print(f"\n[red]error:[/red] {item.message}")
                    elif isinstance(item, Finished) and item.result.finish_reason == "max-steps":
                        self.meta.print("\n[dim](stopped: llm.maxIterations reached)[/dim]")
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            status.stop()
        if writing:
            sys.stdout.write("\n")
            sys.stdout.flush()
        if cancelled:
            self.meta.print("[yellow](cancelled)[/yellow]")

    # --- commands ----------------------------------------------------------------------

    async def _command(self, text: str) -> bool | None:
        """True: quit; False: handled; None: not a command (sent as a message)."""
        name, _, rest = text.partition(" ")
        rest = rest.strip()
        if name in ("/exit", "/quit"):
            return True
        if name == "/help":
            for command, what in HELP:
                self.meta.print(f"  [bold]{command:<14}[/bold] {what}")
        elif name == "/new":
            from switchyard.ids import new_id
            self.session_id = new_id()
            self.meta.print(f"new session {self.session_id}")
        elif name == "/sessions":
            await self._sessions()
        elif name == "/agent":
            self._describe_agent()
        elif name == "/model":
            await self._model(rest)
        else:
            return None
        return False

    async def _sessions(self) -> None:
        sessions = await self.agent.list_sessions()
        if not sessions:
            self.meta.print("no sessions yet")
        for s in sessions:
            mark = "*" if s["id"] == self.session_id else " "
            title = f"  {s['title']}" if s.get("title") else ""
            self.meta.print(f" {mark} {s['id']}  {s['messageCount']} messages  "
                            f"[dim]{_when(s.get('lastActivity'))}[/dim]{title}")

    def _describe_agent(self) -> None:
        config = self.agent.config
        self.meta.print(f"agent {self.agent.id}: {config.name}")
        if config.description:
            self.meta.print(f"  {config.description}")
        self.meta.print(f"  file: {self.agent.loaded.path or 'bundled default agent'}")
        self.meta.print(f"  model: {self.agent.llm.provider}/{self.agent.llm.model}")
        if self.agent.mcp is not None:
            for server in self.agent.mcp.servers():
                self.meta.print(f"  MCP server {server['name']}: {server['status']}")
        tools = [t.name for t in self.agent.tools.all()]
        self.meta.print(f"  tools: {', '.join(tools) if tools else 'none'}")

    async def _model(self, name: str) -> None:
        from switchyard.errors import SwitchyardError
        if name:
            await self.agent.create_session(self.session_id)
            try:
                await self.agent.switch_llm({"model": name}, self.session_id)
            except SwitchyardError as exc:
                self.meta.print(f"[red]error:[/red] {exc.message}")
                return
        try:
            cfg = await self.agent.llm_config(self.session_id)
        except SwitchyardError:
            cfg = self.agent.config.llm
        self.meta.print(f"model: {cfg.provider or self.agent.llm.provider}/{cfg.model or self.agent.llm.model}")

    async def _show_history(self) -> None:
        from switchyard.errors import NotFoundError
        try:
            messages = await self.agent.history(self.session_id)
        except NotFoundError:
            self.meta.print("[dim](a new session)[/dim]")
            return
        for message in messages:
            content = message.get("content")
            if not isinstance(content, str) or message.get("role") not in ("user", "assistant"):
                continue
            who = "you" if message["role"] == "user" else self.agent.id
            self.meta.print(f"[dim]{who}> {content}[/dim]")
        self.meta.print(f"[dim]({len(messages)} earlier messages)[/dim]")
