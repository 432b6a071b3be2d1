"""One page per submission: its standing, comparisons, lineage, configuration and every run.

A submission's page shows its own data and, of the rest of the board, only its parent's and
children's status badges (its rank, tie and comparisons are in its entry): that is its key. So
a new run re-renders the pages it moves, not all of them."""

from __future__ import annotations

from typing import Callable

from leaderboard.model import SubmissionView
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path


def pages(b: Build) -> list[Page]:
    subs = b.model.submissions
    tpl = "submission.html.j2"

    def key(s: SubmissionView) -> Callable[[], bytes]:
        def make() -> bytes:
            parent = subs.get(s.parent_id) if s.parent_id else None
            return b.digest(s, parent.status if parent else None,
                            [subs[c].status for c in s.children])
        return make

    return [b.page(tpl, page_path(s.id), key=key(s), section=None, s=s)
            for s in subs.values()]
