"""How a run reads in a terminal: progress lines as it goes, a summary table at the end.

Everything that came from a submission is made terminal-safe here (arena.text); nothing here
prints a prompt, an output, or anything an engine wrote (an old result's log tail included).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Mapping, TextIO

from arena.text import for_terminal


class ProgressPrinter:
    """Prints `[  12.3s] message` lines to a stream (stderr by default), flushed at once."""

    def __init__(self, stream: TextIO | None = None, prefix: str = ""):
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.t0
        print(f"{self.prefix}[{elapsed:7.1f}s] {for_terminal(message)}", file=self.stream,
              flush=True)


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


# The figures the summary shows for each check (all of them are in the result JSON).
HEADLINE_FIGURES = {
    "output_length": ("requests", "tokens", "shortest", "longest", "not_finished_by_length",
                      "got"),
    "public_private_gap": ("public_tps", "private_tps", "gap", "tolerance"),
    "scoring_consistency": ("outputs", "tokens", "top1_rate", "near_ties", "violations",
                            "nll_per_token"),
    "near_ties": ("tokens", "non_top1", "allowed", "largest_lead", "largest_rank"),
    "cache_probe": ("speedup", "max_speedup", "timed_public_repeat_speedup",
                    "timed_private_repeat_speedup"),
    "greedy_fidelity": ("outputs", "tokens_compared", "match_rate", "near_ties", "violations",
                        "first_divergence"),
}


def _figure(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_figure(v) for v in value[:8])
        return f"[{shown}{', ...' if len(value) > 8 else ''}]"
    return str(value)


def figures_line(name: str, figures: Mapping[str, Any]) -> str:
    """A check's headline figures as `key value` pairs (all of them are in the result)."""
    keys = HEADLINE_FIGURES.get(name)
    if keys is None:
        keys = tuple(k for k, v in figures.items() if not isinstance(v, list))[:6]
    return for_terminal(", ".join(f"{k} {_figure(figures[k])}" for k in keys if k in figures),
                        300)


def summary_table(result: Mapping[str, Any], result_path: str | None = None) -> str:
    """A readable summary of one result document."""
    sub = result["submission"]
    lines = [
        f"arena bench: {for_terminal(sub['id'])} on {for_terminal(result['challenge']['id'])} "
        f"({for_terminal(result['challenge']['hardware'])}), run {result['run_id']}",
        f"verdict: {result['verdict'].upper()}",
    ]
    for r in result["reasons"]:
        lines.append(f"  - {for_terminal(r['check'])}: {for_terminal(r['message'], 600)}")
    tps = result["tps"]
    ppl = result["ppl"]
    sets = sorted(set(tps) | set(ppl["sets"]), key=lambda s: (s != "public", s))
    if sets:
        rows = [("set", "prompts", "tokens/s per pass", "median", "stdev", "95% CI",
                 "PPL")]
        for s in sets:
            t = tps.get(s)
            p = ppl["sets"].get(s)
            rows.append((
                s,
                str(t["prompts"]) if t else "-",
                " ".join(_fmt(x["tps"]) for x in t["passes"]) if t else "-",
                _fmt(t["median"]) if t else "-",
                _fmt(t["stdev"], 2) if t else "-",
                f"[{_fmt(t['ci95'][0])}, {_fmt(t['ci95'][1])}]" if t else "-",
                _fmt(p["value"], 4) if p else "-",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        for i, r in enumerate(rows):
            lines.append("  " + "  ".join(c.ljust(w) if j == 0 or j == 2 else c.rjust(w)
                                          for j, (c, w) in enumerate(zip(r, widths))).rstrip())
            if i == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines.append(f"  output: {next(iter(tps.values()))['output_tokens'] if tps else '-'} "
                     f"tokens per request, batch 1, greedy; PPL reference "
                     f"{_fmt(ppl['reference'], 4)}, cap {_fmt(ppl['cap'], 4)}")
    if result["checks"]:
        lines.append("")
        lines.append("checks:")
        width = max(len(c["name"]) for c in result["checks"])
        for c in result["checks"]:
            lines.append(f"  {c['status']:<4}  {for_terminal(c['name']):<{width}}  "
                         f"{for_terminal(c['message'], 700)}")
            shown = figures_line(c["name"], c["figures"])
            if shown:
                lines.append(f"  {'':<4}  {'':<{width}}  [{shown}]")
    spec = result.get("speculative")
    if spec:
        rate = spec.get("acceptance_rate")
        mal = spec.get("mean_accepted_length")
        lines.append("")
        lines.append(f"speculative decoding: {for_terminal(str(spec.get('method')))}, "
                     f"{spec.get('num_speculative_tokens')} tokens per draft; acceptance "
                     f"{'-' if rate is None else f'{rate:.1%}'}, mean accepted length "
                     f"{_fmt(mal, 2)}")
    t = result["timings"]
    parts = [(k, t[k]) for k in ("prepare_s", "startup_s", "warmup_s", "timed_s",
                                 "submission_checks_s", "stop_s", "referee_startup_s", "ppl_s",
                                 "referee_s", "checks_s", "total_s") if k in t]
    lines.append("")
    referee_s = t.get("referee_s", 0.0) + t.get("referee_startup_s", 0.0)
    share = (f" (the referee {referee_s / t['total_s']:.0%} of the run)"
             if referee_s and t.get("total_s") else "")
    if t.get("checks_s") and t.get("total_s"):  # results from before the referee
        share += f" (checks {t['checks_s'] / t['total_s']:.0%} of the run)"
    lines.append("timings: " + ", ".join(f"{k[:-2].replace('_', '-')} {v:.1f} s"
                                         for k, v in parts) + share)
    fp = result["fingerprint"]
    lines.append(f"measured on: {for_terminal(fp['accelerator'])}"
                 + (f" (driver {for_terminal(fp['driver'])}, CUDA {for_terminal(fp['cuda'])})"
                    if fp.get("driver") else "")
                 + f", {for_terminal(fp.get('cpu') or '?')}; {for_terminal(fp['engine'])} "
                 f"{for_terminal(fp['engine_version'])}; harness "
                 f"{for_terminal(fp['harness_version'])}")
    ref, box = fp.get("referee"), fp.get("sandbox")
    if ref or box:
        lines.append("judged by: " + (f"the referee, stock {for_terminal(ref['engine'])} "
                                      f"{for_terminal(str(ref.get('engine_version')))}"
                                      if ref else "-")
                     + (f"; every engine in a {for_terminal(box['kind'])} sandbox "
                        f"({for_terminal(str(box.get('network')))})" if box else ""))
    if result_path:
        lines.append("")
        lines.append(f"result: {for_terminal(result_path)}")
    return "\n".join(lines)
