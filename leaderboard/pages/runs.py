"""Every run, newest first, invalid ones included, paged."""

from __future__ import annotations

from leaderboard.pages import Build, Page
from leaderboard.pages.common import pager_file, paginate


def pages(b: Build) -> list[Page]:
    return [b.page("runs.html.j2", pager_file(p, "runs"), section="runs", pager=p, runs=chunk)
            for p, chunk in paginate(b.model.runs, b.runs_page_size, "runs")]
