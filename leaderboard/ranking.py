"""The canonical ranking: the one function the bot, the site and the JSON API all call.

Rules:
- A run's effective status is its runner verdict, then maintainers' verdict records applied in
  time order (human verdicts win). A submission can also be withdrawn (by its author) or
  disqualified (by a maintainer); a later submission-level reinstate undoes either.
- Only verified runs on the challenge's hardware label are ranked (other hardware never mixes).
- Per submission, its best verified run counts (highest scored TPS: private median when the
  private set was measured, else public).
- Entries whose TPS differ by less than the tie threshold, or whose 95% confidence intervals
  overlap, share a rank; within a tie the earlier submission (first run) is listed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from arena.result import score_set, score_tps

RANKED = "verified"
SUBMISSION_STATES = ("active", "withdrawn", "disqualified")


@dataclass(frozen=True)
class RunStatus:
    """A run's status after maintainers' verdicts, with the reasons that led there."""

    status: str  # verified | invalid | error
    reasons: tuple[str, ...]
    overridden_by: str | None = None  # login of the maintainer whose record decided it


@dataclass(frozen=True)
class SubmissionState:
    state: str  # active | withdrawn | disqualified
    reason: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class Entry:
    rank: int
    submission_id: str
    author: str
    name: str
    tps: float
    tps_set: str
    stdev: float
    ci95: tuple[float, float]
    public_tps: float | None
    private_tps: float | None
    ppl: float | None
    run_id: str
    started_at: str
    first_run_at: str
    tied: bool
    result: Mapping[str, Any] = field(repr=False, compare=False)


def _applies(record: Mapping[str, Any], submission_id: str, run_id: str | None) -> bool:
    return record["submission"] == submission_id and (
        record["run_id"] is None or record["run_id"] == run_id)


def run_status(result: Mapping[str, Any], verdicts: Iterable[Mapping[str, Any]]) -> RunStatus:
    """Apply maintainers' invalidate/reinstate records (oldest first) to one run."""
    base = result["verdict"]
    status = base
    reasons = tuple(r["message"] for r in result.get("reasons", []))
    by = None
    sid, rid = result["submission"]["id"], result["run_id"]
    for rec in sorted(verdicts, key=lambda r: (r["at"], r["id"])):
        if not _applies(rec, sid, rid) or rec["action"] not in ("invalidate", "reinstate"):
            continue
        if rec["action"] == "invalidate":
            status, reasons, by = "invalid", (f"maintainer: {rec['reason']}",), rec["by"]
        elif rec["run_id"] is not None and score_tps(dict(result)) is not None:
            # A maintainer reinstating one measured run judges it valid.
            status, reasons, by = "verified", (f"reinstated: {rec['reason']}",), rec["by"]
        else:
            # A submission-wide reinstate undoes earlier invalidations: back to the runner's word.
            status = base
            reasons = tuple(r["message"] for r in result.get("reasons", []))
            by = rec["by"]
    return RunStatus(status, reasons, by)


def submission_state(submission_id: str,
                     verdicts: Iterable[Mapping[str, Any]]) -> SubmissionState:
    """Withdrawn, disqualified or active, from the latest submission-level record."""
    state = SubmissionState("active")
    for rec in sorted(verdicts, key=lambda r: (r["at"], r["id"])):
        if rec["submission"] != submission_id or rec["run_id"] is not None:
            continue
        if rec["action"] == "withdraw":
            state = SubmissionState("withdrawn", rec["reason"], rec["by"])
        elif rec["action"] == "disqualify":
            state = SubmissionState("disqualified", rec["reason"], rec["by"])
        elif rec["action"] == "reinstate":
            state = SubmissionState("active", None, rec["by"])
    return state


def _ci(result: Mapping[str, Any], tps_set: str) -> tuple[float, float]:
    lo, hi = result["tps"][tps_set]["ci95"]
    return float(lo), float(hi)


def _median(result: Mapping[str, Any], s: str) -> float | None:
    t = result.get("tps", {}).get(s)
    return None if t is None else float(t["median"])


def rank(
    results: Iterable[Mapping[str, Any]],
    verdicts: Iterable[Mapping[str, Any]],
    *,
    hardware: str,
    tie_tps: float,
    by_author: bool = False,
) -> list[Entry]:
    """The leaderboard: one entry per submission (or per author), best first, ties shared."""
    verdicts = list(verdicts)
    results = [r for r in results if r["challenge"]["hardware"] == hardware]
    first_run: dict[str, str] = {}
    for r in results:
        sid = r["submission"]["id"]
        if sid not in first_run or r["started_at"] < first_run[sid]:
            first_run[sid] = r["started_at"]

    states: dict[str, SubmissionState] = {}
    best: dict[str, Mapping[str, Any]] = {}
    for r in results:
        sid = r["submission"]["id"]
        if sid not in states:
            states[sid] = submission_state(sid, verdicts)
        if states[sid].state != "active":
            continue
        if run_status(r, verdicts).status != RANKED:
            continue
        score = score_tps(dict(r))
        if score is None:
            continue
        cur = best.get(sid)
        if cur is None or _better(score, r["started_at"], score_tps(dict(cur)), cur["started_at"]):
            best[sid] = r

    candidates = []
    for sid, r in best.items():
        s = score_set(dict(r))
        assert s is not None
        author, name = sid.split("/", 1)
        ppl_sets = r["ppl"]["sets"]
        ppl = ppl_sets.get(s, next(iter(ppl_sets.values()), None)) if ppl_sets else None
        candidates.append(dict(
            submission_id=sid, author=author, name=name, tps=float(r["tps"][s]["median"]),
            tps_set=s, stdev=float(r["tps"][s]["stdev"]), ci95=_ci(r, s),
            public_tps=_median(r, "public"), private_tps=_median(r, "private"),
            ppl=None if ppl is None else float(ppl["value"]), run_id=r["run_id"],
            started_at=r["started_at"], first_run_at=first_run[sid], result=r))

    if by_author:
        per_author: dict[str, dict[str, Any]] = {}
        for c in candidates:
            cur = per_author.get(c["author"])
            if cur is None or _better(c["tps"], c["first_run_at"], cur["tps"], cur["first_run_at"]):
                per_author[c["author"]] = c
        candidates = list(per_author.values())

    candidates.sort(key=lambda c: (-c["tps"], c["first_run_at"], c["submission_id"]))
    # Group into ties against each group's leader, so that ties cannot chain down the table.
    groups: list[list[dict[str, Any]]] = []
    for c in candidates:
        if groups and _tied(groups[-1][0], c, tie_tps):
            groups[-1].append(c)
        else:
            groups.append([c])
    out: list[Entry] = []
    for g in groups:
        g.sort(key=lambda c: (c["first_run_at"], -c["tps"], c["submission_id"]))
        r = len(out) + 1
        for c in g:
            out.append(Entry(rank=r, tied=len(g) > 1, **c))
    return out


def _better(tps: float, when: str, cur_tps: float | None, cur_when: str) -> bool:
    """Higher TPS wins; at equal TPS the earlier one (ISO times compare as text)."""
    if cur_tps is None or tps != cur_tps:
        return cur_tps is None or tps > cur_tps
    return when < cur_when


def _tied(leader: Mapping[str, Any], other: Mapping[str, Any], tie_tps: float) -> bool:
    if leader["tps"] - other["tps"] < tie_tps:
        return True
    lo_a, hi_a = leader["ci95"]
    lo_b, hi_b = other["ci95"]
    return lo_a <= hi_b and lo_b <= hi_a
