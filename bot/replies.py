"""What every command handler shares: the request (one command in one comment, with what the
event says about where it was typed) and the ways to answer it: a reaction, a reply (collected
into one comment per comment), a refusal.

The feature modules (bench, status, verdicts, help) import this; the dispatcher
(bot.commands) imports them. Nothing here imports a feature module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from arena import exitcodes
from bot import comments
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.parsing import Command
from bot.render import footer


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

    @property
    def by_author(self) -> bool:
        return self.sender.lower() == self.issue_author.lower()


Handler = Callable[[Bot, Request], int]


@dataclass(frozen=True)
class Refusal:
    """A decision to do nothing but answer: `text` is the reply; None answers with a 👎
    reaction only (a command its sender may not use)."""

    text: str | None = None
    exit_code: int = exitcodes.OK


NOT_ALLOWED = Refusal(None)


def answer_refusal(bot: Bot, req: Request, refusal: Refusal) -> int:
    if refusal.text is None:
        refuse(bot, req)
    else:
        reply(bot, req, refusal.text)
    return refusal.exit_code


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
