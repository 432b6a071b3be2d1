"""/bench, /rerun and /cancel: benchmark runs on the self-hosted GPU runner, dispatched as the bench
workflow (workflow_dispatch with inputs pr, sha, path, requested_by).

/bench pins the PR's head commit at the moment it is accepted; the bench job refuses to run if the
head has moved since (`arena bot fetch-submission`), and the publish step says so on the PR.
"""

from __future__ import annotations

from typing import Any

from github import GithubException

from arena import exitcodes
from bot import checks, comments, labels, queue
from bot.client import API_ERRORS, describe_failure, maybe_applied
from bot.commands import Request, react, reply
from bot.context import Bot
from bot.permissions import is_maintainer
from bot.quota import BenchRun, compute_quota, over_quota_runs, recent_runs, run_name, WINDOW
from bot.render import code, short, when
from bot.validation import State, assess_pull_request

QUEUED_KIND = "bench"


def who_may_bench(bot: Bot) -> str:
    if bot.challenge.authors_may_bench:
        return "maintainers, and the pull request's author within their quota"
    return "maintainers (ask one to comment `/bench` after reviewing the submission)"


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
                requested_by: str, check_id: int | None, quota_line: str, nonce: str | None = None,
                queue: str = "") -> str:
    head = comments.marker(QUEUED_KIND, run=run_id, sha=sha, check=check_id, nonce=nonce) \
        if nonce else comments.with_nonce(QUEUED_KIND, run=run_id, sha=sha, check=check_id)
    return "\n".join([
        head,
        f"### ⏳ Benchmark queued: {code(sub_id)}",
        "",
        f"[Run {run_id}]({run_url}) will benchmark {code(path)} at commit "
        f"[`{short(sha)}`]({bot.commit_url(sha)}), as requested by {code(requested_by, 40)}. "
        "It waits for a GPU runner (and for a maintainer's approval where the environment asks "
        "for one); the results will be posted here.",
        "",
        "A push to this pull request before the run starts voids it: comment `/bench` again for "
        "the new commit. `/cancel` cancels it.",
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
        reply(bot, req, f"only {who_may_bench(bot)} can start a benchmark here.")
        return exitcodes.OK
    react(bot, req)

    pull = bot.repo.get_pull(req.number)
    sha, author = pull.head.sha, pull.user.login
    bot.say(f"#{req.number} head is {short(sha)}")
    a = assess_pull_request(bot, req.number, sha, author)
    if a.state is State.ERROR:
        reply(bot, req, f"{a.failure} Nothing was started; try again in a few minutes.")
        return exitcodes.INFRA
    if a.state is not State.VALID or not a.valid_reports:
        reply(bot, req, f"the submission at commit `{short(sha)}` does not pass the check "
                        "(see the check run `arena/validate` and the comment above), so nothing "
                        "was started. Fix it, push, and comment `/bench` again.")
        return exitcodes.OK
    report, why = _pick_submission(a.valid_reports, req.command.args)
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

    check_id = None
    try:
        check = checks.create_check_run(
            bot, name=checks.BENCHMARK, sha=sha, status="queued",
            title=f"Queued: {sub_id}", summary=f"Benchmark run {run_id} is queued.",
            details_url=run_url)
        check_id = check.id
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Creating the benchmark check run", bot.now()))
    quota_line = (f"Quota of {code(author, 40)}: {used_after} of {q.limit} runs used in the last "
                  "24 hours." if q.limit else "")
    comments.post_comment(bot, req.number, queued_body(
        bot, run_id=run_id, run_url=run_url, sha=sha, path=path, sub_id=sub_id,
        requested_by=req.sender, check_id=check_id, quota_line=quota_line,
        queue=queue.describe(bot, runs_after, run_id)))
    try:
        labels.set_state_label(bot, req.number, labels.BENCHMARK, "queued")
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Setting the label", bot.now()))
    return exitcodes.OK


def handle_cancel(bot: Bot, req: Request) -> int:
    if not req.is_pr:
        reply(bot, req, "`/cancel` works on a pull request with a queued or running benchmark.")
        return exitcodes.OK
    is_author = req.sender.lower() == req.issue_author.lower()
    if not is_author and not is_maintainer(bot, req.sender):
        reply(bot, req, "only maintainers and the pull request's author can cancel its runs.")
        return exitcodes.OK
    react(bot, req)
    runs: list[BenchRun] = [r for r in recent_runs(bot, bot.now() - 2 * WINDOW)
                            if r.pr == req.number and r.active]
    if not runs:
        reply(bot, req, "no benchmark of this pull request is queued or running.")
        return exitcodes.OK
    for r in runs:
        cancel_run(bot, r.id)
    listed = ", ".join(f"[run {r.id}]({r.html_url})" for r in runs)
    reply(bot, req, f"cancelling {listed}. The run's final message will follow here.")
    return exitcodes.OK
