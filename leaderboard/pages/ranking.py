"""The ranking, paged (page 1 is the home page, with the board's two charts), and the best
submission per author."""

from __future__ import annotations

from typing import Any

from leaderboard import charts
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path, pager_file, paginate


def home_charts(b: Build) -> tuple[Any, Any]:
    """The home page's charts: TPS against perplexity (page 1's entries and the front) and
    the best score over time (runs within 3 px merged, to stay light at thousands of runs)."""
    model, ch = b.model, b.model.challenge
    first = model.entries[:b.page_size]
    shown = list(first) + [e for e in model.front if e not in first]
    front = charts.tps_vs_ppl(shown, model.front, ppl_cap=ch.ppl_cap,
                              ppl_reference=ch.ppl_reference, href=page_path,
                              total=len(model.entries))
    time = charts.best_over_time(verified_runs(b), model.records, href=page_path,
                                 now=model.generated_at, cell=3.0)
    return front, time


def lead_set(b: Build) -> str:
    return b.model.entries[0].tps_set if b.model.entries else "private"


def verified_runs(b: Build) -> list[Any]:
    """The runs the time chart draws: verified, here, on the leader's prompt set, of active
    submissions."""
    model, s = b.model, lead_set(b)
    return [r for r in model.runs if r.here and r.status == "verified" and r.tps_set == s
            and model.submissions[r.submission_id].state.state == "active"]


def pages(b: Build) -> list[Page]:
    model = b.model
    out = []
    for p, chunk in paginate(model.entries, b.page_size, "index"):
        def render(p: Any = p, chunk: Any = chunk) -> str:
            front, time = b.lazy("home_charts", lambda: home_charts(b)) if p.number == 1 \
                else (None, None)
            return b.env.get_template("ranking.html.j2").render(
                root="", section="ranking", pager=p, entries=chunk, chart_front=front,
                chart_time=time)
        out.append(Page(pager_file(p), render))
    out += [b.page("authors.html.j2", pager_file(p, "authors"), section="authors", pager=p,
                   entries=chunk)
            for p, chunk in paginate(model.author_entries, b.page_size, "authors")]
    return out
