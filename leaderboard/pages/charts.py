"""The charts page: every ranked submission against perplexity, the best score over time, the
Pareto front and the records."""

from __future__ import annotations

from leaderboard import charts
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path
from leaderboard.pages.ranking import verified_runs


def pages(b: Build) -> list[Page]:
    model, ch = b.model, b.model.challenge

    def render() -> str:
        front = charts.tps_vs_ppl(model.entries, model.front, ppl_cap=ch.ppl_cap,
                                  ppl_reference=ch.ppl_reference, href=page_path,
                                  chart_id="tps-ppl-all", cell=1.0)
        time = charts.best_over_time(verified_runs(b), model.records, href=page_path,
                                     now=model.generated_at)
        return b.env.get_template("charts.html.j2").render(
            root="", section="charts", chart_front=front, chart_time=time)

    return [Page("charts.html", render, dated=True)]
