"""The challenge at a glance: `arena digest [--json]` for agents and people, and the digest issue
the bot keeps up to date (`arena bot update-digest`).

The document is built by a pure function from the results store (a checkout of the results
branch), the challenge, and what GitHub says about open pull requests and the asker's quota;
the parts that need GitHub are null, with the reason, when it cannot be asked.

The digest issue is found again by its label, its marker and the bot's login, and is never
recreated while it exists, so pinning it once by hand (GitHub's REST API cannot pin issues)
keeps it pinned.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from arena import exitcodes
from arena.challenge import Challenge
from arena.result import score_set, score_tps
from arena.store import ResultsStore, iso
from arena.submission import SubmissionIndex
from arena.text import for_terminal
from bot import comments, labels
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.quota import Quota, quota_for
from bot.render import COMMANDS_HELP, code, footer
from bot.writes import create_once
from leaderboard.compare import comparisons, comparisons_json
from leaderboard.ranking import rank, run_status, scored_tps, submission_state, tie_rule

FORMAT = "arena.digest/1"
TOP = 10
RECENT = 10
ISSUE_KIND = "digest"


def _entry_json(e: Any) -> dict[str, Any]:
    return {"rank": e.rank, "tied": e.tied, "submission": e.submission_id, "author": e.author,
            "name": e.name, "tps": round(e.tps, 3), "tps_set": e.tps_set,
            "stdev": round(e.stdev, 3), "ci95": [round(x, 3) for x in e.ci95],
            "public_tps": e.public_tps, "private_tps": e.private_tps, "ppl": e.ppl,
            "run_id": e.run_id, "started_at": e.started_at}


def build_digest(challenge: Challenge, results: list[dict[str, Any]],
                 verdicts: list[dict[str, Any]], *, now: dt.datetime,
                 open_prs: list[dict[str, Any]] | None = None, quota: Quota | None = None,
                 unavailable: dict[str, str] | None = None, top: int = TOP,
                 recent: int = RECENT, parents: Mapping[str, str | None] | None = None,
                 ) -> dict[str, Any]:
    """Pure: the digest document. `parents` (submission id to parent id, from the checkout's
    submissions) lets each recent run be compared with its parent."""
    entries = rank(results, verdicts, hardware=challenge.hardware, noise=challenge.noise)
    rule = tie_rule(results, verdicts, hardware=challenge.hardware, noise=challenge.noise)
    lead_tps = entries[0].tps if entries else None
    latest = sorted(results, key=lambda r: (r["finished_at"], r["run_id"]), reverse=True)
    recent_rows = []
    by_id = {e.submission_id: e for e in entries}
    for r in latest[:recent]:
        st = run_status(r, verdicts)
        sid = r["submission"]["id"]
        compared = {}
        if st.status == "verified" and scored_tps(r) is not None and \
                r["challenge"]["hardware"] == challenge.hardware:
            compared = comparisons_json(comparisons(r, (parents or {}).get(sid), entries, rule,
                                                    by_id=by_id))
        recent_rows.append({
            "submission": sid, "run_id": r["run_id"],
            "finished_at": r["finished_at"], "status": st.status,
            "reasons": list(st.reasons)[:3], "tps": score_tps(r), "tps_set": score_set(r),
            "hardware": r["challenge"]["hardware"], "compared": compared})
    ids = sorted({r["submission"]["id"] for r in results} |
                 {v["submission"] for v in verdicts})
    states = {sid: submission_state(sid, verdicts) for sid in ids}
    return {
        "format": FORMAT,
        "generated_at": iso(now),
        "challenge": {
            "id": challenge.id, "title": challenge.title, "hardware": challenge.hardware,
            "base_model": {"id": challenge.base_model.id,
                           "revision": challenge.base_model.revision},
            "score": "median decode tokens/s at batch 1 (private prompts when measured)",
            "ppl_cap": round(challenge.ppl_cap, 6),
            # The tie margin at the leader's score (the rule: leaderboard.ranking.TieRule).
            "tie_tps": round(rule.margin(lead_tps) if lead_tps else rule.margin(0.0), 3),
            "ties": rule.describe(lead_tps),
            "runs_per_author_per_day": challenge.quota_runs_per_day,
            "authors_may_bench": challenge.authors_may_bench,
        },
        "ranking": [_entry_json(e) for e in entries[:top]],
        "ranked_total": len(entries),
        "recent_results": recent_rows,
        "submissions_with_results": len({r["submission"]["id"] for r in results}),
        "withdrawn_or_disqualified": [
            {"submission": sid, "state": s.state, "reason": s.reason}
            for sid, s in states.items() if s.state != "active"],
        "open_submissions": open_prs,
        "quota": quota.to_json() if quota else None,
        "unavailable": dict(unavailable or {}),
        "commands": [{"command": c, "who": w, "what": t} for c, w, t in COMMANDS_HELP],
    }


def open_submission_prs(bot: Bot) -> list[dict[str, Any]]:
    """Open pull requests the bot has labelled, with their states (one request per 100)."""
    out = []
    val = {v: k for k, v in labels.VALIDATION.items()}
    ben = {v: k for k, v in labels.BENCHMARK.items()}
    for i, pr in enumerate(bot.repo.get_pulls(state="open", sort="updated", direction="desc")):
        if i >= 300:
            break
        names = [lb.name for lb in pr.labels]
        check = next((val[n] for n in names if n in val), None)
        if check is None:
            continue
        out.append({"pr": pr.number, "title": pr.title, "author": pr.user.login,
                    "url": pr.html_url, "check": check,
                    "benchmark": next((ben[n] for n in names if n in ben), None),
                    "updated_at": pr.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return out


def load_store(store: ResultsStore | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if store is None:
        return [], []
    return [r.doc for r in store.results()], store.verdicts()


# -- readable forms -----------------------------------------------------------------------------

def _tps(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _versus(row: dict[str, Any], key: str, markdown: bool = True) -> str:
    """'+12.3 (better)' for one comparison of a recent run; '–' when there is none."""
    c = (row.get("compared") or {}).get(key)
    if not c or c.get("verdict") is None:
        return "–"
    who = f" vs {c['baseline']['submission']}" if key == "leader" else ""
    if markdown and who:
        who = f" vs {code(c['baseline']['submission'], 104)}"
    return f"{c['diff_tps']:+.1f} ({c['verdict']}){who}"


def render_markdown(doc: dict[str, Any]) -> str:
    ch = doc["challenge"]
    lines = [f"## {code(ch['title'], 120)}: the state of the challenge", "",
             f"Hardware {code(ch['hardware'], 40)} · base model {code(ch['base_model']['id'])} · "
             f"score: {ch['score']} · perplexity cap {ch['ppl_cap']:.3f} · gaps under "
             f"{ch['tie_tps']} tokens/s at the top are ties (run-to-run noise). "
             f"Updated {doc['generated_at']}.", "",
             f"### Top {len(doc['ranking'])} of {doc['ranked_total']}", ""]
    if doc["ranking"]:
        lines += ["| Rank | Submission | tokens/s | Set | PPL | Run |", "|---|---|---|---|---|---|"]
        for e in doc["ranking"]:
            tie = " (tie)" if e["tied"] else ""
            ppl = "–" if e["ppl"] is None else f"{e['ppl']:.3f}"
            lines.append(f"| {e['rank']}{tie} | {code(e['submission'], 104)} | {_tps(e['tps'])} "
                         f"| {e['tps_set']} | {ppl} | {code(e['run_id'], 100)} |")
    else:
        lines.append("No verified runs yet.")
    lines += ["", "### Recent runs", ""]
    if doc["recent_results"]:
        lines += ["| Finished | Submission | Status | tokens/s | vs parent | vs leader |",
                  "|---|---|---|---|---|---|"]
        for r in doc["recent_results"]:
            lines.append(f"| {r['finished_at']} | {code(r['submission'], 104)} | {r['status']} "
                         f"| {_tps(r['tps'])} | {_versus(r, 'parent')} | "
                         f"{_versus(r, 'leader')} |")
    else:
        lines.append("No runs yet.")
    lines += ["", "### Open submissions", ""]
    if doc["open_submissions"] is None:
        lines.append("Unknown: " + code(doc["unavailable"].get("open_submissions", "not asked")))
    elif doc["open_submissions"]:
        lines += ["| PR | Title | Author | Check | Benchmark |", "|---|---|---|---|---|"]
        for p in doc["open_submissions"]:
            lines.append(f"| #{p['pr']} | {code(p['title'], 80)} | {code(p['author'], 40)} | "
                         f"{p['check']} | {p['benchmark'] or '–'} |")
    else:
        lines.append("None open.")
    if doc["withdrawn_or_disqualified"]:
        lines += ["", "Withdrawn or disqualified: " + ", ".join(
            f"{code(w['submission'], 104)} ({w['state']})" for w in doc["withdrawn_or_disqualified"])]
    lines += ["", f"Each author gets {ch['runs_per_author_per_day']} benchmark runs per 24 hours. "
                  "For agents: `arena digest --json` prints this as one JSON document "
                  f"(`{doc['format']}`)."]
    return "\n".join(lines)


def render_text(doc: dict[str, Any]) -> str:
    """The terminal form of `arena digest`."""
    ch = doc["challenge"]
    out = [f"{for_terminal(ch['title'])} ({for_terminal(ch['id'])}) on "
           f"{for_terminal(ch['hardware'])}; updated {doc['generated_at']}", ""]
    out.append(f"Top {len(doc['ranking'])} of {doc['ranked_total']}:")
    for e in doc["ranking"]:
        out.append(f"  {e['rank']:>3}{'=' if e['tied'] else ' '} {_tps(e['tps']):>8} tok/s  "
                   f"{for_terminal(e['submission'])}")
    if not doc["ranking"]:
        out.append("  no verified runs yet")
    out += ["", "Recent runs:"]
    for r in doc["recent_results"]:
        out.append(f"  {r['finished_at']}  {r['status']:<8} {_tps(r['tps']):>8}  "
                   f"{for_terminal(r['submission'])}"
                   + "".join(f"  {k}: {for_terminal(_versus(r, k, markdown=False))}"
                             for k in ("parent", "leader")
                             if (r.get("compared") or {}).get(k, {}).get("verdict")))
    if not doc["recent_results"]:
        out.append("  none")
    out += ["", "Open submissions:"]
    if doc["open_submissions"] is None:
        out.append("  unknown: " + for_terminal(doc["unavailable"].get("open_submissions", "")))
    for p in doc["open_submissions"] or []:
        out.append(f"  #{p['pr']:<5} {p['check']:<8} {p['benchmark'] or '-':<9} "
                   f"{for_terminal(p['author'])}: {for_terminal(p['title'], 70)}")
    q = doc["quota"]
    out += ["", "Quota: " + (f"{for_terminal(q['author'])} used {q['used']} of {q['limit']} runs in "
                             f"24 h" + (f"; next at {q['next_run_at']}" if q["next_run_at"] else "")
                             if q else "unknown: " + for_terminal(doc["unavailable"].get(
                                 "quota", "pass --login and a GITHUB_TOKEN")))]
    return "\n".join(out)


# -- the digest issue ---------------------------------------------------------------------------

def _find_issue(bot: Bot) -> Any | None:
    for issue in bot.repo.get_issues(state="open", labels=[labels.DIGEST]):
        if "/pull/" in (issue.html_url or ""):  # the issues list includes pull requests
            continue
        fields = comments.parse_marker(issue.body)
        if fields and fields.get("kind") == ISSUE_KIND and \
                comments.is_bot_login(issue.user.login, bot.login):
            return issue
    return None


def update_digest(bot: Bot, doc: dict[str, Any]) -> int:
    body = comments.marker(ISSUE_KIND) + "\n" + render_markdown(doc) + footer(bot)
    body = comments.clip(body)
    title = f"Digest: {bot.challenge.title}"
    try:
        issue = _find_issue(bot)
        if issue is not None:
            if issue.body != body:
                issue.edit(body=body)
                bot.say(f"updated the digest issue #{issue.number}")
            else:
                bot.say(f"the digest issue #{issue.number} is up to date")
            return exitcodes.OK
        issue = create_once(bot, "creating the digest issue",
                            lambda: bot.repo.create_issue(title=title, body=body,
                                                          labels=[labels.DIGEST]),
                            lambda: _find_issue(bot), pause_s=2.0)
        bot.say(f"the digest issue is #{issue.number}; pin it once by hand")
        return exitcodes.OK
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Updating the digest issue", bot.now()))
        bot.summarize(render_markdown(doc))
        return exitcodes.INFRA


def digest_for(bot: Bot | None, challenge: Challenge, store: ResultsStore | None, *,
               login: str | None, now: dt.datetime, store_reason: str | None = None
               ) -> dict[str, Any]:
    """Gather what is available (GitHub only when a bot client is given) and build the doc."""
    results, verdicts = load_store(store)
    unavailable: dict[str, str] = {}
    if store is None:
        unavailable["results"] = store_reason or "no results store given (--store DIR)"
    open_prs = None
    quota = None
    if bot is None:
        unavailable["open_submissions"] = "no GitHub token (GITHUB_TOKEN, GITHUB_REPOSITORY)"
        unavailable["quota"] = "no GitHub token (GITHUB_TOKEN, GITHUB_REPOSITORY)"
    else:
        try:
            open_prs = open_submission_prs(bot)
        except API_ERRORS as exc:
            unavailable["open_submissions"] = describe_failure(exc, "Listing pull requests", now)
        if login:
            try:
                quota = quota_for(bot, login)
            except API_ERRORS as exc:
                unavailable["quota"] = describe_failure(exc, "Counting bench runs", now)
        else:
            unavailable["quota"] = "no --login given"
    parents = SubmissionIndex.scan(challenge.submissions_dir,
                                   max_bytes=challenge.max_submission_bytes).parents
    return build_digest(challenge, results, verdicts, now=now, open_prs=open_prs, quota=quota,
                        unavailable=unavailable, parents=parents)

