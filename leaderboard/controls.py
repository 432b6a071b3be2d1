"""The site's control runs: each track's control series as a server-drawn SVG (no JavaScript),
its reference and tolerance band, the drifted runners, and a flag on every run measured on a
drifted runner (arena.controls decides; this module only draws)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from markupsafe import Markup, escape

from arena.controls import Drift, Track, analyse, flagged, load_clears, load_controls, runner_text
from leaderboard.charts import (PAD_L, PAD_R, W, Chart, _empty, _Frame, _open, _time_ticks,
                                _x_axis, _y_axis, nice_ticks)
from leaderboard.ranking import instant


@dataclass
class ControlsView:
    submission: str | None
    tolerance: float
    tracks: list[Track] = field(default_factory=list)
    charts: dict[str, Chart] = field(default_factory=dict)
    flagged: dict[str, Drift] = field(default_factory=dict)  # run id -> drift

    def drift_text(self, d: Drift) -> str:
        return runner_text(d.runner)


_CLASS = {"baseline": "ctl-base", "ok": "ctl-ok", "drift": "ctl-drift", "failed": "ctl-failed",
          "before-clear": "ctl-old"}


def control_chart(t: Track, chart_id: str) -> Chart:
    title = f"Control runs on {t.track}"
    pts = [p for p in t.points if p.tps is not None]
    if not pts:
        return _empty(chart_id, title, "No verified control runs yet.")
    ts = [instant(p.finished_at).timestamp() for p in pts]
    t0, t1 = min(ts), max(ts)
    if t1 - t0 < 86400:
        t0, t1 = t0 - 43200, t1 + 43200
    tpad = (t1 - t0) * 0.03
    vals = [p.tps for p in pts] + ([t.reference * (1 - t.tolerance), t.reference *
                                    (1 + t.tolerance)] if t.reference else [])
    lo, hi = min(vals), max(vals)  # type: ignore[type-var]
    pad = (hi - lo) * 0.1 or max(1.0, hi * 0.05)
    yt = nice_ticks(max(0.0, lo - pad), hi + pad)
    f = _Frame(t0 - tpad, t1 + tpad, yt[0], yt[-1])
    n_drift = sum(p.state == "drift" for p in pts)
    desc = (f"{len(pts)} verified control runs of the reference submission, each a point at the "
            f"time it finished and its tokens per second.")
    if t.reference:
        desc += (f" The band is the reference {t.reference:.1f} tok/s plus or minus "
                 f"{t.tolerance * 100:g}%.")
    desc += f" {n_drift} outside it after a drift." if n_drift else " None has drifted."
    parts = _open(chart_id, title, desc)
    _y_axis(parts, f, yt, "tokens/s (median)")
    _x_axis(parts, f, _time_ticks(t0, t1), "control finished (UTC)")
    if t.reference:
        y_hi, y_lo = f.y(t.reference * (1 + t.tolerance)), f.y(t.reference * (1 - t.tolerance))
        parts.append(f'<rect class="ctl-band" x="{PAD_L}" y="{y_hi:.1f}" '
                     f'width="{W - PAD_L - PAD_R}" height="{max(1.0, y_lo - y_hi):.1f}"/>')
        y = f.y(t.reference)
        parts.append(f'<line class="ctl-ref" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
    d = []
    for i, p in enumerate(pts):
        x, y = f.x(instant(p.finished_at).timestamp()), f.y(p.tps)  # type: ignore[arg-type]
        d.append(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}")
    parts.append(f'<path class="ctl-line" d="{" ".join(d)}"/>')
    for p in pts:
        x, y = f.x(instant(p.finished_at).timestamp()), f.y(p.tps)  # type: ignore[arg-type]
        label = (f"{p.run_id}: {p.tps:.1f} tok/s, {p.finished_at[:16].replace('T', ' ')} UTC, "
                 f"{p.state} ({runner_text(p.runner)})")
        parts.append(f'<circle class="{_CLASS[p.state]}" cx="{x:.1f}" cy="{y:.1f}" r="5">'
                     f'<title>{escape(label)}</title></circle>')
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), len(pts), len(pts))


def control_view(challenge: Any, store_root: Path, runs: Sequence[Any]) -> ControlsView:
    """Read the store's controls and clears, analyse them, and flag the site's run views
    (RunView.drift) measured on a drifted runner."""
    ctl = getattr(challenge, "controls", None)
    tol = ctl.tolerance if ctl else 0.03
    tracks = analyse(load_controls(store_root), load_clears(store_root), tolerance=tol,
                     baseline_runs=ctl.baseline_runs if ctl else 3)
    view = ControlsView(ctl.submission if ctl else None, tol, list(tracks.values()))
    view.charts = {t.track: control_chart(t, f"controls-{t.track}") for t in view.tracks}
    view.flagged = flagged([r.result for r in runs], tracks)
    for r in runs:
        d = view.flagged.get(r.run_id)
        if d is not None:
            r.drift = d.message()
    return view
