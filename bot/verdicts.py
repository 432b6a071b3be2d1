"""/withdraw, /invalidate and /reinstate: verdict records (arena.store's format) appended to the
results branch. Evidence is never deleted: a later record supersedes an earlier one, and the
ranking (leaderboard.ranking) applies them in time order."""

from __future__ import annotations

import re

from arena import exitcodes
from arena.store import new_verdict_record, verdict_relpath
from arena.submission import ID_RE, location
from bot import labels
from bot.client import API_ERRORS, describe_failure
from bot.commands import Request, react, reply
from bot.context import Bot
from bot.files import changed_files
from bot.permissions import is_maintainer
from bot.render import code
from bot.results_branch import StoreWriteError, append_record
from bot.site import dispatch_site

_ID_ARG = re.compile(rf"^({ID_RE})(?:\s+|$)(.*)$", re.S)


def split_id(args: str) -> tuple[str | None, str]:
    """('login/name', rest) when the arguments start with a submission id."""
    m = _ID_ARG.match(args.strip())
    if m:
        return m.group(1), m.group(2).strip()
    return None, args.strip()


def pr_submissions(bot: Bot, number: int) -> list[str]:
    ids = []
    for f in changed_files(bot, number):
        login, stem = location(f.path, bot.challenge)
        if login and stem and f.path.endswith(".yaml"):
            ids.append(f"{login}/{stem}")
    return sorted(set(ids))


def resolve_submission(bot: Bot, req: Request) -> tuple[str | None, str, str | None]:
    """(submission id, remaining arguments, refusal message)."""
    sid, rest = split_id(req.command.args)
    if sid:
        return sid, rest, None
    if not req.is_pr:
        return None, rest, (f"name the submission: `/{req.name} <login>/<name>"
                            f"{' <reason>' if req.name == 'invalidate' else ''}`.")
    ids = pr_submissions(bot, req.number)
    if len(ids) == 1:
        return ids[0], rest, None
    if not ids:
        return None, rest, "this pull request has no submission file; name one: " \
                           f"`/{req.name} <login>/<name>`."
    listed = ", ".join(code(i, 104) for i in ids)
    return None, rest, f"this pull request has several submissions ({listed}); name one: " \
                       f"`/{req.name} <login>/<name>`."


def _record(bot: Bot, req: Request, sid: str, action: str, reason: str,
            label_state: str | None, done: str) -> int:
    record = new_verdict_record(submission=sid, action=action, reason=reason, by=req.sender,
                                at=bot.now())
    try:
        append_record(bot, verdict_relpath(record), record,
                      f"{action} {sid} (by {req.sender}, #{req.number})")
    except StoreWriteError as exc:
        reply(bot, req, f"the verdict could not be recorded: {exc} Nothing changed; try again "
                        "later or ask a maintainer.")
        return exitcodes.INFRA
    if req.is_pr:
        try:
            labels.set_state_label(bot, req.number, labels.SUBMISSION, label_state)
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Setting the label", bot.now()))
    site = dispatch_site(bot)
    reply(bot, req, f"{done} The record is `{verdict_relpath(record)}` on the "
                    f"`{bot.results_branch}` branch. {site}")
    return exitcodes.OK


def handle_withdraw(bot: Bot, req: Request) -> int:
    sid, rest, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    author = sid.split("/", 1)[0]
    if author.lower() != req.sender.lower() and not is_maintainer(bot, req.sender):
        reply(bot, req, f"only {code(author, 40)} (the author) and maintainers can withdraw "
                        f"{code(sid, 104)}.")
        return exitcodes.OK
    react(bot, req)
    reason = rest or f"withdrawn by {req.sender}"
    return _record(bot, req, sid, "withdraw", reason, "withdrawn",
                   f"{code(sid, 104)} is withdrawn: it leaves the leaderboard, and its results "
                   "stay on record. A maintainer can undo this with `/reinstate`.")


def handle_invalidate(bot: Bot, req: Request) -> int:
    if not is_maintainer(bot, req.sender):
        reply(bot, req, "only maintainers can invalidate a submission. If you think a result is "
                        "wrong, say why in a comment and a maintainer will look.")
        return exitcodes.OK
    sid, reason, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    if not reason:
        reply(bot, req, "give a reason: `/invalidate <reason>` (it is shown on the leaderboard).")
        return exitcodes.OK
    react(bot, req)
    return _record(bot, req, sid, "invalidate", reason, "invalidated",
                   f"every run of {code(sid, 104)} is now invalid: {code(reason, 300)}. "
                   "`/reinstate` undoes it.")


def handle_reinstate(bot: Bot, req: Request) -> int:
    if not is_maintainer(bot, req.sender):
        reply(bot, req, "only maintainers can reinstate a submission.")
        return exitcodes.OK
    sid, reason, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    react(bot, req)
    return _record(bot, req, sid, "reinstate", reason or f"reinstated by {req.sender}", None,
                   f"{code(sid, 104)} is reinstated: its runs count again as the runner judged "
                   "them.")
