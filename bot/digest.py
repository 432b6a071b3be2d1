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
from dataclasses import dataclass
from typing import Any, Mapping

from arena import exitcodes
from arena.challenge import Challenge, Track, result_track
from arena.result import Result, as_result
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
from leaderboard.ranking import (
    rank,
    run_status,
    scored_tps,
    submission_state,
    tie_rule,
)

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


@dataclass(frozen=True)
class Board:
    """One track's ranking, as the digest shows it."""

    track: Track
    entries: list[Any]
    rule: Any  # leaderboard.ranking.TieRule

    @property
    def lead_tps(self) -> float | None:
        return self.entries[0].tps if self.entries else None

    def tie_tps(self) -> float:
        return round(self.rule.margin(self.lead_tps) if self.lead_tps else self.rule.margin(0.0),
                     3)


def boards(challenge: Challenge, results: list[Any],
           verdicts: list[dict[str, Any]]) -> list[Board]:
    """Each track ranked on its own, with its own noise (leaderboard.ranking)."""
    return [Board(t, rank(results, verdicts, hardware=t.runner_label, noise=t.noise),
                  tie_rule(results, verdicts, hardware=t.runner_label, noise=t.noise))
            for t in challenge.tracks]


def build_digest(challenge: Challenge, results: list[Any],
                 verdicts: list[dict[str, Any]], *, now: dt.datetime,
                 open_prs: list[dict[str, Any]] | None = None, quota: Quota | None = None,
                 unavailable: dict[str, str] | None = None, top: int = TOP,
                 recent: int = RECENT, parents: Mapping[str, str | None] | None = None,
                 ) -> dict[str, Any]:
    """Pure: the digest document. `parents` (submission id to parent id, from the checkout's
    submissions) lets each recent run be compared with its parent. A challenge with several
    tracks gets `tracks`, one board each, and each recent run its `track`; the top-level
    ranking is the first track's. A one-track challenge's document is as it always was.
    `results` are typed results, or their validated documents."""
    results = [as_result(r) for r in results]  # each read typed, lazily
    tracks = boards(challenge, results, verdicts)
    first = tracks[0]
    entries, rule, lead_tps = first.entries, first.rule, first.lead_tps
    several = len(tracks) > 1
    by_label = {b.track.runner_label: b for b in tracks}
    recent_rows = []
    for res in _latest(results, recent):
        st = run_status(res, verdicts)
        sid = res.submission.id
        compared = {}
        board = by_label.get(res.challenge.hardware)
        if st.status == "verified" and scored_tps(res) is not None and board is not None:
            compared = comparisons_json(comparisons(
                res, (parents or {}).get(sid), board.entries, board.rule,
                by_id={e.submission_id: e for e in board.entries}))
        recent_rows.append({
            "submission": sid, "run_id": res.run_id,
            "finished_at": res.finished_at, "status": st.status,
            "reasons": list(st.reasons)[:3], "tps": res.score_tps, "tps_set": res.score_set,
            "hardware": res.challenge.hardware, "compared": compared,
            **({"track": result_track(res, challenge)} if several else {})})
    with_results = _submission_ids(results)
    ids = sorted(with_results | {v["submission"] for v in verdicts})
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
            "tie_tps": first.tie_tps(),
            "ties": rule.describe(lead_tps),
            "runs_per_author_per_day": challenge.quota_runs_per_day,
            "authors_may_bench": challenge.authors_may_bench,
        },
        "ranking": [_entry_json(e) for e in entries[:top]],
        "ranked_total": len(entries),
        "recent_results": recent_rows,
        "submissions_with_results": len(with_results),
        "withdrawn_or_disqualified": [
            {"submission": sid, "state": s.state, "reason": s.reason}
            for sid, s in states.items() if s.state != "active"],
        "open_submissions": open_prs,
        "quota": quota.to_json() if quota else None,
        "unavailable": dict(unavailable or {}),
        "commands": [{"command": c, "who": w, "what": t} for c, w, t in COMMANDS_HELP],
        **({"tracks": [{
            "name": b.track.name, "runner_label": b.track.runner_label,
            "accelerator": b.track.accelerator,
            "runs_per_author_per_day": b.track.runs_per_author_per_day,
            "tie_tps": b.tie_tps(), "ties": b.rule.describe(b.lead_tps),
            "ranking": [_entry_json(e) for e in b.entries[:top]],
            "ranked_total": len(b.entries)} for b in tracks]} if several else {}),
    }


def _latest(results: list[Result], n: int) -> list[Result]:
    """The `n` runs that finished last, newest first."""
    return sorted(results, key=lambda r: (r.finished_at, r.run_id), reverse=True)[:n]


def _submission_ids(results: list[Result]) -> set[str]:
    """Every submission with a result."""
    return {r.submission.id for r in results}


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


def load_store(store: ResultsStore | None) -> tuple[list[Result], list[dict[str, Any]]]:
    if store is None:
        return [], []
    return [r.result for r in store.results()], store.verdicts()


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


def _ranking_rows(ranking: list[dict[str, Any]]) -> list[str]:
    if not ranking:
        return ["No verified runs yet."]
    lines = ["| Rank | Submission | tokens/s | Set | PPL | Run |", "|---|---|---|---|---|---|"]
    for e in ranking:
        tie = " (tie)" if e["tied"] else ""
        ppl = "–" if e["ppl"] is None else f"{e['ppl']:.3f}"
        lines.append(f"| {e['rank']}{tie} | {code(e['submission'], 104)} | {_tps(e['tps'])} "
                     f"| {e['tps_set']} | {ppl} | {code(e['run_id'], 100)} |")
    return lines


def render_markdown(doc: dict[str, Any]) -> str:
    ch = doc["challenge"]
    lines = [f"## {code(ch['title'], 120)}: the state of the challenge", "",
             f"Hardware {code(ch['hardware'], 40)} · base model {code(ch['base_model']['id'])} · "
             f"score: {ch['score']} · perplexity cap {ch['ppl_cap']:.3f} · gaps under "
             f"{ch['tie_tps']} tokens/s at the top are ties (run-to-run noise). "
             f"Updated {doc['generated_at']}.", ""]
    tracks = doc.get("tracks")
    if tracks:
        lines[2] = (f"Tracks {', '.join(code(t['name'], 40) for t in tracks)}, each ranked on "
                    f"its own · base model {code(ch['base_model']['id'])} · score: "
                    f"{ch['score']} · perplexity cap {ch['ppl_cap']:.3f}. "
                    f"Updated {doc['generated_at']}.")
        for t in tracks:
            acc = f" ({code(t['accelerator'], 80)})" if t.get("accelerator") else ""
            lines += [f"### Track {code(t['name'], 40)}{acc}: top {len(t['ranking'])} of "
                      f"{t['ranked_total']}", "",
                      f"Gaps under {t['tie_tps']} tokens/s at the top are ties; each author "
                      f"gets {t['runs_per_author_per_day']} runs per 24 hours here.", ""]
            lines += _ranking_rows(t["ranking"]) + [""]
        lines.pop()
    else:
        lines += [f"### Top {len(doc['ranking'])} of {doc['ranked_total']}", ""]
        lines += _ranking_rows(doc["ranking"])
    lines += ["", "### Recent runs", ""]
    if doc["recent_results"]:
        track_col = bool(tracks)
        lines += ["| Finished | Submission |" + (" Track |" if track_col else "") +
                  " Status | tokens/s | vs parent | vs leader |",
                  "|---|---|" + ("---|" if track_col else "") + "---|---|---|---|"]
        for r in doc["recent_results"]:
            where = f" {code(r.get('track', ''), 40)} |" if track_col else ""
            lines.append(f"| {r['finished_at']} | {code(r['submission'], 104)} |{where} "
                         f"{r['status']} | {_tps(r['tps'])} | {_versus(r, 'parent')} | "
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
    boards_ = [(f"Track {for_terminal(t['name'])}: top", t["ranking"], t["ranked_total"])
               for t in doc.get("tracks") or []] or \
        [("Top", doc["ranking"], doc["ranked_total"])]
    for i, (head, ranking, total) in enumerate(boards_):
        out += ([""] if i else []) + [f"{head} {len(ranking)} of {total}:"]
        for e in ranking:
            out.append(f"  {e['rank']:>3}{'=' if e['tied'] else ' '} {_tps(e['tps']):>8} tok/s  "
                       f"{for_terminal(e['submission'])}")
        if not ranking:
            out.append("  no verified runs yet")
    out += ["", "Recent runs:"]
    for r in doc["recent_results"]:
        out.append(f"  {r['finished_at']}  {r['status']:<8} {_tps(r['tps']):>8}  "
                   f"{for_terminal(r['submission'])}"
                   + (f" on {for_terminal(r['track'])}" if r.get("track") else "")
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

