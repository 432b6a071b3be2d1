"""What was tried (leaderboard/tried.py): every configuration with its outcome, and the same
rows by tag and by engine argument."""

from __future__ import annotations

from leaderboard import tried
from leaderboard.pages import Build, Page
from leaderboard.pages.common import pager_file, paginate

TRIED_PAGE_SIZE = 250
OUTCOME_TEXT = {"verified": "verified", "invalid": "invalid", "error": "error",
                "withdrawn": "withdrawn", "disqualified": "disqualified",
                "pending": "no run yet", "negative": "negative result"}


def pages(b: Build) -> list[Page]:
    rows = tried.rows_from_model(b.model)
    counts = tried.counts(rows)
    tags = tried.by_tag(rows)
    args = tried.by_arg(rows)
    common = dict(section="tried", tried_counts=counts, outcome_text=OUTCOME_TEXT)
    size = TRIED_PAGE_SIZE
    out = [b.page("tried.html.j2", pager_file(p, "tried"), pager=p, rows=chunk,
                  offset=(p.number - 1) * size, kind=None, heading="What was tried",
                  tag_links=[(t, len(v)) for t, v in tags.items()], arg_links=args, **common)
           for p, chunk in paginate(rows, size, "tried")]
    for t, trs in tags.items():
        stem = f"tried/tag-{tried.slug(t)}"
        out += [b.page("tried.html.j2", pager_file(p, stem), pager=p, rows=chunk,
                       offset=(p.number - 1) * size, kind="tag",
                       heading=f"Tried with the tag {t}", **common)
                for p, chunk in paginate(trs, size, stem)]
    for a in args:
        stem = f"tried/arg-{a.slug}"
        links = tried.value_links(a, size)
        out += [b.page("tried.html.j2", pager_file(p, stem), pager=p, rows=chunk,
                       offset=(p.number - 1) * size, kind="arg", arg=a.name, values=links,
                       heading=f"Tried with {a.name} set", **common)
                for p, chunk in paginate(a.rows, size, stem)]
    return out
