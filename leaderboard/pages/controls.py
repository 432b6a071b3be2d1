"""The control runs page: each track's series, drifted runners and the runs they flag."""

from __future__ import annotations

from leaderboard.pages import Build, Page


def pages(b: Build) -> list[Page]:
    return [b.page("controls.html.j2", "controls.html", section="controls",
                   controls=b.model.controls)]
