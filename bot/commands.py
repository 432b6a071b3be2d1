"""Commands in comments: the dispatcher. Each feature module (bench, status, verdicts, usage)
exports its command table (`COMMANDS`, name to handler); this module assembles them, reads a
comment's commands (bot.parsing) with those names, applies the per-sender rate limit, runs each
handler and posts one reply per comment (bot.replies).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from arena import exitcodes
from bot import bench, parsing, status, usage, verdicts
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.parsing import MAX_COMMANDS as MAX_COMMANDS  # the cap is the dispatcher's too
from bot.parsing import Command, is_bot_user
from bot.permissions import is_maintainer
from bot.render import code
from bot.replies import Handler, Request, fail_visibly, post_answers, react, reply

# In this order an unknown command's suggestion is picked (the first close match wins a tie).
TABLE: dict[str, Handler] = {**bench.COMMANDS, **status.COMMANDS, **verdicts.COMMANDS,
                             **usage.COMMANDS}
KNOWN: tuple[str, ...] = tuple(TABLE)


def parse_commands(body: str | None) -> list[Command]:
    """Every command in a comment body (bot.parsing), with this dispatcher's names."""
    return parsing.parse_commands(body, KNOWN)


def handle_unknown(bot: Bot, req: Request) -> int:
    hint = f" Did you mean `/{req.command.suggestion}`?" if req.command.suggestion else ""
    reply(bot, req, f"I don't know the command {code('/' + req.name, 40)}.{hint} "
                    "Comment `/help` for the list.")
    return exitcodes.OK


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
    worst = exitcodes.OK
    for cmd in parsed:
        req = Request(cmd, **base)  # type: ignore[arg-type]
        bot.say(f"/{cmd.name} from {req.sender} on #{req.number}")
        handler = TABLE.get(cmd.name, handle_unknown) if cmd.known else handle_unknown
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
    if is_maintainer(bot, req.sender):
        return False
    bot.say(f"{req.sender} sent {used} commands in the last hour (limit {limit}): not answered")
    return True
