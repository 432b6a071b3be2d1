"""Slash commands in PR and issue comments: what counts as one (pure).

A command is a line that starts with `/word` (at most three spaces before it), any case, with
trailing punctuation tolerated (`/bench.`, `/Bench!`). Quoted lines (`> /bench`), fenced and
indented code blocks and HTML comments are not read, so quoting or documenting a command never
runs it. Comments by bots, this one included, are ignored. Which names are commands is the
dispatcher's (bot.commands assembles the feature modules' tables).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Sequence

from bot.comments import is_bot_login

MAX_COMMANDS = 5  # per comment; more is a paste, not a request
MAX_ARGS = 500

_COMMAND_RE = re.compile(r"^ {0,3}/([A-Za-z][A-Za-z0-9_-]*)(?=$|[\s.,!?;:)])(.*)$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE_RE = re.compile(r"^ {0,3}>")
_TRAILING = ".,!?;:)"


@dataclass(frozen=True)
class Command:
    name: str  # lower case; a known command, or what was typed for an unknown one
    args: str
    line: int  # 1-based line in the comment
    known: bool = True
    suggestion: str | None = None  # for an unknown command: the known one it is closest to


def closest(name: str, known: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _strip_html_comments(text: str) -> str:
    """Blank out <!-- ... --> (keeping line numbers); an unclosed one runs to the end."""
    out, i = [], 0
    while True:
        start = text.find("<!--", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find("-->", start + 4)
        if end < 0:
            out.append(re.sub(r"[^\n]", " ", text[start:]))
            break
        out.append(re.sub(r"[^\n]", " ", text[start:end + 3]))
        i = end + 3
    return "".join(out)


def parse_commands(body: str | None, known: Sequence[str]) -> list[Command]:
    """Every command in a comment body, in order, at most MAX_COMMANDS, each name once;
    `known` are the command names (an unknown one gets the closest as its suggestion)."""
    if not body:
        return []
    text = _strip_html_comments(body.replace("\r\n", "\n").replace("\r", "\n"))
    found: list[Command] = []
    seen: set[str] = set()
    fence: str | None = None
    for lineno, line in enumerate(text.split("\n"), start=1):
        m = _FENCE_RE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().lstrip(fence[0]):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        if _QUOTE_RE.match(line) or line.startswith("    ") or line.startswith("\t"):
            continue
        cm = _COMMAND_RE.match(line)
        if not cm:
            continue
        name = cm.group(1).lower()
        args = cm.group(2).strip()
        if args and all(ch in _TRAILING for ch in args):
            args = ""
        args = args.lstrip(":,").strip()[:MAX_ARGS]
        if name in seen:
            continue
        seen.add(name)
        is_known = name in known
        found.append(Command(name, args, lineno, is_known,
                             None if is_known else closest(name, known)))
        if len(found) >= MAX_COMMANDS:
            break
    return found


def is_bot_user(user: dict[str, Any] | None, bot_login: str) -> bool:
    if not user:
        return True
    login = str(user.get("login", ""))
    return user.get("type") == "Bot" or login.lower().endswith("[bot]") or \
        is_bot_login(login, bot_login)
