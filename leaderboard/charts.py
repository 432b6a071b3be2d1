"""SVG charts, drawn at build time: readable without JavaScript, styled by the site's CSS.

Three charts: TPS against perplexity (the Pareto front and the perplexity cap drawn), the best
verified TPS over time (every verified run a point, the record as a step line), and the
exploration tree as a lineage graph (every submission a node by time and TPS, an edge to its
parent). Each has a
<title> and a <desc> that says in words what it shows, labelled axes, and a link on every
marked point. Thousands of points stay small: points that fall on the same few pixels are drawn
once (the one listed first wins), and the caption says how many were drawn.

All text that reaches the markup goes through markupsafe's escape.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable, Sequence

from markupsafe import Markup, escape

from leaderboard.model import RunView, SubmissionView
from leaderboard.ranking import Entry, Record, instant

W, H = 600, 380
PAD_L, PAD_R, PAD_T, PAD_B = 70, 24, 22, 58
FONT = 15


@dataclass(frozen=True)
class Chart:
    svg: Markup
    drawn: int  # marks drawn
    total: int  # data points the chart stands for
    merged: int = 0  # points drawn as another one's mark (on the same few pixels)
    unplaced: int = 0  # points that have no place on it (the lineage: no run yet)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values from at or below `lo` to at or above `hi`."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _fmt_tick(v: float, step: float) -> str:
    """A tick label with as many decimals as the step needs (0.025 -> 3, 5 -> 0)."""
    decimals = 0
    while decimals < 6 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-6:
        decimals += 1
    return f"{v:,.{decimals}f}"


class _Frame:
    def __init__(self, x0: float, x1: float, y0: float, y1: float):
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def x(self, v: float) -> float:
        return PAD_L + (v - self.x0) / (self.x1 - self.x0) * (W - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return H - PAD_B - (v - self.y0) / (self.y1 - self.y0) * (H - PAD_T - PAD_B)


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<rect class="plot-bg" x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}"/>',
    ]


def _y_axis(parts: list[str], f: _Frame, ticks: Sequence[float], label: str) -> None:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for t in ticks:
        y = f.y(t)
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{PAD_L - 8}" y="{y + 5:.1f}" text-anchor="end">'
                     f'{escape(_fmt_tick(t, step))}</text>')
    parts.append(f'<text class="axis-label" transform="translate(18 {(H - PAD_B + PAD_T) / 2}) '
                 f'rotate(-90)" text-anchor="middle">{escape(label)}</text>')


def _x_axis(parts: list[str], f: _Frame, ticks: Sequence[tuple[float, str]], label: str) -> None:
    for v, text in ticks:
        x = f.x(v)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" '
                     f'y2="{H - PAD_B}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{H - PAD_B + 20}" '
                     f'text-anchor="middle">{escape(text)}</text>')
    parts.append(f'<text class="axis-label" x="{(W + PAD_L - PAD_R) / 2}" y="{H - 10}" '
                 f'text-anchor="middle">{escape(label)}</text>')


def _empty(chart_id: str, title: str, message: str) -> Chart:
    parts = _open(chart_id, title, message)
    parts.append(f'<text class="empty" x="{W / 2}" y="{H / 2}" text-anchor="middle">'
                 f'{escape(message)}</text></svg>')
    return Chart(Markup("".join(parts)), 0, 0)


def tps_vs_ppl(entries: Sequence[Entry], front: Sequence[Entry], *, ppl_cap: float,
               ppl_reference: float, href: Callable[[str], str], chart_id: str = "tps-ppl",
               total: int | None = None, cell: float = 2.0) -> Chart:
    """TPS (up) against perplexity (right = worse), the front as a step line, the cap as a
    dashed line. `entries` are the points to draw (best first); `total`, when larger, is how
    many ranked entries there are in all."""
    title = "Speed against quality"
    pts = [e for e in entries if e.ppl is not None]
    front_pts = [e for e in front if e.ppl is not None]
    if not pts and not front_pts:
        return _empty(chart_id, title, "No verified runs yet: nothing to plot.")
    allp = pts + front_pts
    ppls = [e.ppl for e in allp] + [ppl_cap, ppl_reference]  # type: ignore[misc]
    tpss = [e.tps for e in allp]
    x_lo, x_hi = min(ppls), max(ppls)
    xpad = (x_hi - x_lo) * 0.06 or 0.01
    y_lo, y_hi = min(tpss), max(tpss)
    ypad = (y_hi - y_lo) * 0.08 or max(1.0, y_hi * 0.05)
    yt = nice_ticks(max(0.0, y_lo - ypad), y_hi + ypad)
    xt = nice_ticks(x_lo - xpad, x_hi + xpad)
    f = _Frame(min(xt[0], x_lo - xpad), max(xt[-1], x_hi + xpad), yt[0], yt[-1])
    xstep = xt[1] - xt[0] if len(xt) > 1 else 0.01
    names = ", ".join(e.submission_id for e in front_pts[:10])
    more = f" and {len(front_pts) - 10} more" if len(front_pts) > 10 else ""
    n_total = total if total is not None else len(pts)
    desc = (f"Each point is a ranked submission's best verified run: tokens per second "
            f"against perplexity (lower is better). {n_total} ranked. The Pareto front "
            f"(no submission is both faster and more accurate) is {names}{more}. The "
            f"perplexity cap is {ppl_cap:.4g}; the reference is {ppl_reference:.4g}.")
    parts = _open(chart_id, title, desc)
    _y_axis(parts, f, yt, "tokens/s (median, higher is better)")
    _x_axis(parts, f, [(v, _fmt_tick(v, xstep)) for v in xt],
            "perplexity (lower is better)")
    cx = f.x(ppl_cap)
    parts.append(f'<line class="cap" x1="{cx:.1f}" x2="{cx:.1f}" y1="{PAD_T}" '
                 f'y2="{H - PAD_B}"/>')
    parts.append(f'<text class="cap-label" x="{cx - 4:.1f}" y="{PAD_T + 14}" '
                 f'text-anchor="end">cap {escape(f"{ppl_cap:.4g}")}</text>')
    rx = f.x(ppl_reference)
    parts.append(f'<line class="ref" x1="{rx:.1f}" x2="{rx:.1f}" y1="{PAD_T}" '
                 f'y2="{H - PAD_B}"/>')
    parts.append(f'<text class="ref-label" x="{rx + 4:.1f}" y="{H - PAD_B - 6}">'
                 f'reference</text>')

    if front_pts:
        # A staircase through the front: from the lowest perplexity, right then up.
        fp = sorted(front_pts, key=lambda e: e.ppl)  # type: ignore[arg-type,return-value]
        d = [f"M{f.x(fp[0].ppl):.1f} {f.y(fp[0].tps):.1f}"]  # type: ignore[arg-type]
        for prev, e in zip(fp, fp[1:]):
            d.append(f"H{f.x(e.ppl):.1f}V{f.y(e.tps):.1f}")  # type: ignore[arg-type]
        parts.append(f'<path class="front-line" d="{"".join(d)}"/>')

    front_ids = {e.submission_id for e in front_pts}
    taken: set[tuple[int, int]] = set()
    drawn = 0
    marks = [e for e in pts if e.submission_id not in front_ids]
    for e in marks:
        x, y = f.x(e.ppl), f.y(e.tps)  # type: ignore[arg-type]
        key = (int(x // cell), int(y // cell))
        if key in taken:
            continue
        taken.add(key)
        drawn += 1
        parts.append(_point(href(e.submission_id), x, y, "pt",
                            f"#{e.rank} {e.submission_id}: {e.tps:.1f} tok/s, "
                            f"perplexity {e.ppl:.4f}"))
    # Name the front's points where a label fits: beside the point, on whichever side
    # overlaps neither another label nor a front point.
    boxes: list[tuple[float, float, float, float]] = []
    dots = [(f.x(e.ppl), f.y(e.tps)) for e in front_pts]  # type: ignore[arg-type]
    for e in front_pts:
        x, y = f.x(e.ppl), f.y(e.tps)  # type: ignore[arg-type]
        drawn += 1
        parts.append(_point(href(e.submission_id), x, y, "pt front",
                            f"#{e.rank} {e.submission_id} (on the front): {e.tps:.1f} tok/s, "
                            f"perplexity {e.ppl:.4f}"))
        if len(boxes) >= 8:
            continue
        width = 8.2 * len(e.name) + 4
        for anchor in (("end", "start") if x > W * 0.6 else ("start", "end")):
            x0 = x - 9 - width if anchor == "end" else x + 9
            box = (x0, y - 11, x0 + width, y + 6)
            if box[0] < PAD_L or box[2] > W - PAD_R:
                continue
            if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                   for b in boxes):
                continue
            if any(box[0] - 4 < dx < box[2] + 4 and box[1] - 4 < dy < box[3] + 4
                   for dx, dy in dots):
                continue
            boxes.append(box)
            tx = x - 9 if anchor == "end" else x + 9
            parts.append(f'<text class="pt-label" x="{tx:.1f}" y="{y + 5:.1f}" '
                         f'text-anchor="{anchor}">{escape(e.name)}</text>')
            break
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), drawn, max(n_total, len(pts)))


def _point(href: str, x: float, y: float, cls: str, label: str) -> str:
    return (f'<a href="{escape(href)}"><circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="5">'
            f'<title>{escape(label)}</title></circle></a>')


_TIME_STEPS = [(3600, "%H:%M"), (6 * 3600, "%b %d %H:%M"), (86400, "%b %d"),
               (2 * 86400, "%b %d"), (7 * 86400, "%b %d"), (14 * 86400, "%b %d"),
               (30 * 86400, "%b %Y"), (91 * 86400, "%b %Y"), (365 * 86400, "%Y")]


def _time_ticks(t0: float, t1: float, n: int = 5) -> list[tuple[float, str]]:
    span = max(1.0, t1 - t0)
    step, fmt = next(((s, f) for s, f in _TIME_STEPS if span / s <= n), _TIME_STEPS[-1])
    first = math.ceil(t0 / step) * step
    out = []
    v = first
    while v <= t1:
        out.append((v, dt.datetime.fromtimestamp(v, dt.timezone.utc).strftime(fmt)))
        v += step
    return out


def best_over_time(runs: Sequence[RunView], recs: Sequence[Record], *,
                   href: Callable[[str], str], now: dt.datetime,
                   chart_id: str = "best-over-time", single_limit: int = 400,
                   cell: float = 2.0) -> Chart:
    """Every verified run as a point (x: when it started, y: its scored TPS) and the best
    verified TPS so far as a step line through the records, carried on to `now`."""
    title = "Best verified TPS over time"
    pts = [r for r in runs if r.tps is not None]
    if not pts:
        return _empty(chart_id, title, "No verified runs yet: nothing to plot.")
    ts = [r.when.timestamp() for r in pts]
    t0, t1 = min(ts), max(max(ts), now.timestamp())
    if t1 - t0 < 3600:
        t0, t1 = t0 - 1800, t1 + 1800
    tpad = (t1 - t0) * 0.03
    tpss = [r.tps for r in pts]  # type: ignore[misc]
    y_lo, y_hi = min(tpss), max(tpss)
    ypad = (y_hi - y_lo) * 0.08 or max(1.0, y_hi * 0.05)
    yt = nice_ticks(max(0.0, y_lo - ypad), y_hi + ypad)
    f = _Frame(t0 - tpad, t1 + tpad, yt[0], yt[-1])
    best = recs[-1] if recs else None
    desc = (f"{len(pts)} verified runs, each a point at the time it started and its tokens "
            f"per second. The line is the best verified TPS so far: {len(recs)} records")
    desc += (f", the latest {best.tps:.1f} tok/s by {best.submission_id}." if best else ".")
    parts = _open(chart_id, title, desc)
    _y_axis(parts, f, yt, "tokens/s (median, higher is better)")
    _x_axis(parts, f, _time_ticks(t0, t1), "run started (UTC)")

    record_ids = {(r.submission_id, r.run_id) for r in recs}
    drawn = 0
    if len(pts) <= single_limit:
        for r in pts:
            if (r.submission_id, r.run_id) in record_ids:
                continue
            drawn += 1
            parts.append(_point(href(r.submission_id), f.x(r.when.timestamp()),
                                f.y(r.tps), "run",  # type: ignore[arg-type]
                                f"{r.submission_id} run {r.run_id}: {r.tps:.1f} tok/s"))
    else:
        # One path of dots; runs on the same pixels are drawn once.
        taken: set[tuple[int, int]] = set()
        d: list[str] = []
        px = py = 0
        for r in pts:
            x, y = round(f.x(r.when.timestamp())), round(f.y(r.tps))  # type: ignore[arg-type]
            key = (int(x // cell), int(y // cell))
            if key in taken:
                continue
            taken.add(key)
            d.append(f"m{x - px} {y - py}h0")
            px, py = x, y
        drawn += len(taken)
        d[0] = "M" + d[0][1:]
        parts.append(f'<path class="runs" d="{"".join(d)}"><title>{len(pts)} verified runs'
                     f'</title></path>')

    if recs:
        x0, y0 = f.x(instant(recs[0].started_at).timestamp()), f.y(recs[0].tps)
        d2 = [f"M{x0:.1f} {y0:.1f}"]
        for rec in recs[1:]:
            d2.append(f"H{f.x(instant(rec.started_at).timestamp()):.1f}V{f.y(rec.tps):.1f}")
        d2.append(f"H{f.x(t1):.1f}")
        parts.append(f'<path class="record-line" d="{"".join(d2)}"/>')
        marked: set[tuple[int, int]] = set()
        for rec in reversed(recs):  # the latest record in a cell is the one to show
            x, y = f.x(instant(rec.started_at).timestamp()), f.y(rec.tps)
            key = (int(x // (cell * 2)), int(y // (cell * 2)))
            if key in marked:
                continue
            marked.add(key)
            drawn += 1
            prev = (f", +{rec.tps - rec.previous_tps:.1f} over {rec.previous_submission_id}"
                    if rec.previous_tps is not None else ", the first")
            parts.append(_point(href(rec.submission_id), x, y, "record",
                                f"record: {rec.submission_id} {rec.tps:.1f} tok/s "
                                f"({rec.started_at[:10]}{prev})"))
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), drawn, len(pts))


# Drawn in this order; the first node in a cell stands for the others there.
_SHAPE = {"verified": "circle", "invalid": "circle", "error": "circle", "withdrawn": "rect",
          "disqualified": "rect"}
_KIND = {"verified": 0, "invalid": 1, "error": 1, "withdrawn": 2, "disqualified": 2}
STRIP = 34  # the band under the plot for submissions whose runs measured no TPS


def _node_value(s: SubmissionView) -> float | None:
    """Its ranked TPS, or (not ranked) the best TPS any of its runs here measured."""
    if s.entry is not None:
        return s.entry.tps
    vals = [r.tps for r in s.runs if r.here and r.tps is not None]
    return max(vals) if vals else None


def lineage(subs: Sequence[SubmissionView], *, href: Callable[[str], str],
            lead_id: str | None = None, chart_id: str = "lineage", cell: float = 5.0) -> Chart:
    """The exploration tree as a graph: each submission a node at its first run here (x) and
    its TPS (y; ranked TPS, or the best any run measured when it is not ranked), a line to its
    parent, the Pareto front and the leader's lineage marked; invalid, failed, withdrawn and
    disqualified submissions drawn differently and kept. Submissions without a run have no
    time and are left out (the list below the graph has them). Nodes on the same `cell`
    pixels are drawn once, by the most telling of them (front, the leader's lineage, then by
    rank), one per kind (verified; invalid or failed; withdrawn or disqualified), so dead ends
    stay visible; their edges join the nodes drawn, and a node's title says how many it stands
    for."""
    title = "Exploration tree: every submission by time and tokens/s, linked to its parent"
    placed = [s for s in subs if s.first_at is not None]
    unplaced = len(subs) - len(placed)
    if not placed:
        chart = _empty(chart_id, title, "No submission has run yet: nothing to draw.")
        return Chart(chart.svg, 0, 0, unplaced=unplaced)
    by_id = {s.id: s for s in placed}
    values = {s.id: _node_value(s) for s in placed}
    ts = [s.first_at.timestamp() for s in placed]  # type: ignore[union-attr]
    t0, t1 = min(ts), max(ts)
    if t1 - t0 < 3600:
        t0, t1 = t0 - 1800, t1 + 1800
    tpad = (t1 - t0) * 0.03
    known = [v for v in values.values() if v is not None]
    y_lo, y_hi = (min(known), max(known)) if known else (0.0, 1.0)
    ypad = (y_hi - y_lo) * 0.08 or max(1.0, y_hi * 0.05)
    yt = nice_ticks(max(0.0, y_lo - ypad), y_hi + ypad)
    f = _Frame(t0 - tpad, t1 + tpad, yt[0], yt[-1])
    # Values use the plot above the strip; the strip holds nodes without a TPS.
    span = H - PAD_T - PAD_B
    scale = (span - STRIP) / span
    strip_y = H - PAD_B - STRIP / 2

    def pos(s: SubmissionView) -> tuple[float, float]:
        x = f.x(s.first_at.timestamp())  # type: ignore[union-attr]
        v = values[s.id]
        if v is None:
            return x, strip_y
        return x, PAD_T + (f.y(v) - PAD_T) * scale

    lead_chain: list[str] = []
    seen: set[str] = set()
    cur = lead_id
    while cur in by_id and cur not in seen:
        seen.add(cur)
        lead_chain.append(cur)
        cur = by_id[cur].parent_id  # type: ignore[assignment]
    on_chain = set(lead_chain)

    def priority(s: SubmissionView) -> tuple[int, int, str]:
        if s.on_front:
            k = 0
        elif s.id in on_chain:
            k = 1
        elif s.entry is not None:
            k = 2
        else:
            k = 3 + ("verified", "invalid", "error", "withdrawn", "disqualified").index(s.status)
        return k, s.entry.rank if s.entry else 0, s.id

    n_front = sum(1 for s in placed if s.on_front)
    n_bad = sum(1 for s in placed if s.status != "verified")
    lead = f" The leader, {lead_id}, and the submissions it builds on are joined by a bold " \
           f"line ({len(lead_chain)} generations)." if lead_chain else ""
    desc = (f"{len(placed)} submissions, each a node at the time of its first run and its "
            f"tokens per second, linked to its parent. {n_front} on the Pareto front; "
            f"{n_bad} not ranked (invalid, failed, withdrawn or disqualified), drawn hollow or "
            f"square.{lead} {unplaced} without a run are not drawn.")
    parts = _open(chart_id, title, desc)
    # A group of links, not one image: each node stays reachable to assistive technology.
    parts[0] = parts[0].replace('class="chart"', 'class="chart lineage"').replace(
        'role="img"', 'role="group"')
    plot_ticks = list(yt)
    # The y axis, squeezed above the strip.
    step = plot_ticks[1] - plot_ticks[0] if len(plot_ticks) > 1 else 1.0
    for t in plot_ticks:
        y = PAD_T + (f.y(t) - PAD_T) * scale
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{PAD_L - 8}" y="{y + 5:.1f}" text-anchor="end">'
                     f'{escape(_fmt_tick(t, step))}</text>')
    parts.append(f'<text class="axis-label" transform="translate(18 {(H - PAD_B + PAD_T) / 2}) '
                 f'rotate(-90)" text-anchor="middle">tokens/s (best, higher is better)</text>')
    sy = H - PAD_B - STRIP
    parts.append(f'<line class="strip-line" x1="{PAD_L}" x2="{W - PAD_R}" y1="{sy:.1f}" '
                 f'y2="{sy:.1f}"/>')
    parts.append(f'<text class="strip-label" x="{PAD_L + 4}" y="{sy + 13:.1f}">no TPS measured'
                 f'</text>')
    _x_axis(parts, f, _time_ticks(t0, t1), "first run (UTC)")

    rep: dict[str, str] = {}  # submission -> the node drawn for it
    cells: dict[tuple[int, int, int], str] = {}
    count: dict[str, int] = {}
    xy: dict[str, tuple[float, float]] = {}
    for s in sorted(placed, key=priority):
        x, y = pos(s)
        # One node per cell and kind, so that dead ends stay visible among the verified.
        key = (int(x // cell), int(y // cell), _KIND[s.status])
        if key in cells:
            rep[s.id] = cells[key]
            count[cells[key]] += 1
            continue
        cells[key] = rep[s.id] = s.id
        count[s.id] = 1
        xy[s.id] = (x, y)

    edges: set[tuple[str, str]] = set()
    for s in placed:
        if s.parent_id in by_id and s.parent_note is None:
            a, b = rep[s.parent_id], rep[s.id]  # type: ignore[index]
            if a != b:
                edges.add((a, b))
    d = [f"M{xy[a][0]:.0f} {xy[a][1]:.0f}L{xy[b][0]:.0f} {xy[b][1]:.0f}"
         for a, b in sorted(edges)]
    if d:
        parts.append(f'<path class="edges" d="{"".join(d)}"/>')
    if len(lead_chain) > 1:
        pts = [xy[rep[sid]] for sid in reversed(lead_chain)]
        parts.append('<path class="lead-line" d="M' + "L".join(
            f"{x:.1f} {y:.1f}" for x, y in pts) + '"/>')

    for sid in sorted(xy, key=lambda k: priority(by_id[k]), reverse=True):
        s = by_id[sid]
        x, y = xy[sid]
        v = values[sid]
        words = [f"{sid}: " + (f"{v:.1f} tok/s" if v is not None else "no TPS measured")]
        if s.entry is not None:
            words.append(f"rank {s.entry.rank}{' (tie)' if s.entry.tied else ''}")
        else:
            words.append(f"{s.status}, not ranked")
        if s.on_front:
            words.append("on the Pareto front")
        if s.parent_id:
            words.append(f"child of {s.parent_id}")
        if count[sid] > 1:
            words.append(f"drawn for {count[sid] - 1} more submissions on the same pixels")
        cls = f"node {s.status}" + (" front" if s.on_front else "") + \
            (" lead" if sid in on_chain else "")
        label = escape("; ".join(words))
        if _SHAPE[s.status] == "rect":
            shape = (f'<rect class="{cls}" x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" '
                     f'height="8"/>')
        else:
            r = 6 if s.on_front or sid == lead_id else 4.5
            shape = f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="{r}"/>'
        # The title names the link (and shows on hover).
        parts.append(f'<a href="{escape(href(sid))}"><title>{label}</title>{shape}</a>')
    parts.append("</svg>")
    merged = len(placed) - len(xy)
    return Chart(Markup("".join(parts)), len(xy), len(placed), merged=merged,
                 unplaced=unplaced)
