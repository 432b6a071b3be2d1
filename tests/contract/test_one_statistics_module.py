"""Statistics are done once, in arena/stats.py: summaries, intervals, quantiles and the tie rule
are defined nowhere else, and no other module computes a variance or a quantile of its own or
types in a quantile from a table (the runner, the leaderboard and the bot would drift apart)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOME = "arena/stats.py"
PACKAGES = ("arena", "runner", "leaderboard", "bot", "workshop", "scripts")

# What arena/stats.py defines and no other module may define again (its distinctive names:
# `summarize` is a common word elsewhere).
ONCE = ("sample_variance", "pooled_variance", "diff_interval",
        "paired_interval", "TieRule", "tie_rule_from_noise", "two_sided_quantile", "t_quantile",
        "t_cdf", "_quantile", "_betainc")
# Spread and quantile functions of the standard library (`statistics.X`, or X imported from it)
# that only arena/stats.py calls.
STDLIB = ("stdev", "pstdev", "variance", "pvariance", "NormalDist")
# Quantiles from a printed table (normal 95% and 99%, Student's t at a few degrees of freedom).
TABLE = (1.96, 1.959964, 2.576, 2.5758, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
         2.306, 2.262, 2.228, 2.042)


def sources() -> list[tuple[str, ast.Module]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            out.append((rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)))
    return out


def test_each_statistics_function_is_defined_once_in_arena_stats():
    found: dict[str, list[str]] = {name: [] for name in ONCE}
    for rel, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in found:
                found[node.name].append(f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id in found:
                        found[t.id].append(f"{rel}:{node.lineno}")
    wrong = {name: where for name, where in found.items()
             if len(where) > 1 or any(not w.startswith(HOME + ":") for w in where)}
    assert not wrong, ("defined again outside arena/stats.py, or twice: move it there and "
                       f"import it: {wrong}")


def test_no_other_module_computes_a_spread_or_a_quantile_itself():
    bad = []
    for rel, tree in sources():
        if rel == HOME:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in STDLIB
                    and isinstance(node.value, ast.Name) and node.value.id == "statistics"):
                bad.append(f"{rel}:{node.lineno}: statistics.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "statistics":
                bad += [f"{rel}:{node.lineno}: from statistics import {a.name}"
                        for a in node.names if a.name in STDLIB]
            if isinstance(node, ast.Constant) and isinstance(node.value, float) and any(
                    abs(node.value - q) < 5e-4 for q in TABLE):
                bad.append(f"{rel}:{node.lineno}: {node.value} (a quantile from a table?)")
    assert not bad, "statistics outside arena/stats.py:\n" + "\n".join(bad)
