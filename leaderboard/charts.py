"""SVG charts, drawn at build time: readable without JavaScript, styled by the site's CSS.

Two charts: TPS against perplexity (the Pareto front and the perplexity cap drawn), and the best
verified TPS over time (every verified run a point, the record as a step line). Each has a
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

from leaderboard.model import RunView
from leaderboard.ranking import Entry, Record, instant

W, H = 600, 380
PAD_L, PAD_R, PAD_T, PAD_B = 70, 24, 22, 58
FONT = 15


@dataclass(frozen=True)
class Chart:
    svg: Markup
    drawn: int  # marks drawn
    total: int  # data points the chart stands for


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
