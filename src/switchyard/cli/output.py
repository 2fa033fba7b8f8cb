"""How the command talks to people: log set-up per command, and problem reports."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Iterable

from switchyard.logs import COMMAND_FORMAT, SERVER_FORMAT, configure_logging


def configure_cli_logging(args: argparse.Namespace) -> None:
    """`serve` logs at info with a time on each line (a server's log); `run`, `chat`,
    `validate`, `route` and `keys` show warnings only, without timestamps, so that their
    output is the answer and not a log. --log-level and --json-logs override both."""
    serving = args.command == "serve" and not getattr(args, "mcp_stdio", False)
    level = getattr(args, "log_level", None) or ("info" if serving else "warning")
    configure_logging(level, fmt=SERVER_FORMAT if serving else COMMAND_FORMAT,
                      json_lines=bool(getattr(args, "json_logs", False)))
    if level != "debug":
        # uvicorn's own start-up lines ("Waiting for application startup", ...) say less than
        # the server's banner and progress lines; its warnings and errors still show.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


def print_issues(issues: Iterable[dict[str, Any]], *, prefix: str = "  ", stream: Any = None) -> None:
    """One line per problem: `file: field.path: what is wrong`."""
    stream = stream or sys.stderr
    for issue in issues:
        where = issue.get("path") or "(top level)"
        print(f"{prefix}{issue.get('file') or '<config>'}: {where}: {issue.get('message')}", file=stream)
