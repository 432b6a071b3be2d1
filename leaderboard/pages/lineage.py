"""The tree page: every submission under its parent, and the lineage drawn as a graph."""

from __future__ import annotations

from leaderboard import charts
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path


def pages(b: Build) -> list[Page]:
    model = b.model

    def render() -> str:
        graph = charts.lineage(list(model.submissions.values()), href=page_path,
                               lead_id=model.entries[0].submission_id if model.entries
                               else None)
        return b.env.get_template("tree.html.j2").render(root="", section="tree",
                                                         tree=model.tree, graph=graph)

    return [Page("tree.html", render)]
