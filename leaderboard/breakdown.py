"""Where the time goes, on a submission's page: the private set by category (aggregates the
runner reports, never a private prompt) as a bar chart drawn at build time, and the public set
by prompt as a folded table. Only results that carry `per_category` / `per_prompt` have them.

All text that reaches the markup goes through markupsafe's escape.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from arena.result import PromptTps, Result

MAX_CATEGORIES = 40
BAR_H, GAP, LABEL_W, W = 26, 8, 190, 600


@dataclass(frozen=True)
class Breakdown:
    run_id: str
    categories: list[tuple[str, int, float]]  # (name, prompts, median TPS), fastest first
    svg: Markup | None
    prompts: list[PromptTps]  # the public set, per prompt, as the runner reported it
    overall: float | None  # the run's private median, drawn as a reference line


def breakdown(result: Result) -> Breakdown | None:
    cats = sorted(((c.name, c.prompts, c.tps) for c in result.per_category.values()),
                  key=lambda c: (-c[2], c[0]))[:MAX_CATEGORIES]
    per = result.per_prompt
    if not cats and not per:
        return None
    priv = result.tps.get("private")
    overall = priv.median if priv else None
    return Breakdown(result.run_id, cats, category_svg(cats, overall) if cats else None,
                     list(per), overall)


def category_svg(cats: list[tuple[str, int, float]], overall: float | None) -> Markup:
    top = max([c[2] for c in cats] + [overall or 0.0]) or 1.0
    h = len(cats) * (BAR_H + GAP) + 40
    span = W - LABEL_W - 80
    desc = "; ".join(f"{n}: {t:.1f} tokens/s over {p} prompts" for n, p, t in cats)
    parts = [f'<svg class="chart breakdown" viewBox="0 0 {W} {h}" role="img" '
             f'aria-labelledby="bd-t bd-d" xmlns="http://www.w3.org/2000/svg">',
             '<title id="bd-t">Private set: median tokens/s by prompt category</title>',
             f'<desc id="bd-d">{escape(desc)}</desc>']
    for i, (name, prompts, tps) in enumerate(cats):
        y = 10 + i * (BAR_H + GAP)
        width = max(1.0, tps / top * span)
        label = name if len(name) <= 24 else name[:23] + "…"
        parts.append(f'<text class="tick" x="{LABEL_W - 8}" y="{y + BAR_H * 0.7:.1f}" '
                     f'text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{width:.1f}" '
                     f'height="{BAR_H}"><title>{escape(name)}: {tps:.1f} tokens/s, {prompts} '
                     f'prompts</title></rect>')
        parts.append(f'<text class="tick" x="{LABEL_W + width + 6:.1f}" '
                     f'y="{y + BAR_H * 0.7:.1f}">{tps:.1f}</text>')
    if overall:
        x = LABEL_W + overall / top * span
        parts.append(f'<line class="ref" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{h - 26}"/>')
        parts.append(f'<text class="ref-label" x="{x:.1f}" y="{h - 8}" text-anchor="middle">'
                     f'whole set {overall:.1f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
