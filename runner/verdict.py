"""Phase 5, the verdict: the run's checks become its verdict, and the run one result document.

Any failed check makes the run `invalid` (an `error` found earlier stays `error`). Checks the
run did not reach are listed as skipped, with why. The document holds aggregates and the
harness's own words only: never a prompt, an output, or anything an engine wrote.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any, Mapping, Sequence

from runner import checks as C
from runner import integrity
from runner.context import Run, RunCheck
from runner.fingerprint import fingerprint
from runner.measure import TpsSet

# The checks every run makes whatever its engine checks are.
FIXED_CHECKS = ("model_identity", "output_length", integrity.PUBLIC_PRIVATE_GAP, "ppl_cap")


def result_document(run: Run, engine_checks: Sequence[RunCheck],
                    referee_checks: Sequence[RunCheck], *, stage: str = "verdict",
                    patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
    sub, ch = run.plan.submission, run.plan.challenge
    for c in run.checks:
        if c.status == C.FAIL and not any(r["check"] == c.name for r in run.reasons):
            run.fail("invalid", c.name, c.message)
    checks = with_unreached(run.checks, [*engine_checks, *referee_checks], run.reasons)
    run.timings["total_s"] = time.monotonic() - run.t0
    finished = dt.datetime.now(dt.timezone.utc)
    repeats = ch.repeats
    return {
        "schema_version": 1,
        "run_id": run.run_id,
        "submission": {"id": sub.id, "path": sub.path[:300], "commit": run.plan.commit,
                       "config": sub.config(), "config_sha256": sub.config_sha256()},
        "challenge": run.plan.challenge_block(),
        "started_at": iso_precise(run.started),
        "finished_at": iso_precise(finished),
        "verdict": run.verdict,
        "stage": stage,
        "reasons": run.reasons,
        "tps": {name: tps_json(t) for name, t in run.tps.items() if len(t.passes) == repeats},
        "ppl": {"reference": ch.ppl_reference, "cap": ch.ppl_cap,
                "sets": {n: {"value": p.value, "tokens": p.tokens, "prompts": p.prompts}
                         for n, p in run.ppl.items()}},
        "checks": [c.to_json() for c in checks],
        "speculative": run.speculative,
        "telemetry": run.telemetry,
        **breakdown(run),
        **({"paired": run.paired} if run.paired is not None else {}),
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
        "fingerprint": fingerprint(hardware=run.plan.hardware, engine=sub.engine_name,
                                   engine_version=run.engine_version,
                                   prompt_sets={s.name: s.sha256 for s in run.plan.sets},
                                   submission_sha256=sub.config_sha256(),
                                   referee_version=run.referee_version,
                                   scratch_mib=ch.sandbox.scratch_mib, patch=patch),
    }


def breakdown(run: Run) -> dict[str, Any]:
    """Where the time goes: each public prompt's TPS (the median of its requests over the
    passes), and for the private set only aggregates per prompt category (never anything that
    names a private prompt). Acceptance per prompt is not measured: reading the engine's
    counters around every request would add to the timed passes' wall time."""
    out: dict[str, Any] = {}
    for s in run.plan.sets:
        t = run.tps.get(s.name)
        if t is None or len(t.passes) != run.plan.challenge.repeats:
            continue
        per = {i: t.output_tokens / max(statistics.median(sec), 1e-9)
               for i, sec in t.seconds_by_prompt.items()}
        if not s.private:
            out["per_prompt"] = [{"id": s.prompts[i].id[:100], "tps": round(v, 4),
                                  "acceptance_rate": None, "mean_accepted_length": None}
                                 for i, v in sorted(per.items())][:2000]
        else:
            cats: dict[str, list[float]] = {}
            for i, v in per.items():
                cats.setdefault(str(s.prompts[i].category or "uncategorized")[:64], []).append(v)
            out["per_category"] = {c: {"prompts": len(v), "tps": round(statistics.median(v), 4)}
                                   for c, v in sorted(cats.items())[:100]}
    return out


def with_unreached(checks: list[C.Check], run_checks: Sequence[RunCheck],
                   reasons: Sequence[Mapping[str, str]]) -> list[C.Check]:
    """Every check the run would have made, in the result's order: those it did not reach
    (the run stopped earlier) are listed as skipped, with why."""
    planned = list(FIXED_CHECKS)
    for f in run_checks:
        planned += [n for n in getattr(f, "check_names", ()) if n not in planned]
    have = {c.name for c in checks}
    why = (f"not run: the run stopped at {reasons[0]['check']} (see the reasons)."
           if reasons else "not run.")
    missing = [C.Check(n, C.SKIP, why) for n in planned if n not in have]
    order = {n: i for i, n in enumerate(integrity.CHECK_ORDER)}
    extra = len(order)
    return sorted(checks + missing, key=lambda c: order.get(c.name, extra))


def iso_precise(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tps_json(t: TpsSet) -> dict[str, Any]:
    s = t.summary
    return {
        "prompts": t.prompts,
        "output_tokens": t.output_tokens,
        "passes": [{"tokens": p.tokens, "seconds": round(p.seconds, 6), "tps": round(p.tps, 4)}
                   for p in t.passes],
        "median": round(s.median, 4),
        "mean": round(s.mean, 4),
        "stdev": round(s.stdev, 4),
        "ci95": [round(s.ci95[0], 4), round(s.ci95[1], 4)],
    }
