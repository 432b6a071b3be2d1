"""/status: where a pull request stands: its head commit, its validation label, its benchmark
runs of the last 24 hours (a waiting one with its place in the queue of its track's runner
label: bot/queue.py), and its author's quota (on each track, when there are several).

Gather (`gather_status`: the reads), decide (`status_text`: pure, the answer), act (the reply).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

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
    quota: Quota  # on the first track (on the only one, usually)
    runners: queue.Runners | None  # of the first track; None: no run of this PR is active
    hardware: str  # the first track's runner label
    now: dt.datetime
    commit_url: str  # of the head commit
    # Several tracks: each track's runner label, quota and runners (where a run is active).
    labels: Mapping[str, str] | None = None
    quotas: Mapping[str, Quota] | None = None
    track_runners: Mapping[str, queue.Runners] | None = None

    @property
    def first_track(self) -> str | None:
        return next(iter(self.labels)) if self.labels else None

    def track_of(self, r: BenchRun) -> str | None:
        return r.track or self.first_track


def gather_status(bot: Bot, req: Request) -> StatusFacts:
    pull = bot.repo.get_pull(req.number)
    sha, author = pull.head.sha, pull.user.login
    names = {lb.name for lb in pull.labels}
    check = next((state for state, name in labels.VALIDATION.items() if name in names),
                 "not checked yet")
    runs = tuple(recent_runs(bot, bot.now() - WINDOW))
    hardware = bot.challenge.hardware
    tracks = bot.challenge.tracks
    if len(tracks) > 1:
        first = tracks[0].name
        active = {r.track or first for r in runs if r.pr == req.number and r.active}
        per = {t.name: queue.list_runners(bot, t.runner_label)  # one call per label
               for t in tracks if t.name in active}
        quotas = {t.name: compute_quota(author, t.runs_per_author_per_day, list(runs),
                                        bot.now(), track=t.name, first_track=first)
                  for t in tracks}
        return StatusFacts(req.number, sha, author, check, runs, quotas[first], per.get(first),
                           hardware, bot.now(), bot.commit_url(sha),
                           {t.name: t.runner_label for t in tracks}, quotas, per)
    active_here = any(r.pr == req.number and r.active for r in runs)
    runners = queue.list_runners(bot, hardware) if active_here else None  # one call for all
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
            how = (f" on {code(f.track_of(r) or '', 40)}" if f.labels else "") + \
                (f" vs {code(r.vs)}" if r.vs else "")
            lines.append(f"| [{r.id}]({r.html_url}) | {code(r.path)}{how} | `{short(r.sha)}`"
                         f"{moved} | {code(r.requested_by, 40)} | {state} |")
        for r in (r for r in mine if r.active):
            if f.labels and f.track_runners is not None:
                # The queue of the run's own track: its runners, and the runs waiting for them.
                t = f.track_of(r) or ""
                label, runners = f.labels.get(t, f.hardware), f.track_runners.get(t)
                same = [x for x in f.runs if f.track_of(x) == t]
            else:
                label, runners, same = f.hardware, f.runners, list(f.runs)
            assert runners is not None
            where = queue.queue_state(same, r.id, runners, f.now)
            lines += ["", f"[Run {r.id}]({r.html_url}): " + queue.queue_line(where, label)]
    else:
        lines.append("No benchmark runs of this pull request in the last 24 hours.")
    if f.quotas:
        parts = []
        for t, q in f.quotas.items():
            nxt = f", next run possible at {when(q.next_at)}" if q.next_at else ""
            parts.append(f"on {code(t, 40)} {q.used} of {q.limit}{nxt}")
        lines += ["", f"Quota of {code(f.author, 40)} in the last 24 hours (runs used; a paired "
                      f"run counts two): {'; '.join(parts)}."]
        return "\n".join(lines)
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
