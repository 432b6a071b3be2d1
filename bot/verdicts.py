"""/withdraw, /invalidate and /reinstate: verdict records (arena.store's format) appended to the
results branch. Evidence is never deleted: a later record supersedes an earlier one, and the
ranking (leaderboard.ranking) applies them in time order. A /reinstate lifts the latest
withdrawal or invalidation still in force, and only that one (leaderboard.ranking.
submission_holds decides, for the bot and the site alike); every answer says what changed and
what still holds.

Each handler gathers (the PR's submission files, the sender's permission, the folder's owner,
the submission's records), decides with pure functions over those facts (`decide_target`,
`decide_withdrawal`, `decide_invalidation`, `decide_reinstatement`, `plan_verdict`), and only
then writes (the record, the label, the site rebuild, the reply)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from arena import exitcodes
from arena.store import new_verdict_record, verdict_errors, verdict_relpath
from arena.submission import ID_RE, location
from bot import labels
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.files import changed_files
from bot.permissions import is_maintainer
from bot.render import code
from bot.owners import folder_owner, not_owner_message
from bot.replies import NOT_ALLOWED, Handler, Refusal, Request, answer_refusal, react, reply
from bot.results_branch import StoreWriteError, append_record, stored_docs
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


@dataclass(frozen=True)
class Target:
    """The submission a verdict command is about, and the rest of its arguments (a reason)."""

    sid: str
    rest: str


def decide_target(command: str, args: str, is_pr: bool,
                  pr_ids: tuple[str, ...] = ()) -> Target | Refusal:
    """Pure: the submission named in the arguments, or the pull request's only one."""
    sid, rest = split_id(args)
    if sid:
        return Target(sid, rest)
    usage = f"`/{command} <login>/<name>{' <reason>' if command == 'invalidate' else ''}`"
    if not is_pr:
        return Refusal(f"name the submission: {usage}.")
    if len(pr_ids) == 1:
        return Target(pr_ids[0], rest)
    if not pr_ids:
        return Refusal(f"this pull request has no submission file; name one: "
                       f"`/{command} <login>/<name>`.")
    listed = ", ".join(code(i, 104) for i in pr_ids)
    return Refusal(f"this pull request has several submissions ({listed}); name one: "
                   f"`/{command} <login>/<name>`.")


def gather_target(bot: Bot, req: Request) -> Target | Refusal:
    """The PR's submission files are read only when the arguments name none."""
    named, _ = split_id(req.command.args)
    ids = tuple(pr_submissions(bot, req.number)) if named is None and req.is_pr else ()
    return decide_target(req.name, req.command.args, req.is_pr, ids)


MAX_RECORDS_READ = 500
WORDS = {"withdraw": "withdrawal", "invalidate": "invalidation", "disqualify": "disqualification"}
LABEL_OF = {"withdraw": "withdrawn", "invalidate": "invalidated", "disqualify": "invalidated"}


def submission_records(bot: Bot, sid: str) -> list[dict[str, Any]]:
    """The verdict records of one submission on the results branch (none when it does not
    exist yet): what decides what a new record changes."""
    return [doc for doc in stored_docs(
        bot, lambda p: re.fullmatch(r"verdicts/[0-9A-Za-z-]+\.json", p) is not None,
        limit=MAX_RECORDS_READ) if not verdict_errors(doc) and doc["submission"] == sid]


def describe_hold(rec: dict[str, Any]) -> str:
    return (f"the {WORDS[rec['action']]} by {code(rec['by'], 40)} ({rec['at']}: "
            f"{code(rec['reason'], 200)})")


def still_holds(held: list[dict[str, Any]]) -> str:
    if not held:
        return "Nothing else holds against it."
    return "Still in force: " + "; ".join(describe_hold(h) for h in reversed(held)) + "."


# -- decisions (pure) ---------------------------------------------------------------------------

def decide_withdrawal(sid: str, sender: str, sender_id: int | None, *,
                      maintainer: bool | None, owner: int | None) -> Refusal | None:
    """Who may withdraw: the submission's author (from the account that owns the folder, when
    one is recorded) and maintainers. `maintainer` None: not asked (it did not matter)."""
    author = sid.split("/", 1)[0]
    if author.lower() != sender.lower():
        return None if maintainer else NOT_ALLOWED
    if owner is not None and owner != sender_id and not maintainer:
        return Refusal(not_owner_message(author, owner, sender_id))
    return None


def decide_invalidation(reason: str) -> Refusal | None:
    if not reason:
        return Refusal("give a reason: `/invalidate <reason>` (it is shown on the leaderboard).")
    return None


def decide_reinstatement(sid: str, earlier: list[dict[str, Any]]) -> Refusal | None:
    held, _ = submission_holds(sid, earlier)
    if not held:
        return Refusal(f"nothing to reinstate: no withdrawal or invalidation of "
                       f"{code(sid, 104)} is in force. Nothing was recorded.")
    return None


@dataclass(frozen=True)
class VerdictPlan:
    """What a verdict command writes, and what the board will say afterwards."""

    record: dict[str, Any]
    path: str  # on the results branch
    message: str  # the commit message
    label: str | None  # the submission label the PR gets (None: none of the group)
    done: str  # the first part of the reply: what changed, what still holds


def plan_verdict(sid: str, action: str, reason: str, earlier: list[dict[str, Any]], *,
                 by: str, by_id: int | None, at: dt.datetime, pr: int) -> VerdictPlan:
    """Pure: the record to append and what it changes (leaderboard.ranking.submission_holds)."""
    record = new_verdict_record(submission=sid, action=action, reason=reason, by=by,
                                by_id=by_id, at=at)
    held, _ = submission_holds(sid, earlier + [record])
    if action == "withdraw":
        done = (f"{code(sid, 104)} is withdrawn: it leaves the leaderboard, and its results stay "
                f"on record. A maintainer can undo this with `/reinstate`. "
                f"{still_holds(held[:-1])}")
    elif action == "invalidate":
        done = (f"every run of {code(sid, 104)} is now invalid: {code(reason, 300)}. "
                f"`/reinstate` undoes it. {still_holds(held[:-1])}")
    else:
        before, _ = submission_holds(sid, earlier)
        what = describe_hold(before[-1]) if before else "nothing"
        tail = still_holds(held) if held else \
            "Nothing else holds: its runs count again as the runner judged them."
        more = " Comment `/reinstate` again to lift the next one." if held else ""
        done = f"{code(sid, 104)}: lifted {what}, and only that. {tail}{more}"
    return VerdictPlan(record, verdict_relpath(record), f"{action} {sid} (by {by}, #{pr})",
                       LABEL_OF[held[-1]["action"]] if held else None, done)


# -- acting -------------------------------------------------------------------------------------

def record_verdict(bot: Bot, req: Request, plan: VerdictPlan) -> int:
    try:
        append_record(bot, plan.path, plan.record, plan.message)
    except StoreWriteError as exc:
        reply(bot, req, f"the verdict could not be recorded: {exc} Nothing changed; try again "
                        "later or ask a maintainer.")
        return exitcodes.INFRA
    if req.is_pr:
        try:
            labels.set_state_label(bot, req.number, labels.SUBMISSION, plan.label)
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Setting the label", bot.now()))
    site = dispatch_site(bot)
    reply(bot, req, f"{plan.done} The record is `{plan.path}` on the `{bot.results_branch}` "
                    f"branch. {site}")
    return exitcodes.OK


def _plan(bot: Bot, req: Request, sid: str, action: str, reason: str,
          earlier: list[dict[str, Any]]) -> VerdictPlan:
    return plan_verdict(sid, action, reason, earlier, by=req.sender, by_id=req.sender_id,
                        at=bot.now(), pr=req.number)


def handle_withdraw(bot: Bot, req: Request) -> int:
    target = gather_target(bot, req)
    if isinstance(target, Refusal):
        return answer_refusal(bot, req, target)
    author = target.sid.split("/", 1)[0]
    own = author.lower() == req.sender.lower()
    owner = folder_owner(bot, author) if own else None
    # The permission is asked only when it decides something.
    maintainer = is_maintainer(bot, req.sender) \
        if not own or (owner is not None and owner != req.sender_id) else None
    refusal = decide_withdrawal(target.sid, req.sender, req.sender_id, maintainer=maintainer,
                                owner=owner)
    if refusal:
        return answer_refusal(bot, req, refusal)
    react(bot, req)
    return record_verdict(bot, req, _plan(bot, req, target.sid, "withdraw",
                                          target.rest or f"withdrawn by {req.sender}",
                                          submission_records(bot, target.sid)))


def maintainers_target(bot: Bot, req: Request) -> Target | Refusal:
    """/invalidate and /reinstate: maintainers only, then the submission they name."""
    if not is_maintainer(bot, req.sender):
        return NOT_ALLOWED
    return gather_target(bot, req)


def handle_invalidate(bot: Bot, req: Request) -> int:
    target = maintainers_target(bot, req)
    if isinstance(target, Refusal):
        return answer_refusal(bot, req, target)
    refusal = decide_invalidation(target.rest)
    if refusal:
        return answer_refusal(bot, req, refusal)
    react(bot, req)
    return record_verdict(bot, req, _plan(bot, req, target.sid, "invalidate", target.rest,
                                          submission_records(bot, target.sid)))


def handle_reinstate(bot: Bot, req: Request) -> int:
    target = maintainers_target(bot, req)
    if isinstance(target, Refusal):
        return answer_refusal(bot, req, target)
    earlier = submission_records(bot, target.sid)
    refusal = decide_reinstatement(target.sid, earlier)
    if refusal:
        return answer_refusal(bot, req, refusal)
    react(bot, req)
    return record_verdict(bot, req, _plan(bot, req, target.sid, "reinstate",
                                          target.rest or f"reinstated by {req.sender}", earlier))


COMMANDS: dict[str, Handler] = {"withdraw": handle_withdraw, "invalidate": handle_invalidate,
                                "reinstate": handle_reinstate}
