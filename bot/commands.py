"""Slash commands in PR and issue comments: parsing (pure) and routing to their handlers.

A command is a line that starts with `/word` (at most three spaces before it), any case, with
trailing punctuation tolerated (`/bench.`, `/Bench!`). Quoted lines (`> /bench`), fenced and
indented code blocks and HTML comments are not read, so quoting or documenting a command never
runs it. Comments by bots, this one included, are ignored.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

from arena import exitcodes
from bot import comments
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.render import code, footer, help_text

KNOWN = ("bench", "rerun", "cancel", "status", "withdraw", "invalidate", "reinstate", "help")
MAX_COMMANDS = 5  # per comment; more is a paste, not a request
MAX_ARGS = 500

_COMMAND_RE = re.compile(r"^ {0,3}/([A-Za-z][A-Za-z0-9_-]*)(?=$|[\s.,!?;:)])(.*)$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE_RE = re.compile(r"^ {0,3}>")
_TRAILING = ".,!?;:)"


@dataclass(frozen=True)
class Command:
    name: str  # lower case; one of KNOWN, or what was typed for an unknown command
    args: str
    line: int  # 1-based line in the comment
    known: bool = True

    @property
    def suggestion(self) -> str | None:
        close = difflib.get_close_matches(self.name, KNOWN, n=1, cutoff=0.6)
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


def parse_commands(body: str | None) -> list[Command]:
    """Every command in a comment body, in order, at most MAX_COMMANDS, each name once."""
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
        found.append(Command(name, args, lineno, name in KNOWN))
        if len(found) >= MAX_COMMANDS:
            break
    return found


def is_bot_user(user: dict[str, Any] | None, bot_login: str) -> bool:
    if not user:
        return True
    login = str(user.get("login", ""))
    return user.get("type") == "Bot" or login.lower().endswith("[bot]") or \
        comments.is_bot_login(login, bot_login)


# -- routing ------------------------------------------------------------------------------------

@dataclass
class Request:
    """One command in one comment, with what the event says about where it was typed."""

    command: Command
    number: int  # issue or PR number
    is_pr: bool
    sender: str
    comment_id: int
    issue_author: str
    issue_state: str

    @property
    def name(self) -> str:
        return self.command.name


Handler = Callable[[Bot, Request], int]


def reply(bot: Bot, req: Request, text: str) -> None:
    """A short answer to a command, with a fresh marker so a failed post is not duplicated."""
    body = comments.with_nonce("reply", command=req.name, comment=req.comment_id) + "\n" + \
        f"@{req.sender} `/{req.name}`: {text}" + footer(bot)
    comments.post_comment(bot, req.number, body)


def react(bot: Bot, req: Request, content: str = "+1") -> None:
    """Acknowledge an accepted command at once. Adding the same reaction twice is harmless, so
    this retries once on a transient failure, and a failure here never stops the command."""
    comment = bot.repo.get_issue(req.number).get_comment(req.comment_id)
    for attempt in range(2):
        try:
            comment.create_reaction(content)
            return
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Adding a reaction", bot.now()))
            if attempt == 0:
                bot.sleep(1.0)


def handle_help(bot: Bot, req: Request) -> int:
    react(bot, req)
    reply(bot, req, "here is what I understand.\n\n" + help_text(bot.challenge))
    return exitcodes.OK


def handle_unknown(bot: Bot, req: Request) -> int:
    hint = f" Did you mean `/{req.command.suggestion}`?" if req.command.suggestion else ""
    reply(bot, req, f"I don't know the command {code('/' + req.name, 40)}.{hint} "
                    "Comment `/help` for the list.")
    return exitcodes.OK


def handlers() -> dict[str, Handler]:
    from bot import bench, status, verdicts
    return {
        "help": handle_help,
        "bench": bench.handle_bench,
        "rerun": bench.handle_bench,
        "cancel": bench.handle_cancel,
        "status": status.handle_status,
        "withdraw": verdicts.handle_withdraw,
        "invalidate": verdicts.handle_invalidate,
        "reinstate": verdicts.handle_reinstate,
    }


def on_issue_comment(bot: Bot, event: dict[str, Any]) -> int:
    if event.get("action") != "created":
        bot.say(f"issue_comment {event.get('action')}: only new comments are read")
        return exitcodes.OK
    comment, issue = event["comment"], event["issue"]
    if is_bot_user(comment.get("user"), bot.login):
        bot.say("comment by a bot: ignored")
        return exitcodes.OK
    parsed = parse_commands(comment.get("body"))
    if not parsed:
        bot.say("no command in the comment")
        return exitcodes.OK
    table = handlers()
    worst = exitcodes.OK
    for cmd in parsed:
        req = Request(cmd, int(issue["number"]), bool(issue.get("pull_request")),
                      comment["user"]["login"], int(comment["id"]),
                      (issue.get("user") or {}).get("login", ""), issue.get("state", "open"))
        bot.say(f"/{cmd.name} from {req.sender} on #{req.number}")
        handler = table.get(cmd.name, handle_unknown) if cmd.known else handle_unknown
        try:
            code_ = handler(bot, req)
        except API_ERRORS as exc:
            code_ = fail_visibly(bot, req, describe_failure(exc, f"/{cmd.name}", bot.now()))
        worst = max(worst, code_)
    return worst


def fail_visibly(bot: Bot, req: Request, sentence: str) -> int:
    """The last word when GitHub failed in the middle of a command: say so on the PR, or in the
    job summary when even that fails."""
    bot.say(sentence)
    text = (f"{sentence} Nothing else was done for this command. Try it again in a few minutes; "
            "if it keeps failing, a maintainer can look at the workflow run.")
    try:
        reply(bot, req, text)
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Posting the failure message", bot.now()))
        bot.summarize(f"`/{req.name}` on #{req.number} by {req.sender}: {text}")
    return exitcodes.INFRA
