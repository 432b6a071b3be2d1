"""The `arena` command line. Each package registers its own subcommands; this module only
parses the command line, loads nothing heavy, and maps failures to exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from arena import __version__, exitcodes

# Modules that define register(subparsers). Each keeps its heavy imports inside its handlers,
# so that `arena validate` and `arena site` start fast.
COMMAND_MODULES = (
    "arena.commands",
    "runner.commands",
    "arena.demo",
    "arena.init",
    "arena.controls",
    "leaderboard.cli",
    "bot.cli",
    "bot.doctor",
    "bot.control",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with the usage line
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(exitcodes.USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="arena",
        description="A GitHub-native bot and CI-driven leaderboard for LLM serving-speed "
                    "challenges. `arena COMMAND --help` describes each command.")
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return exitcodes.USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exitcodes.OK
