"""/status: where a pull request stands: its head commit, its validation label, its benchmark
runs of the last 24 hours (a waiting one with its place in the queue: bot/queue.py), and its
author's quota."""

from __future__ import annotations

from arena import exitcodes
from bot import labels, queue
from bot.commands import Request, react, reply
from bot.context import Bot
from bot.quota import WINDOW, compute_quota, recent_runs
from bot.render import code, short, when


def handle_status(bot: Bot, req: Request) -> int:
    react(bot, req)
    if not req.is_pr:
        reply(bot, req, "`/status` describes a pull request; comment it on one. The challenge's "
                        "overall state is in the digest issue (`arena digest` prints it too).")
        return exitcodes.OK
    pull = bot.repo.get_pull(req.number)
    sha, author = pull.head.sha, pull.user.login
    names = {lb.name for lb in pull.labels}
    check = next((state for state, name in labels.VALIDATION.items() if name in names),
                 "not checked yet")
    runs = [r for r in recent_runs(bot, bot.now() - WINDOW)]
    mine = [r for r in runs if r.pr == req.number]
    q = compute_quota(author, bot.challenge.quota_runs_per_day, runs, bot.now())
    lines = [f"pull request #{req.number} by {code(author, 40)}, head commit "
             f"[`{short(sha)}`]({bot.commit_url(sha)}); submission check: **{check}**.", ""]
    if mine:
        lines += ["| Run | File | Commit | Requested by | State |", "|---|---|---|---|---|"]
        for r in mine:
            state = r.status if r.active else (r.conclusion or "completed")
            moved = " (not the head any more)" if r.sha != sha else ""
            lines.append(f"| [{r.id}]({r.html_url}) | {code(r.path)} | `{short(r.sha)}`{moved} | "
                         f"{code(r.requested_by, 40)} | {state} |")
        active = [r for r in mine if r.active]
        if active:
            runners = queue.list_runners(bot, bot.challenge.hardware)  # one call for all
            for r in active:
                where = queue.queue_state(runs, r.id, runners, bot.now())
                lines += ["", f"[Run {r.id}]({r.html_url}): " +
                          queue.queue_line(where, bot.challenge.hardware)]
    else:
        lines.append("No benchmark runs of this pull request in the last 24 hours.")
    nxt = f" Next run possible at {when(q.next_at)}." if q.next_at else ""
    lines += ["", f"Quota of {code(author, 40)}: {q.used} of {q.limit} runs used in the last 24 "
                  f"hours.{nxt}"]
    reply(bot, req, "\n".join(lines))
    return exitcodes.OK
