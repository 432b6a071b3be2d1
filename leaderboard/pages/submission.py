"""One page per submission: its standing, comparisons, lineage, configuration and every run.

A submission's page shows its own data and, of the rest of the board, only its parent's and
children's status badges (its rank, tie and comparisons are in its entry): that is its key. So
a new run re-renders the pages it moves, not all of them."""

from __future__ import annotations

from typing import Any, Callable

from leaderboard.model import SubmissionView
from leaderboard.pages import Build, Page
from leaderboard.pages.common import board_file, page_path, track_boards


def pages(b: Build) -> list[Page]:
    subs = b.model.submissions
    tpl = "submission.html.j2"
    others = track_boards(b.model)[1:]  # the page is the first track's; the others in a line

    def other_tracks(s: SubmissionView) -> list[tuple[str, Any, str]]:
        out = []
        for track, board in others:
            view = board.submissions.get(s.id)
            if view is not None and (view.entry is not None or any(r.here for r in view.runs)):
                out.append((track.name, view.entry, board_file(track, False)))
        return out

    def key(s: SubmissionView, also: list[Any]) -> Callable[[], bytes]:
        def make() -> bytes:
            parent = subs.get(s.parent_id) if s.parent_id else None
            return b.digest(s, parent.status if parent else None,
                            [subs[c].status for c in s.children], also)
        return make

    out = []
    for s in subs.values():
        also = other_tracks(s) if others else []
        out.append(b.page(tpl, page_path(s.id), key=key(s, also), section=None, s=s,
                          other_tracks=also))
    return out
