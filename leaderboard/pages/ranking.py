"""The ranking, paged (page 1 is the home page, with the board's two charts), and the best
submission per author."""

from __future__ import annotations

from typing import Any

from leaderboard import charts
from leaderboard.pages import Build, Page
from leaderboard.pages.common import (board_file, page_path, pager_file, paginate,
                                      track_boards)


def home_charts(b: Build, model: Any = None) -> tuple[Any, Any]:
    """The home page's charts (or a track board's first page's): TPS against perplexity (page
    1's entries and the front) and the best score over time (runs within 3 px merged, to stay
    light at thousands of runs)."""
    model = model or b.model
    ch = model.challenge
    first = model.entries[:b.page_size]
    shown = list(first) + [e for e in model.front if e not in first]
    front = charts.tps_vs_ppl(shown, model.front, ppl_cap=ch.ppl_cap,
                              ppl_reference=ch.ppl_reference, href=page_path,
                              total=len(model.entries))
    time = charts.best_over_time(verified_runs(b, model), model.records, href=page_path,
                                 now=model.generated_at, cell=3.0)
    return front, time


def lead_set(b: Build, model: Any = None) -> str:
    model = model or b.model
    return model.entries[0].tps_set if model.entries else "private"


def verified_runs(b: Build, model: Any = None) -> list[Any]:
    """The runs the time chart draws: verified, here, on the leader's prompt set, of active
    submissions."""
    model = model or b.model
    s = lead_set(b, model)
    return [r for r in model.runs if r.here and r.status == "verified" and r.tps_set == s
            and model.submissions[r.submission_id].state.state == "active"]


def pages(b: Build) -> list[Page]:
    model = b.model
    boards = track_boards(model)
    out = []
    for i, (track, board) in enumerate(boards or [(None, model)]):
        links = [dict(name=t.name, accelerator=t.accelerator, href=board_file(t, j == 0),
                      current=j == i) for j, (t, _) in enumerate(boards)]
        stem = "index" if i == 0 else board_file(track, False).removesuffix(".html")
        out += _ranking(b, board, stem, links, track)
    out += [b.page("authors.html.j2", pager_file(p, "authors"), section="authors", pager=p,
                   entries=chunk)
            for p, chunk in paginate(model.author_entries, b.page_size, "authors")]
    return out


def _ranking(b: Build, board: Any, stem: str, tracks: list[dict[str, Any]],
             track: Any) -> list[Page]:
    """One board's ranking pages: the site's own (the first track's), or another track's,
    rendered with that track's model and runner label."""
    own = board is b.model
    extra: dict[str, Any] = {} if own else dict(model=board, counts=board.counts,
                                                hardware=track.runner_label)
    out = []
    for p, chunk in paginate(board.entries, b.page_size, stem):
        path = pager_file(p, stem)

        def render(p: Any = p, chunk: Any = chunk, path: str = path) -> str:
            front, time = (b.lazy(f"home_charts:{stem}", lambda: home_charts(b, board))
                           if p.number == 1 else (None, None))
            return b.env.get_template("ranking.html.j2").render(
                root="../" * path.count("/"), section="ranking", pager=p, entries=chunk,
                chart_front=front, chart_time=time, tracks=tracks, dated=p.number == 1,
                **extra)
        out.append(Page(path, render, dated=p.number == 1))
    return out
