"""A problem found in a file: what is wrong, where, and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from arena.text import for_terminal


@dataclass(frozen=True)
class Problem:
    """One problem at a place in a file. `field` is a dotted path ("engine.args.dtype"), or "" for
    the file as a whole. `message` already says what to do; values quoted in it are made safe
    for a terminal by `show()`."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def format(self) -> str:
        where = f"{for_terminal(self.file)}:{self.line}:{self.column}"
        message = for_terminal(self.message)
        if not self.field:
            return f"{where}: {message}"
        return f"{where}: {for_terminal(self.field, 80)}: {message}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        del d["file"]
        return d


def dotted(path: tuple[Any, ...]) -> str:
    """("engine", "args", "dtype") -> "engine.args.dtype"; list indexes as "tags[2]"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def show(value: Any, limit: int = 60) -> str:
    """A value quoted for a message: strings in quotes, everything made terminal-safe and short."""
    if isinstance(value, str):
        return "'" + for_terminal(value, limit) + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return for_terminal(repr(value), limit)


def type_name(value: Any) -> str:
    """The YAML name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
