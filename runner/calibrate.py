"""Calibrating honest numerical noise: what the referee sees in honest runs.

Greedy decoding on two engines (or on one engine's decode and scoring paths) differs only
where floating-point noise flips a near-tie. The organizer measures how often that happens,
how far the flipped tokens trail the referee's top-1, and their rank, on honest runs of the
challenge's own model and hardware (the baseline, and an honest speculative configuration),
and records the figures in challenge.yaml (`integrity.noise`), beside the reference
perplexity. `near_ties` and `scoring_consistency` then hold every run to them.

    arena bench baseline.yaml --out runs/a   (several honest runs, public and private sets)
    arena calibrate runs/*/result.json       (prints the `noise:` block)

The recommended block keeps a margin over what was seen: the largest lead doubled (never past
the challenge's near_tie_margin, and at least LEAD_FLOOR), the rate as measured (the check
adds a Poisson allowance for the tokens it judges).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

LEAD_FACTOR = 2.0
LEAD_FLOOR = 0.01


class CalibrationError(Exception):
    pass


@dataclass(frozen=True)
class Calibration:
    runs: int
    tokens: int
    non_top1: int
    largest_lead: float
    largest_rank: int

    def noise_block(self, margin: float, source: str) -> dict[str, Any]:
        lead = min(margin, max(LEAD_FLOOR, self.largest_lead * LEAD_FACTOR))
        return {"rate": round(self.non_top1 / self.tokens, 8), "max_lead": round(lead, 6),
                "max_rank": max(2, self.largest_rank), "tokens": self.tokens,
                "source": source}


def calibrate(results: Iterable[Mapping[str, Any]]) -> Calibration:
    """Pool the referee's judgement of honest runs (their `near_ties` figures)."""
    runs = tokens = non_top1 = 0
    lead, rank = 0.0, 1
    for doc in results:
        c = next((c for c in doc.get("checks", []) if c.get("name") == "near_ties"), None)
        f = c.get("figures", {}) if isinstance(c, Mapping) else {}
        if c is None or c.get("status") == "skip" or not all(
                isinstance(f.get(k), (int, float)) for k in ("tokens", "non_top1")):
            continue  # not reached, or from a runner that did not report the figures
        runs += 1
        tokens += int(f["tokens"])
        non_top1 += int(f["non_top1"])
        lead = max(lead, float(f.get("largest_lead") or 0.0))
        rank = max(rank, int(f.get("largest_rank") or 1))
    if not tokens:
        raise CalibrationError("no result with a near_ties check was given (pass the "
                               "result.json files of honest runs)")
    return Calibration(runs, tokens, non_top1, lead, rank)


def load_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    from arena.result import ResultError, validate_result

    out = []
    for p in paths:
        try:
            out.append(validate_result(json.loads(Path(p).read_text(encoding="utf-8"))))
        except (OSError, ValueError, ResultError) as exc:
            raise CalibrationError(f"{p}: not a result document ({type(exc).__name__})") from None
    return out
