"""Named checks of one run, as they appear in the result (`checks: [{name, status, message,
figures}]`). Each check is a value; the verdict follows from them (any `fail` makes the run
invalid). Checks added later (greedy fidelity, scoring-path consistency, public/private gap,
cache probe) are more entries of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from runner.measure import LengthAudit, OutputLengthViolation, PplResult

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    message: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message,
                "figures": dict(self.figures)}


def model_identity(differences: list[str], *, model: str, base: str) -> Check:
    if not differences:
        return Check("model_identity", PASS, f"{model} has the architecture and dimensions of "
                                             f"the base model {base}.")
    shown = "; ".join(differences[:8]) + ("; ..." if len(differences) > 8 else "")
    return Check("model_identity", FAIL,
                 f"{model} is not the challenge's model {base}: {shown}. Only the weights' "
                 "storage (quantization, dtype) may differ.",
                 {"differences": differences[:50]})


def output_length(audit: LengthAudit, violation: OutputLengthViolation | None = None) -> Check:
    figures: dict[str, Any] = {"asked": audit.asked, "requests": audit.requests,
                               "tokens": audit.tokens, "shortest": audit.shortest,
                               "longest": audit.longest, "not_finished_by_length": audit.not_length}
    if violation is not None:
        figures.update(got=violation.got, finish_reason=violation.finish_reason)
        return Check("output_length", FAIL, str(violation), figures)
    return Check("output_length", PASS, f"all {audit.requests} requests returned exactly "
                                        f"{audit.asked} token IDs and finished for 'length'.",
                 figures)


def ppl_cap(results: Mapping[str, PplResult], caps: Mapping[str, tuple[float, float] | None],
            max_increase: float) -> Check:
    """`caps` maps a set name to (reference, cap), or None when the set has no calibrated
    reference (its PPL is then recorded, not judged)."""
    figures: dict[str, Any] = {}
    over, judged, notes = [], [], []
    for name, res in results.items():
        figures[f"{name}_ppl"] = round(res.value, 6)
        figures[f"{name}_tokens"] = res.tokens
        rc = caps.get(name)
        if rc is None:
            notes.append(f"{name} {res.value:.4f} (no calibrated reference for this set; "
                         "recorded, not judged)")
            continue
        ref, cap = rc
        figures[f"{name}_reference"] = ref
        figures[f"{name}_cap"] = round(cap, 6)
        judged.append(name)
        if res.value > cap:
            over.append(f"{name} perplexity {res.value:.4f} is above the cap {cap:.4f} "
                        f"(reference {ref:.4f} + {max_increase:.0%})")
        else:
            notes.append(f"{name} {res.value:.4f} <= cap {cap:.4f}")
    if over:
        return Check("ppl_cap", FAIL, "; ".join(over) + ". The submission degrades the model.",
                     figures)
    if not judged:
        return Check("ppl_cap", SKIP, "no measured set has a calibrated reference perplexity: "
                     + "; ".join(notes) + ".", figures)
    return Check("ppl_cap", PASS, "perplexity within the cap: " + "; ".join(notes) + ".",
                 figures)
