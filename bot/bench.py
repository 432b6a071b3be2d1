"""/bench, /rerun and /cancel: benchmark runs on the self-hosted GPU runner, dispatched as the bench
workflow (workflow_dispatch with inputs pr, sha, path, requested_by).

/bench pins the PR's head commit at the moment it is accepted; the bench job refuses to run if the
head has moved since (`arena bot fetch-submission`), and the publish step says so on the PR.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from github import GithubException

from arena import exitcodes
from bot import checks, comments, labels, queue
from bot.client import API_ERRORS, describe_failure, maybe_applied
from bot.commands import Request, react, refuse, reply
from bot.context import Bot
from bot.owners import claim_folder, not_owner_message
from bot.permissions import is_maintainer
from bot.results_branch import StoreWriteError
from bot.quota import BenchRun, compute_quota, over_quota_runs, recent_runs, run_name, WINDOW
from bot.render import code, short, when
from bot.validation import COMMENT_KIND as VALIDATION_KIND, State, assess_pull_request

QUEUED_KIND = "bench"


def _pick_submission(valid: list[Any], name: str) -> tuple[Any | None, str | None]:
    """The report of the submission to run: the only one, or the one named."""
    if name:
        wanted = name.strip().lower()
        for r in valid:
            if r.submission.name == wanted or r.submission.id.lower() == wanted:
                return r, None
        names = ", ".join(code(r.submission.name, 64) for r in valid)
        return None, f"this pull request has no valid submission named {code(name, 64)}. " \
                     f"Its submissions: {names}."
    if len(valid) == 1:
        return valid[0], None
    names = ", ".join(code(r.submission.name, 64) for r in valid)
    return None, f"this pull request has {len(valid)} submissions ({names}). Name one: " \
                 "`/bench <name>`."


_SHA_ARG = re.compile(r"^[0-9a-f]{7,40}$")


def split_sha(args: str, names: list[str]) -> tuple[str, str | None]:
    """('name', 'sha prefix' or None) from `/bench [name] [sha]`: a word of 7 to 40 hex digits
    is the commit the maintainer reviewed, unless it is the name of one of the submissions."""
    words = args.split()
    sha = None
    rest = []
    for w in words:
        if sha is None and _SHA_ARG.match(w.lower()) and w.lower() not in names:
            sha = w.lower()
        else:
            rest.append(w)
    return " ".join(rest), sha


def _instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def approval_refusal(bot: Bot, req: Request, head: str, named: str | None) -> str | None:
    """Why the approval does not cover the PR's current head, or None when it does.

    The approval binds to the commit the maintainer saw when commenting, never to whatever the
    head is when this job gets there (tens of seconds later, time enough for a push):
    - `/bench <sha>` names it: the head must still be that commit;
    - `/bench` means the head the bot had last checked before the comment: the latest
      validation comment must name the current head and have been written no later than the
      comment. A push after the comment is validated after it (or not yet), so it never passes.
    """
    moved = (f"Nothing was started. Review commit [`{short(head)}`]({bot.commit_url(head)}) and "
             f"comment `/bench {short(head)}` to benchmark it.")
    if named is not None:
        if head.startswith(named):
            return None
        return (f"you approved commit `{code(named, 40)}`, but the pull request's head is now "
                f"[`{short(head)}`]({bot.commit_url(head)}): it moved after your review. "
                + moved)
    seen = comments.find_sticky(bot, req.number, VALIDATION_KIND)
    said = _instant(req.created_at)
    if seen is None or said is None:
        return ("the bot has not checked this pull request's head yet, so it cannot tell which "
                "commit you reviewed. " + moved)
    checked = seen.fields.get("head", "")
    written = seen.comment.updated_at
    written = written if written.tzinfo else written.replace(tzinfo=dt.timezone.utc)
    if checked != head:
        return (f"the head moved: when you commented, the bot had checked commit "
                f"`{short(checked) or 'unknown'}`; the head is now "
                f"[`{short(head)}`]({bot.commit_url(head)}). " + moved)
    if written > said:
        return (f"commit [`{short(head)}`]({bot.commit_url(head)}) was checked only after your "
                "comment, so your `/bench` may have been meant for an earlier one. " + moved)
    return None


def dispatch(bot: Bot, *, pr: int, sha: str, path: str, requested_by: str) -> Any:
    """Dispatch the bench workflow and return its run (id, html_url). A dispatch that may have
    happened despite an error is looked up by its run name before dispatching again."""
    workflow = bot.repo.get_workflow(bot.bench_workflow)
    inputs = {"pr": str(pr), "sha": sha, "path": path, "requested_by": requested_by}
    name = run_name(pr, path, sha, requested_by)
    started = bot.now()
    for attempt in range(2):
        try:
            return workflow.create_dispatch(bot.default_branch, inputs, throw=True,
                                            return_run_details=True)
        except API_ERRORS as exc:
            if not maybe_applied(exc) or attempt == 1:
                raise
            bot.say(f"dispatching {bot.bench_workflow} failed ({type(exc).__name__}); checking "
                    "whether the run exists anyway")
            bot.sleep(2.0)
            for run in recent_runs(bot, started - WINDOW / 24):
                if run_name(run.pr, run.path, run.sha, run.requested_by) == name \
                        and run.created_at >= started.replace(microsecond=0) - WINDOW / 144:
                    return run
    raise AssertionError("unreachable")


def cancel_run(bot: Bot, run_id: int) -> None:
    try:
        bot.gh.requester.requestJsonAndCheck(
            "POST", f"{bot.repo.url}/actions/runs/{int(run_id)}/cancel")
    except GithubException as exc:
        if exc.status != 409:  # 409: it already finished, which is what we wanted
            raise


def queued_body(bot: Bot, *, run_id: int, run_url: str, sha: str, path: str, sub_id: str,
                requested_by: str, check_id: int | str | None, quota_line: str, nonce: str | None = None,
                patch: Any = None, requested_by_id: int | None = None,
                queue: str = "") -> str:
    # What was approved: the commit, and the engine patch's SHA-256 where the submission has one.
    patch_sha = patch.sha256 if patch is not None else None
    fields = dict(run=run_id, sha=sha, check=check_id, patch=patch_sha, by=requested_by_id)
    head = comments.marker(QUEUED_KIND, **fields, nonce=nonce) if nonce else \
        comments.with_nonce(QUEUED_KIND, **fields)
    patch_line = ([f"It carries the engine patch {code(patch.path)} (SHA-256 {code(patch_sha)}: "
                   f"{patch.files} file{'s' if patch.files != 1 else ''}, +{patch.added} "
                   f"−{patch.removed} lines), which was approved with the commit.", ""]
                  if patch is not None else [])
    return "\n".join([
        head,
        f"### ⏳ Benchmark queued: {code(sub_id)}",
        "",
        f"Approved commit: [`{short(sha)}`]({bot.commit_url(sha)}), the one "
        f"{code(requested_by, 40)} reviewed. [Run {run_id}]({run_url}) will benchmark "
        f"{code(path)} at that commit and nothing else. It waits for a GPU runner (and for a "
        "maintainer's approval where the environment asks for one); the results will be posted "
        "here.",
        "",
        *patch_line,
        "A push to this pull request is never benchmarked on this approval: the run refuses a "
        "moved head, and a new commit needs a new `/bench`. `/cancel` cancels the run while it "
        "is queued (a maintainer can stop a started run, which is still recorded).",
        "",
        quota_line,
        *(["", queue] if queue else []),
    ])


def handle_bench(bot: Bot, req: Request) -> int:
    if not req.is_pr:
        reply(bot, req, "benchmarks run on pull requests. Comment `/bench` on the pull request "
                        "that adds the submission.")
        return exitcodes.OK
    if req.issue_state != "open":
        reply(bot, req, "this pull request is closed, so nothing is benchmarked here. Reopen it "
                        "or open a new one.")
        return exitcodes.OK
    maintainer = is_maintainer(bot, req.sender)
    is_author = req.sender.lower() == req.issue_author.lower()
    if not maintainer and not (is_author and bot.challenge.authors_may_bench):
        refuse(bot, req)  # /help says who may start one
        return exitcodes.OK
    react(bot, req)

    pull = bot.repo.get_pull(req.number)
    sha, author = pull.head.sha, pull.user.login
    bot.say(f"#{req.number} head is {short(sha)}")
    a = assess_pull_request(bot, req.number, sha, author, pull.user.id)
    if a.state is State.ERROR:
        reply(bot, req, f"{a.failure} Nothing was started; try again in a few minutes.")
        return exitcodes.INFRA
    if a.state is not State.VALID or not a.valid_reports:
        reply(bot, req, f"the submission at commit `{short(sha)}` does not pass the check "
                        "(see the check run `arena/validate` and the comment above), so nothing "
                        "was started. Fix it, push, and comment `/bench` again.")
        return exitcodes.OK
    name, named_sha = split_sha(req.command.args, [r.submission.name for r in a.valid_reports])
    refusal = approval_refusal(bot, req, sha, named_sha)
    if refusal:
        reply(bot, req, refusal)
        return exitcodes.OK
    report, why = _pick_submission(a.valid_reports, name)
    if report is None:
        reply(bot, req, why or "")
        return exitcodes.OK
    path, sub_id = report.path, report.submission.id
    if report.submission.negative:
        reply(bot, req, f"{code(sub_id)} is a negative result (its file has a `tried:` block): "
                        "it records what was tried and what happened, and is not benchmarked. "
                        "To have it measured, remove the `tried:` block and push.")
        return exitcodes.OK

    runs = recent_runs(bot, bot.now() - WINDOW)
    active = [r for r in runs if r.pr == req.number and r.path == path and r.active]
    if any(r.sha == sha for r in active):
        r = next(r for r in active if r.sha == sha)
        reply(bot, req, f"[run {r.id}]({r.html_url}) already benchmarks this commit; it has not "
                        "finished yet. `/status` shows where it is.")
        return exitcodes.OK
    if req.name == "rerun" and not any(r.pr == req.number and r.path == path for r in runs):
        bot.say("no earlier run in the window; /rerun acts as /bench")
    q = compute_quota(author, bot.challenge.quota_runs_per_day, runs, bot.now())
    if not maintainer and q.left <= 0:
        nxt = f" The next run is possible at {when(q.next_at)}." if q.next_at else ""
        reply(bot, req, f"{code(author, 40)} has used {q.used} of {q.limit} benchmark runs in "
                        f"the last 24 hours.{nxt} A maintainer can still start one.")
        return exitcodes.OK

    folder = path.split("/")[-2]
    if folder.lower() == author.lower() and isinstance(pull.user.id, int):
        # The first benchmark in a folder records the account that owns it (bot.owners).
        try:
            owner = claim_folder(bot, login=folder, user_id=pull.user.id, pr=req.number,
                                 at=bot.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        except StoreWriteError as exc:
            reply(bot, req, f"the folder's owner could not be recorded: {exc} Nothing was "
                            "started; try again in a few minutes.")
            return exitcodes.INFRA
        if owner != pull.user.id:
            reply(bot, req, not_owner_message(folder, owner, pull.user.id) +
                  " Nothing was started.")
            return exitcodes.OK
    bot.say(f"dispatching {bot.bench_workflow} for {path}@{short(sha)}")
    run = dispatch(bot, pr=req.number, sha=sha, path=path, requested_by=req.sender)
    run_id, run_url = int(run.id), run.html_url

    used_after = q.used + 1
    runs_after = [BenchRun(run_id, req.number, path, sha, req.sender, bot.now(), "queued", None,
                           run_url)] + [r for r in runs if r.id != run_id]
    if not maintainer:
        runs_after = recent_runs(bot, bot.now() - WINDOW)
        after = compute_quota(author, bot.challenge.quota_runs_per_day, runs_after, bot.now())
        if any(r.id == run_id for r in over_quota_runs(after)):
            cancel_run(bot, run_id)
            reply(bot, req, f"another run of {code(author, 40)}'s submissions was started at the "
                            f"same moment and used the last of the quota, so [run {run_id}]"
                            f"({run_url}) was cancelled.")
            return exitcodes.OK
        used_after = after.used

    check_id: int | str | None = None
    try:
        if checks.earlier_owner_of_head(bot, req.number, sha, author) is not None:
            check_id = checks.NO_CHECK  # the commit's checks belong to an earlier PR
            raise checks.NoCheck()
        check = checks.create_check_run(
            bot, name=checks.BENCHMARK, sha=sha, status="queued",
            title=f"Queued: {sub_id}", summary=f"Benchmark run {run_id} is queued.",
            details_url=run_url)
        check_id = check.id
    except checks.NoCheck:
        bot.say(f"{short(sha)} is also the head of an earlier PR by someone else: no check run")
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Creating the benchmark check run", bot.now()))
    quota_line = (f"Quota of {code(author, 40)}: {used_after} of {q.limit} runs used in the last "
                  "24 hours." if q.limit else "")
    comments.post_comment(bot, req.number, queued_body(
        bot, run_id=run_id, run_url=run_url, sha=sha, path=path, sub_id=sub_id,
        requested_by=req.sender, check_id=check_id, quota_line=quota_line,
        patch=report.submission.patch, requested_by_id=req.sender_id,
        queue=queue.describe(bot, runs_after, run_id)))
    try:
        labels.set_state_label(bot, req.number, labels.BENCHMARK, "queued")
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Setting the label", bot.now()))
    return exitcodes.OK


# A run is queued (nothing measured yet) while GitHub holds it before any job started; once it
# is in progress the bench job may be measuring, and only a maintainer may stop it.
QUEUED_STATUSES = ("queued", "waiting", "requested", "pending")


def handle_cancel(bot: Bot, req: Request) -> int:
    if not req.is_pr:
        reply(bot, req, "`/cancel` works on a pull request with a queued or running benchmark.")
        return exitcodes.OK
    is_author = req.sender.lower() == req.issue_author.lower()
    maintainer = is_maintainer(bot, req.sender)
    if not is_author and not maintainer:
        refuse(bot, req)
        return exitcodes.OK
    react(bot, req)
    runs: list[BenchRun] = [r for r in recent_runs(bot, bot.now() - 2 * WINDOW)
                            if r.pr == req.number and r.active]
    if not runs:
        reply(bot, req, "no benchmark of this pull request is queued or running.")
        return exitcodes.OK
    started = [] if maintainer else [r for r in runs if r.status not in QUEUED_STATUSES]
    cancel = [r for r in runs if r not in started]
    for r in cancel:
        cancel_run(bot, r.id)
    parts = []
    if cancel:
        listed = ", ".join(f"[run {r.id}]({r.html_url})" for r in cancel)
        parts.append(f"cancelling {listed}. The run's final message will follow here; a run "
                     "that had started is recorded as an error with the stage it reached.")
    if started:
        listed = ", ".join(f"[run {r.id}]({r.html_url})" for r in started)
        parts.append(f"{listed} has already started, so it runs to the end and its result is "
                     "recorded; only a maintainer can stop a started run.")
    reply(bot, req, " ".join(parts))
    return exitcodes.OK
