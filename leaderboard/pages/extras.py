"""The Atom feed of new records, llms.txt (a plain-text entry point for agents) and the 404
page."""

from __future__ import annotations

from leaderboard import api
from leaderboard.model import SiteModel
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path
from leaderboard.pages.format import _utc
from leaderboard.pages.ranking import lead_set


def pages(b: Build) -> list[Page]:
    model, ch = b.model, b.model.challenge
    # The feed announces a new leader; a submission re-run a little faster is not news.
    recs = [r for r in reversed(model.records)
            if r.previous_submission_id != r.submission_id][:50]
    updated = _utc(recs[0].started_at) if recs else api.stamp(model.generated_at)
    return [
        b.page("notfound.html.j2", "404.html", section=None),
        Page("feed.xml", b.page("feed.xml.j2", "feed.xml", recs=recs, updated=updated,
                                lead_set=lead_set(b), feed_id=f"urn:arena:{ch.id}").render,
             html=False, dated=not recs),
        Page("llms.txt", lambda: llms_txt(model), html=False),
    ]


def llms_txt(model: SiteModel) -> str:
    """A plain-text entry point for agents: what this is and where the data lives."""
    ch = model.challenge
    lines = [f"# {ch.title} leaderboard", "",
             f"> Challenge {ch.id} on {ch.hardware} hardware. Score: median decode tokens/s at "
             f"batch 1 on the private prompts; perplexity at most {ch.ppl_cap:.4g}; gaps "
             f"within the run-to-run noise are ties.", "",
             "## Ties", "",
             (model.tie_rule.describe(model.entries[0].tps if model.entries else None)
              if model.tie_rule else "No tie rule."), "",
             "## Data", "",
             f"- [Leaderboard JSON](api/leaderboard.json): format {api.LEADERBOARD_FORMAT}",
             f"- [Submissions JSON](api/submissions.json): format {api.SUBMISSIONS_FORMAT}",
             f"- [Runs JSON](api/runs.json): format {api.RUNS_FORMAT}",
             "- [API documentation](api/index.html), schemas in api/schema/",
             "- [New records (Atom)](feed.xml)", "", "## Top 10", ""]
    for e in model.entries[:10]:
        tie = (f" (tied: {e.group_size} share rank {e.rank}"
               f"{', the fastest of them' if e.fastest else ''})" if e.tied else "")
        lines.append(f"- {e.rank}. [{e.submission_id}]({page_path(e.submission_id)}): "
                     f"{e.tps:.1f} tok/s ({e.tps_set}), ppl "
                     f"{'n/a' if e.ppl is None else f'{e.ppl:.4g}'}{tie}")
    if not model.entries:
        lines.append("- no verified runs yet")
    return "\n".join(lines) + "\n"
