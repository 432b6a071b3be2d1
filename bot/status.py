"""/status: where a pull request stands: its head commit, its validation label, its benchmark
runs of the last 24 hours (a waiting one with its place in the queue: bot/queue.py), and its
author's quota.

Gather (`gather_status`: the reads), decide (`status_text`: pure, the answer), act (the reply).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from arena import exitcodes
from bot import labels, queue
from bot.context import Bot
from bot.quota import WINDOW, BenchRun, Quota, compute_quota, recent_runs
from bot.render import code, short, when
from bot.replies import Handler, Request, react, reply

NOT_A_PR = ("`/status` describes a pull request; comment it on one. The challenge's overall "
            "state is in the digest issue (`arena digest` prints it too).")


@dataclass(frozen=True)
class StatusFacts:
    number: int
    head_sha: str
    author: str
    check: str  # the validation label's state, or "not checked yet"
    runs: tuple[BenchRun, ...]  # every bench run of the last 24 hours (the queue's input)
    quota: Quota
    runners: queue.Runners | None  # None when no run of this PR is waiting or running
    hardware: str  # the runner label the queue is for
    now: dt.datetime
    commit_url: str  # of the head commit


def gather_status(bot: Bot, req: Request) -> StatusFacts:
    pull = bot.repo.get_pull(req.number)
    sha, author = pull.head.sha, pull.user.login
    names = {lb.name for lb in pull.labels}
    check = next((state for state, name in labels.VALIDATION.items() if name in names),
                 "not checked yet")
    runs = tuple(recent_runs(bot, bot.now() - WINDOW))
    hardware = bot.challenge.hardware
    active = any(r.pr == req.number and r.active for r in runs)
    runners = queue.list_runners(bot, hardware) if active else None  # one call for all
    return StatusFacts(req.number, sha, author, check, runs,
                       compute_quota(author, bot.challenge.quota_runs_per_day, list(runs),
                                     bot.now()),
                       runners, hardware, bot.now(), bot.commit_url(sha))


def status_text(f: StatusFacts) -> str:
    """Pure: the answer to /status."""
    mine = [r for r in f.runs if r.pr == f.number]
    lines = [f"pull request #{f.number} by {code(f.author, 40)}, head commit "
             f"[`{short(f.head_sha)}`]({f.commit_url}); submission check: **{f.check}**.", ""]
    if mine:
        lines += ["| Run | File | Commit | Requested by | State |", "|---|---|---|---|---|"]
        for r in mine:
            state = r.status if r.active else (r.conclusion or "completed")
            moved = " (not the head any more)" if r.sha != f.head_sha else ""
            lines.append(f"| [{r.id}]({r.html_url}) | {code(r.path)} | `{short(r.sha)}`{moved} | "
                         f"{code(r.requested_by, 40)} | {state} |")
        for r in (r for r in mine if r.active):
            assert f.runners is not None
            where = queue.queue_state(list(f.runs), r.id, f.runners, f.now)
            lines += ["", f"[Run {r.id}]({r.html_url}): " + queue.queue_line(where, f.hardware)]
    else:
        lines.append("No benchmark runs of this pull request in the last 24 hours.")
    q = f.quota
    nxt = f" Next run possible at {when(q.next_at)}." if q.next_at else ""
    lines += ["", f"Quota of {code(f.author, 40)}: {q.used} of {q.limit} runs used in the last 24 "
                  f"hours.{nxt}"]
    return "\n".join(lines)


def handle_status(bot: Bot, req: Request) -> int:
    react(bot, req)
    if not req.is_pr:
        reply(bot, req, NOT_A_PR)
        return exitcodes.OK
    reply(bot, req, status_text(gather_status(bot, req)))
    return exitcodes.OK


COMMANDS: dict[str, Handler] = {"status": handle_status}
