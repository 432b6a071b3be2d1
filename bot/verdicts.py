"""/withdraw, /invalidate and /reinstate: verdict records (arena.store's format) appended to the
results branch. Evidence is never deleted: a later record supersedes an earlier one, and the
ranking (leaderboard.ranking) applies them in time order. A /reinstate lifts the latest
withdrawal or invalidation still in force, and only that one (leaderboard.ranking.
submission_holds decides, for the bot and the site alike); every answer says what changed and
what still holds."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from github import GithubException

from arena import exitcodes
from arena.store import new_verdict_record, verdict_errors, verdict_relpath
from arena.submission import ID_RE, location
from bot import labels
from bot.client import API_ERRORS, describe_failure
from bot.commands import Request, react, refuse, reply
from bot.context import Bot
from bot.files import changed_files
from bot.permissions import is_maintainer
from bot.render import code
from bot.owners import folder_owner, not_owner_message
from bot.results_branch import StoreWriteError, append_record, stored_text
from bot.site import dispatch_site
from leaderboard.ranking import submission_holds

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


MAX_RECORDS_READ = 500
WORDS = {"withdraw": "withdrawal", "invalidate": "invalidation", "disqualify": "disqualification"}
LABEL_OF = {"withdraw": "withdrawn", "invalidate": "invalidated", "disqualify": "invalidated"}


def submission_records(bot: Bot, sid: str) -> list[dict[str, Any]]:
    """The verdict records of one submission on the results branch (none when it does not
    exist yet): what decides what a new record changes."""
    try:  # one request: GitHub takes a branch name for the tree
        tree = bot.repo.get_git_tree(bot.results_branch, recursive=True)
    except GithubException as exc:
        if exc.status in (404, 409):  # no results branch yet (409: an empty repository)
            return []
        raise
    names = sorted(e.path for e in tree.tree if e.type == "blob"
                   and re.fullmatch(r"verdicts/[0-9A-Za-z-]+\.json", e.path))[-MAX_RECORDS_READ:]
    out = []
    for path in names:
        text = stored_text(bot, path)
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            continue
        if isinstance(doc, dict) and not verdict_errors(doc) and doc["submission"] == sid:
            out.append(doc)
    return out


def describe_hold(rec: dict[str, Any]) -> str:
    return (f"the {WORDS[rec['action']]} by {code(rec['by'], 40)} ({rec['at']}: "
            f"{code(rec['reason'], 200)})")


def still_holds(held: list[dict[str, Any]]) -> str:
    if not held:
        return "Nothing else holds against it."
    return "Still in force: " + "; ".join(describe_hold(h) for h in reversed(held)) + "."


def _record(bot: Bot, req: Request, sid: str, action: str, reason: str,
            earlier: list[dict[str, Any]], done: Callable[[list[dict[str, Any]], str | None], str]
            ) -> int:
    record = new_verdict_record(submission=sid, action=action, reason=reason, by=req.sender,
                                by_id=req.sender_id, at=bot.now())
    held, lifted = submission_holds(sid, earlier + [record])
    try:
        append_record(bot, verdict_relpath(record), record,
                      f"{action} {sid} (by {req.sender}, #{req.number})")
    except StoreWriteError as exc:
        reply(bot, req, f"the verdict could not be recorded: {exc} Nothing changed; try again "
                        "later or ask a maintainer.")
        return exitcodes.INFRA
    if req.is_pr:
        try:
            labels.set_state_label(bot, req.number, labels.SUBMISSION,
                                   LABEL_OF[held[-1]["action"]] if held else None)
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Setting the label", bot.now()))
    site = dispatch_site(bot)
    reply(bot, req, f"{done(held, lifted.get(record['id']))} The record is "
                    f"`{verdict_relpath(record)}` on the `{bot.results_branch}` branch. {site}")
    return exitcodes.OK


def handle_withdraw(bot: Bot, req: Request) -> int:
    sid, rest, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    author = sid.split("/", 1)[0]
    maintainer = None
    if author.lower() != req.sender.lower():
        maintainer = is_maintainer(bot, req.sender)
        if not maintainer:
            refuse(bot, req)
            return exitcodes.OK
    else:
        owner = folder_owner(bot, author)
        if owner is not None and owner != req.sender_id and not is_maintainer(bot, req.sender):
            reply(bot, req, not_owner_message(author, owner, req.sender_id))
            return exitcodes.OK
    react(bot, req)
    reason = rest or f"withdrawn by {req.sender}"
    return _record(bot, req, sid, "withdraw", reason, submission_records(bot, sid),
                   lambda held, _: f"{code(sid, 104)} is withdrawn: it leaves the leaderboard, "
                   "and its results stay on record. A maintainer can undo this with "
                   f"`/reinstate`. {still_holds(held[:-1])}")


def handle_invalidate(bot: Bot, req: Request) -> int:
    if not is_maintainer(bot, req.sender):
        refuse(bot, req)
        return exitcodes.OK
    sid, reason, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    if not reason:
        reply(bot, req, "give a reason: `/invalidate <reason>` (it is shown on the leaderboard).")
        return exitcodes.OK
    react(bot, req)
    return _record(bot, req, sid, "invalidate", reason, submission_records(bot, sid),
                   lambda held, _: f"every run of {code(sid, 104)} is now invalid: "
                   f"{code(reason, 300)}. `/reinstate` undoes it. {still_holds(held[:-1])}")


def handle_reinstate(bot: Bot, req: Request) -> int:
    if not is_maintainer(bot, req.sender):
        refuse(bot, req)
        return exitcodes.OK
    sid, reason, refusal = resolve_submission(bot, req)
    if refusal or sid is None:
        reply(bot, req, refusal or "")
        return exitcodes.OK
    earlier = submission_records(bot, sid)
    held, _ = submission_holds(sid, earlier)
    if not held:
        reply(bot, req, f"nothing to reinstate: no withdrawal or invalidation of "
                        f"{code(sid, 104)} is in force. Nothing was recorded.")
        return exitcodes.OK
    react(bot, req)

    def done(after: list[dict[str, Any]], lifted: str | None) -> str:
        what = describe_hold(held[-1])
        tail = still_holds(after) if after else \
            "Nothing else holds: its runs count again as the runner judged them."
        more = " Comment `/reinstate` again to lift the next one." if after else ""
        return f"{code(sid, 104)}: lifted {what}, and only that. {tail}{more}"
    return _record(bot, req, sid, "reinstate", reason or f"reinstated by {req.sender}", earlier,
                   done)
