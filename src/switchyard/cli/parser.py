"""The command line: every subcommand with a description, its options and examples.
Only the standard library is imported here (`switchyard --help` stays instant)."""

from __future__ import annotations

import argparse
import os

from switchyard import __version__

LOG_LEVELS = ["debug", "info", "warning", "error"]


class _Help(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}")
    return number


def port_number(value: str) -> int:
    """A TCP port, 1-65535."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number (1-65535), got {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (1-65535), got {port}")
    return port


def _default_port() -> int | str:
    """$PORT, checked when the flag's type converts it (a bad $PORT is an error naming it)."""
    return os.environ.get("PORT") or 3001


def _logging_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On the top level and on each subcommand (`switchyard --log-level debug serve` and
    # `switchyard serve --log-level debug` both work); a subcommand's flag wins.
    default = os.environ.get("SWITCHYARD_LOG_LEVEL") if top else argparse.SUPPRESS
    parser.add_argument("--log-level", default=default, choices=LOG_LEVELS, type=str.lower,
                        help="log detail (default: info for serve, warning for the others; "
                             "or $SWITCHYARD_LOG_LEVEL)")
    parser.add_argument("--json-logs", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="one JSON object per log line, for log collectors")


def _sub(sub: argparse._SubParsersAction, name: str, summary: str, description: str,
         examples: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=summary, description=description, formatter_class=_Help,
                            epilog="examples:\n" + examples)
    _logging_options(parser, top=False)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def _add_serve(sub: argparse._SubParsersAction) -> None:
    serve = _sub(sub, "serve", "serve agents over HTTP (REST+SSE, A2A, MCP, OpenAI)",
                 "Serve one or more agents over HTTP: the Dexto-compatible REST + SSE API, A2A, MCP\n"
                 "and an OpenAI-compatible endpoint. Every agent file is checked before anything\n"
                 "starts; the server says it is ready only once its port answers.",
                 "  switchyard serve                                  the bundled default agent\n"
                 "  switchyard serve --agent support.yml --port 8080\n"
                 "  switchyard serve --agents agents/ --default-agent general --router-fallback general\n"
                 "  SWITCHYARD_ENV=production SWITCHYARD_API_KEY=... switchyard serve --host 0.0.0.0\n"
                 "  switchyard serve --mcp-stdio --agent support.yml  for MCP clients that launch servers")
    serve.add_argument("--agent", action="append", metavar="FILE",
                       help="an agent YAML file (repeatable); default: the bundled agent")
    serve.add_argument("--agents", metavar="DIR",
                       help="a folder of agents: *.yml files, a folder per agent (<name>/<name>.yml "
                            "or <name>/agent.yml), or an agent-registry.json")
    serve.add_argument("--default-agent", metavar="ID", help="the agent that answers requests naming none")
    serve.add_argument("--router-fallback", metavar="ID",
                       help="the agent for messages that fit none (agentId \"auto\")")
    serve.add_argument("--router-llm-margin", type=_non_negative_float, metavar="M",
                       help="with an LLM, the router also asks it when the first two agents score "
                            "closer than M (default 0.10; 0: only below the confidence threshold)")
    serve.add_argument("--router-semantic", choices=["auto", "on", "static", "off"],
                       help="the router's embedding layer (default auto: all-MiniLM-L6-v2 run in "
                            "numpy from the package's weights, else the static embeddings)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=_default_port(),
                       help="port, 1-65535 (default 3001, or $PORT)")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false",
                       help="do not log one line per request")
    serve.add_argument("--insecure-no-auth", action="store_true",
                       help="allow binding a non-loopback address without an API key (dangerous)")
    serve.add_argument("--mcp-stdio", action="store_true", help="serve the agent as an MCP server over stdio instead")
    serve.add_argument("--workers", type=_positive_int, metavar="N",
                       help="server processes sharing the port (default: one per core when SWITCHYARD_REDIS_URL "
                            "and Postgres storage are set, else 1; more than 1 needs them)")
    serve.add_argument("--shutdown-grace", type=_non_negative_float, default=10.0, metavar="SECONDS",
                       help="how long running turns may finish at shutdown (default 10)")


def _add_run_chat(sub: argparse._SubParsersAction) -> None:
    run = _sub(sub, "run", "send one prompt and stream the answer",
               "Send one prompt to an agent and stream its answer to stdout (tool calls go to\n"
               "stderr). The session id is printed on stderr: pass it to --session to continue.",
               "  switchyard run \"What is the capital of France?\"\n"
               "  switchyard run \"Summarise this\" --agent support.yml --session s1\n"
               "  git diff | switchyard run - --agent reviewer.yml     read the prompt from stdin")
    run.add_argument("prompt", help="the message; - reads it from stdin")
    run.add_argument("--agent", metavar="FILE", help="agent YAML (default: the bundled agent)")
    run.add_argument("--session", metavar="ID", help="continue this session")

    chat = _sub(sub, "chat", "an interactive chat with history across turns",
                "Chat with an agent in the terminal: line editing and history (arrow keys),\n"
                "streamed answers, Ctrl-C cancels the answer being written, Ctrl-D quits.\n"
                "Commands: /help, /new, /sessions, /agent, /model [NAME], /exit.",
                "  switchyard chat\n"
                "  switchyard chat --agent support.yml\n"
                "  switchyard chat --agent support.yml --session s1      shows s1's earlier messages")
    chat.add_argument("--agent", metavar="FILE", help="agent YAML (default: the bundled agent)")
    chat.add_argument("--session", metavar="ID", help="continue this session (its history is shown)")


def _add_tools(sub: argparse._SubParsersAction) -> None:
    validate = _sub(sub, "validate", "check agent files without starting them",
                    "Check agent files the way `serve` does (YAML, fields, the model's provider, key\n"
                    "and URL, unique ids) and print every problem with file and field path. An unset\n"
                    "environment variable is a warning here (an error at serve); --strict makes it\n"
                    "an error. Exit status: 0 valid, 1 invalid.",
                    "  switchyard validate support.yml\n"
                    "  switchyard validate agents/                  every agent of a folder\n"
                    "  switchyard validate --strict support.yml     unset variables are errors")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="an agent file or a folder of agents")
    validate.add_argument("--strict", action="store_true", help="an unset environment variable is an error")

    route = _sub(sub, "route", "show which agent the router picks, or evaluate it",
                 "Ask the router which agent of a folder would answer a message (nothing runs),\n"
                 "or measure its accuracy on a labelled JSONL file of {\"text\", \"agent\"} lines.",
                 "  switchyard route \"I was charged twice\" --agents examples/agents\n"
                 "  switchyard route --agents examples/agents --eval labelled.jsonl --semantic off\n"
                 "  switchyard route --hook --agents ~/agents < event.json   (a prompt hook: docs/router-hook.md)")
    route.add_argument("text", nargs="?", help="the message to route")
    route.add_argument("--agents", metavar="DIR", help="a folder of agents")
    route.add_argument("--eval", dest="eval_file", metavar="FILE", help="a JSONL file of {text, agent} lines")
    route.add_argument("--fallback", metavar="ID", help="the agent for messages that fit none")
    route.add_argument("--semantic", choices=["auto", "on", "static", "off"],
                       help="the embedding layer (default auto: all-MiniLM-L6-v2 run in numpy, "
                            "else the shipped static embeddings; static with --hook)")
    hook = route.add_argument_group("prompt hook (docs/router-hook.md)")
    hook.add_argument("--hook", action="store_true",
                      help="read a UserPromptSubmit hook event (JSON) on stdin and print the hook "
                           "answer naming the agent that fits, or nothing; always exits 0")
    hook.add_argument("--server", metavar="URL",
                      help="with --hook: ask a running server's POST /api/route instead of "
                           "loading --agents (key from SWITCHYARD_API_KEY)")
    hook.add_argument("--threshold", type=float, default=0.5, metavar="C",
                      help="with --hook: stay silent below this confidence (default 0.5)")
    hook.add_argument("--timeout", type=float, default=2.0, metavar="S",
                      help="with --hook --server: seconds to wait for the server (default 2)")

    keys = sub.add_parser("keys", help="manage API keys: create, list, revoke, rotate", add_help=False,
                          description="Manage API keys. `switchyard keys --help` lists the actions.")
    keys.add_argument("args", nargs=argparse.REMAINDER)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard", formatter_class=_Help,
        description="A secure agent server for Dexto-format agent files.",
        epilog="examples:\n"
               "  switchyard serve --agents agents/        serve a folder of agents on :3001\n"
               "  switchyard chat --agent support.yml      chat in the terminal\n"
               "  switchyard validate agents/              check agent files\n"
               "  switchyard keys create --name ci --scope chat\n\n"
               "`switchyard COMMAND --help` describes a command.")
    parser.add_argument("--version", action="version", version=f"switchyard {__version__}")
    _logging_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(sub)
    _add_run_chat(sub)
    _add_tools(sub)
    return parser
