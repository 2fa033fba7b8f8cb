"""The `switchyard` command.

argparse (the standard library) rather than click/typer: the command has seven subcommands
with plain options, argparse gives each a description, examples and checked values, and it
costs nothing at start-up (`switchyard --help` imports nothing heavy: every command imports
what it needs when it runs).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `route --hook` runs on every prompt: typing is not imported for it
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main", "_parser", "_print_turn"]


def __getattr__(name: str) -> Any:
    # Lazy: `route --hook` runs on every prompt of a coding assistant and skips argparse, the
    # commands module and log set-up (`_print_turn` and `_parser` are used by tests).
    if name == "_print_turn":
        from switchyard.cli.commands import print_turn
        return print_turn
    if name == "_parser":
        from switchyard.cli.parser import build_parser
        return build_parser
    raise AttributeError(f"module 'switchyard.cli' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["route"] and "--hook" in args_in:
        from switchyard.routing.hook import hook_main, parse_hook_args   # its own stderr lines
        hook_args = parse_hook_args(args_in[1:])
        if hook_args is not None:
            return hook_main(**hook_args)
    from switchyard.cli.parser import build_parser

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("switchyard: error: a command is required (switchyard --help lists them)", file=sys.stderr)
        return 2
    if extra and args.command != "keys":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)   # `serve --workers` starts itself again
    if args.command == "keys":
        args.args = [*getattr(args, "args", []), *extra]
    if args.command == "route" and args.hook:
        from switchyard.routing.hook import hook_main   # its own stderr lines; never fails
        return hook_main(agents_dir=args.agents, server=args.server, threshold=args.threshold,
                         fallback=args.fallback, semantic=args.semantic, timeout=args.timeout)
    from switchyard.cli.output import configure_cli_logging
    configure_cli_logging(args)
    from switchyard.cli import commands
    handler = {"serve": commands.serve, "run": commands.run, "chat": commands.chat,
               "validate": commands.validate, "route": commands.route, "keys": commands.keys}[args.command]
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


if __name__ == "__main__":   # pragma: no cover - `python -m switchyard.cli` runs __main__.py
    sys.exit(main())
