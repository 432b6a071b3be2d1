"""Slash commands in PR and issue comments: parsing (pure) and routing to their handlers.

A command is a line that starts with `/word` (at most three spaces before it), any case, with
trailing punctuation tolerated (`/bench.`, `/Bench!`). Quoted lines (`> /bench`), fenced and
indented code blocks and HTML comments are not read, so quoting or documenting a command never
runs it. Comments by bots, this one included, are ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    sender_id: int | None = None  # numeric GitHub user id: logins can be renamed and reused
    created_at: str | None = None  # when the comment was made (ISO 8601, from the event)
    answers: list[tuple[str, str]] | None = None  # (command, text): one reply per comment

    @property
    def name(self) -> str:
        return self.command.name


Handler = Callable[[Bot, Request], int]


def reply(bot: Bot, req: Request, text: str) -> None:
    """A short answer to a command. Within a comment the answers are collected and posted as
    one reply (see `post_answers`); alone, it is posted at once."""
    if req.answers is not None:
        req.answers.append((req.name, text))
        return
    post_answers(bot, req, [(req.name, text)])


def post_answers(bot: Bot, req: Request, answers: list[tuple[str, str]]) -> None:
    """One comment answering every command of a comment, with a fresh marker so a failed post
    is not duplicated."""
    if len(answers) == 1:
        name, text = answers[0]
        text_ = f"@{req.sender} `/{name}`: {text}"
    else:
        text_ = f"@{req.sender}\n\n" + "\n\n".join(f"- `/{n}`: {t}" for n, t in answers)
    body = comments.with_nonce("reply", command=answers[0][0], comment=req.comment_id) + \
        "\n" + text_ + footer(bot)
    comments.post_comment(bot, req.number, body)


def refuse(bot: Bot, req: Request) -> None:
    """A command its sender may not use: a 👎 reaction, no comment (a comment per refusal is
    what a flood of them would cost). /help says who may use what."""
    bot.say(f"/{req.name} by {req.sender}: not allowed; answered with a reaction")
    react(bot, req, "-1")


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
    user = comment.get("user") or {}
    answers: list[tuple[str, str]] = []
    base = dict(number=int(issue["number"]), is_pr=bool(issue.get("pull_request")),
                sender=user["login"], comment_id=int(comment["id"]),
                issue_author=(issue.get("user") or {}).get("login", ""),
                issue_state=issue.get("state", "open"),
                sender_id=user.get("id") if isinstance(user.get("id"), int) else None,
                created_at=comment.get("created_at"), answers=answers)
    first = Request(parsed[0], **base)  # type: ignore[arg-type]
    try:
        if over_rate_limit(bot, first, comment):
            react(bot, first, "confused")
            return exitcodes.OK
    except API_ERRORS as exc:
        return fail_visibly(bot, dataclasses.replace(first, answers=None),
                            describe_failure(exc, "Counting your recent commands", bot.now()))
    table = handlers()
    worst = exitcodes.OK
    for cmd in parsed:
        req = Request(cmd, **base)  # type: ignore[arg-type]
        bot.say(f"/{cmd.name} from {req.sender} on #{req.number}")
        handler = table.get(cmd.name, handle_unknown) if cmd.known else handle_unknown
        try:
            code_ = handler(bot, req)
        except API_ERRORS as exc:
            code_ = fail_visibly(bot, req, describe_failure(exc, f"/{cmd.name}", bot.now()))
        worst = max(worst, code_)
    if answers:
        try:
            post_answers(bot, first, answers)
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Posting the reply", bot.now()))
            bot.summarize(f"Commands on #{first.number} by {first.sender}:\n\n" +
                          "\n".join(f"- `/{n}`: {t}" for n, t in answers))
            worst = max(worst, exitcodes.INFRA)
    return worst


RATE_WINDOW = dt.timedelta(hours=1)
MAX_RATE_PAGES = 5  # newest first; a flood bigger than this is a flood either way


def over_rate_limit(bot: Bot, req: Request, comment: dict[str, Any]) -> bool:
    """Whether the sender has used up `commands_per_hour`: their comments holding a command in
    the whole repository in the last hour, this one excluded (newest first, a few pages at
    most). Counted by numeric user id when GitHub gives one, so a rename does not reset it.
    Maintainers have no limit."""
    limit = bot.challenge.commands_per_hour
    since = bot.now() - RATE_WINDOW
    used = 0
    listing = bot.repo.get_issues_comments(sort="created", direction="desc", since=since)
    for i, c in enumerate(listing):
        if i >= MAX_RATE_PAGES * 100:
            break
        created = c.created_at if c.created_at.tzinfo else \
            c.created_at.replace(tzinfo=dt.timezone.utc)
        if created < since:
            break
        if c.id == req.comment_id or c.user is None:
            continue
        same = c.user.id == req.sender_id if req.sender_id is not None else \
            c.user.login.lower() == req.sender.lower()
        if same and parse_commands(c.body):
            used += 1
            if used >= limit:
                break
    if used < limit:
        return False
    from bot.permissions import is_maintainer
    if is_maintainer(bot, req.sender):
        return False
    bot.say(f"{req.sender} sent {used} commands in the last hour (limit {limit}): not answered")
    return True


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
