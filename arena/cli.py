"""The `arena` command line. Each package registers its own subcommands; this module only
parses the command line, loads nothing heavy, and maps failures to exit codes.

The commands are composed in pyproject.toml, not here: each entry point of the group
`arena.commands` names a module's `register(subparsers)`, so that the shared core imports no
front end (the runner, the leaderboard, the bot). Their names sort in the order `arena --help`
lists them. Run from a source checkout, the checkout's own pyproject.toml is read instead of the
installed metadata, which may have been written from an older one."""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Sequence

from arena import __version__, exitcodes

COMMAND_GROUP = "arena.commands"
CHECKOUT_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


class NoCommands(Exception):
    """The installed package declares no commands: its metadata is missing or stale."""


def command_entry_points() -> list[EntryPoint]:
    """The installed `register` functions, in their names' order. Each module keeps its heavy
    imports inside its handlers, so that `arena validate` and `arena site` start fast."""
    found = sorted(_checkout_entry_points() or entry_points(group=COMMAND_GROUP),
                   key=lambda ep: ep.name)
    if not found:
        raise NoCommands(
            f"arena: no commands are installed (no `{COMMAND_GROUP}` entry points in the "
            "package's metadata). Install the checkout: `pip install -e .` (or `make setup`).")
    return found


def _checkout_entry_points() -> list[EntryPoint]:
    """The commands the checkout this module runs from declares; none when it is installed."""
    try:
        project = tomllib.loads(CHECKOUT_PYPROJECT.read_text(encoding="utf-8"))["project"]
    except (OSError, ValueError, KeyError):
        return []
    if project.get("name") != "arena":
        return []
    group = project.get("entry-points", {}).get(COMMAND_GROUP, {})
    return [EntryPoint(name, value, COMMAND_GROUP) for name, value in group.items()]


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
    for ep in command_entry_points():
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except NoCommands as exc:
        print(exc, file=sys.stderr)
        return exitcodes.INFRA
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
