"""How one run compares with another: the difference in tokens/s and in perplexity, an interval
for the TPS difference, and the verdict (better, worse or tie) of the ranking's own rule.

One comparison, everywhere: the bot's result comment, the digest, the submission page, the JSON
API and `arena compare` all call `compare_runs`, and its verdict is `TieRule.compare`, the rule
`rank` groups ties with. Nothing here decides a tie in any other way.

What the figures mean:

- `diff_tps` is the candidate's score minus the baseline's (medians of their scored set, the
  numbers the board ranks), `diff_pct` the same as a fraction of the baseline.
- `diff_ci95` is the 95% confidence interval of the difference of the two runs' mean pass TPS
  (Welch's t, from each run's passes: arena.stats). It says how precisely *these two runs*
  pin the difference down; it cannot see drift between runners or hours, which is what the tie
  margin (run-to-run noise, calibrated) covers. So the verdict comes from the tie rule, never
  from the interval: an interval that excludes 0 with a "tie" verdict means the two runs
  differ, but by less than two runs of one configuration often do.
- `diff_ppl` is the candidate's perplexity minus the baseline's on the same set (each measured
  once, by the referee; no interval).

A paired run (`arena bench --vs`, `/bench vs`) measured the candidate and another submission in
one job on one runner, interleaved; its result carries a `paired` block. Compared with that
submission, the comparison takes the pairs' figures: both sides' mean pass TPS over the pairs,
their difference, and the interval from the pair differences (Student's t: drift between
runners and hours cancels out of each pair), with the same data read as two separate runs
(Welch) beside it. `paired` and `pairs` say so; the verdict is still `TieRule.compare`, on
the two paired means. `how()` is the words every front end shows for it.

Pure: results in (typed, arena.result.Result; validated documents are read as such), values
out.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from arena.result import Result, as_result
from arena.stats import CONFIDENCE, TieRule, diff_interval
from leaderboard.ranking import Entry, ResultLike, scored_tps

COMPARE_FORMAT = "arena.compare/1"
AGAINST = ("parent", "leader", "runner-up", "other")


@dataclass(frozen=True)
class Side:
    """One of the two runs compared."""

    submission_id: str
    run_id: str
    tps_set: str | None
    tps: float | None  # median of the scored set: the ranked number
    passes: int
    ppl: float | None

    def to_json(self) -> dict[str, Any]:
        return {"submission": self.submission_id, "run_id": self.run_id,
                "tps_set": self.tps_set, "tps": self.tps, "passes": self.passes,
                "ppl": self.ppl}


@dataclass(frozen=True)
class Comparison:
    against: str  # parent | leader | runner-up | other: what the baseline is to the candidate
    candidate: Side
    baseline: Side
    tps_set: str | None  # the set both are scored on; None when they are not comparable
    diff_tps: float | None
    diff_pct: float | None
    diff_ci95: tuple[float, float] | None  # Welch, on the passes' means; None under 2 passes
    diff_ppl: float | None
    verdict: str | None  # better | worse | tie (TieRule.compare); None when not comparable
    margin: float | None  # the tie margin the verdict was judged against
    note: str | None = None  # why there is no verdict, or what to keep in mind
    paired: bool = False  # figures from a paired run of the two (the candidate's `paired` block)
    pairs: int | None = None  # how many pairs of passes, when paired
    unpaired_ci95: tuple[float, float] | None = None  # paired: the same passes read as 2 runs

    def how(self) -> str:
        """How the two were measured, in the words every front end shows."""
        if self.paired:
            return f"paired, {self.pairs} pair{'s' if self.pairs != 1 else ''}"
        return "separate runs"

    def interval_words(self) -> str:
        """What `diff_ci95` is, in words."""
        if self.paired:
            return ("95% CI of the mean pair difference (Student's t on the pairs, one job on "
                    "one runner, interleaved)")
        return "95% CI of the difference of mean pass TPS (Welch, the two runs' passes)"

    @property
    def same_run(self) -> bool:
        return (self.candidate.submission_id, self.candidate.run_id) == (
            self.baseline.submission_id, self.baseline.run_id)

    def to_json(self) -> dict[str, Any]:
        return {"against": self.against, "candidate": self.candidate.to_json(),
                "baseline": self.baseline.to_json(), "tps_set": self.tps_set,
                "diff_tps": self.diff_tps, "diff_pct": self.diff_pct,
                "diff_ci95": list(self.diff_ci95) if self.diff_ci95 else None,
                "diff_ppl": self.diff_ppl, "verdict": self.verdict,
                "tie_margin": self.margin, "note": self.note, "paired": self.paired,
                "pairs": self.pairs,
                "unpaired_ci95": list(self.unpaired_ci95) if self.unpaired_ci95 else None}

    def summary(self) -> str:
        """One line of plain text (callers escape it for where it is shown)."""
        base = f"{self.baseline.submission_id} (run {self.baseline.run_id})"
        if self.paired:
            base = f"{self.baseline.submission_id} ({self.how()} in run {self.baseline.run_id})"
        if self.verdict is None:
            return f"vs {self.against} {base}: {self.note or 'not comparable'}"
        ci = (f", 95% CI {self.diff_ci95[0]:+.1f} to {self.diff_ci95[1]:+.1f}"
              if self.diff_ci95 else "")
        if self.paired and self.unpaired_ci95:
            ci += (f" from the pairs; as two separate runs {self.unpaired_ci95[0]:+.1f} to "
                   f"{self.unpaired_ci95[1]:+.1f}")
        ppl = f"; perplexity {self.diff_ppl:+.3f}" if self.diff_ppl is not None else ""
        return (f"vs {self.against} {base}: {VERDICT_WORDS[self.verdict]}, "
                f"{self.diff_tps:+.1f} tokens/s ({self.diff_pct:+.1%}{ci}; tie margin "
                f"{self.margin:.1f}){ppl}")


VERDICT_WORDS = {"better": "better", "worse": "worse", "tie": "tie (within the noise)"}


def pass_tps(result: ResultLike, tps_set: str) -> list[float]:
    return list(as_result(result).tps[tps_set].pass_tps)


def _ppl(result: Result, tps_set: str | None) -> float | None:
    sets = result.ppl.sets
    if tps_set is None or tps_set not in sets:
        return None
    return sets[tps_set].value


def side(result: ResultLike) -> Side:
    r = as_result(result)
    s = r.score_set
    return Side(r.submission.id, r.run_id, s, scored_tps(r),
                len(r.tps[s].passes) if s else 0, _ppl(r, s))


def paired_against(result: ResultLike) -> str | None:
    """The submission a result was measured against in a paired run, or None."""
    paired = as_result(result).paired
    return paired.against.id if paired is not None else None


def _same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def paired_comparison(candidate: ResultLike, rule: TieRule, *, against: str = "other",
                      baseline: ResultLike | None = None) -> Comparison:
    """The candidate against the submission it was paired with, from its `paired` block:
    both sides' mean pass TPS over the pairs, the mean pair difference and its interval; the
    verdict is `rule.compare` on the two paired means. `baseline` (a result of the other
    submission at the configuration that was paired) only adds the perplexity difference."""
    candidate = as_result(candidate)
    p = candidate.paired
    assert p is not None
    t = p.tps
    mine = side(candidate)
    s = p.set or mine.tps_set
    c = Side(mine.submission_id, mine.run_id, s, t.candidate, p.pairs, _ppl(candidate, s))
    b_ppl = None
    note = None
    if baseline is not None:
        baseline = as_result(baseline)
        if baseline.submission.config_sha256 == p.against.config_sha256:
            b_ppl = _ppl(baseline, s)
        else:
            note = ("the other submission's ranked run is of another configuration than the "
                    "one paired: no perplexity difference")
    b = Side(p.against.id, mine.run_id, s, t.other, p.pairs, b_ppl)
    if mine.tps is None:
        return Comparison(against, c, b, None, None, None, None, None, None, None,
                          note=f"{c.submission_id} has no measured score", paired=True,
                          pairs=b.passes)
    diff = t.diff
    dppl = None if c.ppl is None or b.ppl is None else c.ppl - b.ppl
    return Comparison(against, c, b, s, diff, diff / b.tps if b.tps else None, t.ci, dppl,
                      rule.compare(c.tps, b.tps), rule.margin(max(c.tps, b.tps)), note,
                      paired=True, pairs=b.passes, unpaired_ci95=t.unpaired_ci)


def compare_runs(candidate: ResultLike, baseline: ResultLike, rule: TieRule, *,
                 against: str = "other") -> Comparison:
    """The candidate run against the baseline run, judged by `rule` (the board's TieRule).
    When the candidate was paired with the baseline's submission, the pairs' figures."""
    candidate, baseline = as_result(candidate), as_result(baseline)
    if _same_id(paired_against(candidate), baseline.submission.id):
        return paired_comparison(candidate, rule, against=against, baseline=baseline)
    c, b = side(candidate), side(baseline)
    if c.tps is None or b.tps is None:
        who = c.submission_id if c.tps is None else b.submission_id
        return Comparison(against, c, b, None, None, None, None, None, None, None,
                          note=f"{who} has no measured score")
    tr = (candidate.challenge.track, baseline.challenge.track)
    if tr[0] and tr[1] and tr[0] != tr[1]:
        # Each track is its own board: runs of two tracks are never compared.
        return Comparison(against, c, b, None, None, None, None, None, None, None,
                          note=f"measured on different tracks ({tr[0]} against {tr[1]}): "
                               "not comparable")
    hw = (candidate.fingerprint.hardware, baseline.fingerprint.hardware)
    if hw[0] != hw[1]:
        # The ranking never mixes hardware either.
        return Comparison(against, c, b, None, None, None, None, None, None, None,
                          note=f"measured on different hardware ({hw[0]} against {hw[1]}): "
                               "not comparable")
    if c.tps_set != b.tps_set:
        # The ranking never compares a private score with a public-only one.
        return Comparison(against, c, b, None, None, None, None, None, None, None,
                          note=f"scored on different prompt sets ({c.tps_set} against "
                               f"{b.tps_set}): not comparable")
    s = c.tps_set
    assert s is not None
    diff = c.tps - b.tps
    note = None
    interval = diff_interval(pass_tps(candidate, s), pass_tps(baseline, s))
    if interval is None:
        note = "fewer than 2 passes on one side: no interval"
    dppl = None if c.ppl is None or b.ppl is None else c.ppl - b.ppl
    return Comparison(against, c, b, s, diff, diff / b.tps if b.tps else None, interval, dppl,
                      rule.compare(c.tps, b.tps), rule.margin(max(c.tps, b.tps)), note)


def leader_for(entries: Sequence[Entry], submission_id: str) -> tuple[Entry, str] | None:
    """The entry a submission is measured against as "the leader": the one listed first, or,
    when that is the submission itself, the best other entry (the runner-up)."""
    for i, e in enumerate(entries):
        if e.submission_id != submission_id:
            return e, ("leader" if i == 0 else "runner-up")
    return None


def comparisons(candidate: ResultLike, parent_id: str | None, entries: Sequence[Entry],
                rule: TieRule, *, by_id: Mapping[str, Entry] | None = None,
                ) -> dict[str, Comparison | str]:
    """The candidate against its parent's ranked run and against the leader. A key whose
    comparison cannot be made holds the reason, in words. `by_id` (entries by submission id)
    saves rebuilding the index when many candidates are compared."""
    candidate = as_result(candidate)
    sid = candidate.submission.id
    if by_id is None:
        by_id = {e.submission_id: e for e in entries}
    out: dict[str, Comparison | str] = {}
    if parent_id is not None:
        pe = by_id.get(parent_id)
        if pe is None and _same_id(paired_against(candidate), parent_id):
            out["parent"] = paired_comparison(candidate, rule, against="parent")
        else:
            out["parent"] = (compare_runs(candidate, pe.result, rule, against="parent") if pe
                             else f"its parent {parent_id} has no ranked run")
    lead = leader_for(entries, sid)
    if lead is None:
        out["leader"] = "no other ranked entry"
    else:
        out["leader"] = compare_runs(candidate, lead[0].result, rule, against=lead[1])
    return out


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def compact_json(c: Comparison) -> dict[str, Any]:
    """The comparison as the site's API and the digest carry it: the candidate is the entry
    itself, so only the baseline is named; figures rounded to what they can tell."""
    b = c.baseline
    return {"against": c.against,
            "baseline": {"submission": b.submission_id, "run_id": b.run_id,
                         "tps": _r(b.tps, 3), "ppl": _r(b.ppl, 4)},
            "tps_set": c.tps_set, "diff_tps": _r(c.diff_tps, 3), "diff_pct": _r(c.diff_pct, 5),
            "diff_ci95": [round(x, 3) for x in c.diff_ci95] if c.diff_ci95 else None,
            "diff_ppl": _r(c.diff_ppl, 4), "verdict": c.verdict,
            "tie_margin": _r(c.margin, 3), "note": c.note, "paired": c.paired,
            "pairs": c.pairs, "how": c.how(),
            "unpaired_ci95": ([round(x, 3) for x in c.unpaired_ci95] if c.unpaired_ci95
                              else None)}


def comparisons_json(found: Mapping[str, Comparison | str]) -> dict[str, Any]:
    return {k: (compact_json(v) if isinstance(v, Comparison) else {"against": k,
                                                                      "verdict": None,
                                                                      "note": v})
            for k, v in found.items()}


# -- the command line ---------------------------------------------------------------------------

class CompareError(Exception):
    pass


MAX_RESULT_BYTES = 2 * 1024 * 1024


def _read_result(path: Path) -> Result:
    from arena.result import result_errors
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise CompareError(f"{path}: larger than {MAX_RESULT_BYTES} bytes; not a result")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CompareError(f"{path}: not a readable JSON result ({type(exc).__name__})")
    errors = result_errors(doc)
    if errors:
        raise CompareError(f"{path}: not a valid result: {errors[0]}")
    return Result(doc)


def _lookup(ref: str, results: Sequence[Result], entries: Sequence[Entry],
            store: Path | None) -> Result:
    """The run `ref` names (submission id, or id@run), from the store."""
    sid, _, run = ref.partition("@")
    if store is None:
        raise CompareError(f"{ref}: no such file; to look a submission id up, pass --store DIR")
    mine = [r for r in results if r.submission.id.lower() == sid.lower()]
    if not mine:
        raise CompareError(f"{ref}: no run of {sid} in the store {store}")
    if run:
        hit = [r for r in mine if r.run_id == run]
        if not hit:
            raise CompareError(f"{ref}: {sid} has no run {run} in the store")
        return hit[0]
    e = next((e for e in entries if e.submission_id.lower() == sid.lower()), None)
    if e is not None:
        return as_result(e.result)  # its ranked run
    measured = [r for r in mine if scored_tps(r) is not None]
    if not measured:
        raise CompareError(f"{ref}: no run of {sid} has a measured score")
    return max(measured, key=lambda r: (r.started_at, r.run_id))  # its latest


def _ids(result: Result) -> tuple[str, str]:
    return result.submission.id, result.run_id


def cmd_compare(args: Any) -> int:
    from arena import exitcodes
    from arena.commands import load_challenge_or_exit
    from arena.store import ResultsStore
    from arena.text import for_terminal
    from arena.challenge import ChallengeError
    from leaderboard.ranking import board_filter, rank, tie_rule

    challenge = load_challenge_or_exit(args.challenge)
    results: list[Result] = []
    verdicts: list[dict[str, Any]] = []
    if args.store is not None:
        if not args.store.is_dir():
            print(f"arena compare: no results store at {for_terminal(str(args.store))}",
                  file=sys.stderr)
            return exitcodes.USAGE
        st = ResultsStore(args.store)
        results = [r.result for r in st.results()]
        verdicts = st.verdicts()
    try:
        track = challenge.track(getattr(args, "track", None))
    except ChallengeError as exc:
        print(f"arena compare: {for_terminal(exc.problems[0].message)}", file=sys.stderr)
        return exitcodes.USAGE
    board, noise = board_filter(challenge, track.name), track.noise
    entries = rank(results, verdicts, noise=noise, **board)
    try:
        docs = []
        for ref in (args.a, args.b):
            p = Path(ref)
            docs.append(_read_result(p) if p.is_file() else
                        _lookup(ref, results, entries, args.store))
    except CompareError as exc:
        print(f"arena compare: {for_terminal(str(exc))}", file=sys.stderr)
        return exitcodes.USAGE
    # The board the tie rule is read from: the store's runs and the two compared (a file
    # given by path may be a run the store does not hold).
    held = {_ids(r) for r in results}
    runs = results + [d for d in docs if _ids(d) not in held]
    rule = tie_rule(runs, verdicts, noise=noise, **board)
    cmp = compare_runs(docs[0], docs[1], rule)
    if args.json:
        json.dump({"format": COMPARE_FORMAT, "challenge": challenge.id,
                   "confidence": CONFIDENCE, "tie_rule": rule.describe(), **cmp.to_json()},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return exitcodes.OK
    print(for_terminal(text_report(cmp, rule)))
    return exitcodes.OK


def text_report(cmp: Comparison, rule: TieRule) -> str:
    c, b = cmp.candidate, cmp.baseline

    def fig(v: float | None, d: int = 1) -> str:
        return "–" if v is None else f"{v:,.{d}f}"

    rows = [("", "A (candidate)", "B (baseline)"),
            ("submission", c.submission_id, b.submission_id),
            ("run", c.run_id, b.run_id),
            ("scored set", c.tps_set or "–", b.tps_set or "–"),
            ("tokens/s (mean of the pairs)" if cmp.paired else "tokens/s (median)",
             fig(c.tps), fig(b.tps)),
            ("pairs" if cmp.paired else "passes", str(c.passes), str(b.passes)),
            ("perplexity", fig(c.ppl, 3), fig(b.ppl, 3))]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}" for r in rows]
    lines.append("")
    if cmp.verdict is None:
        lines.append(f"not comparable: {cmp.note}")
        return "\n".join(lines)
    assert cmp.diff_tps is not None and cmp.diff_pct is not None and cmp.margin is not None
    lines.append(f"A - B: {cmp.diff_tps:+,.1f} tokens/s ({cmp.diff_pct:+.2%}), {cmp.how()}")
    if cmp.diff_ci95:
        lines.append(f"  {cmp.interval_words()}: {cmp.diff_ci95[0]:+,.1f} to "
                     f"{cmp.diff_ci95[1]:+,.1f}")
        if cmp.unpaired_ci95:
            lines.append(f"  the same passes read as two separate runs (Welch): "
                         f"{cmp.unpaired_ci95[0]:+,.1f} to {cmp.unpaired_ci95[1]:+,.1f}")
    else:
        lines.append(f"  no interval: {cmp.note}")
    if cmp.diff_ppl is not None:
        lines.append(f"  perplexity: {cmp.diff_ppl:+.3f}")
    lines.append(f"verdict: {VERDICT_WORDS[cmp.verdict]}: the tie margin at "
                 f"{max(c.tps or 0, b.tps or 0):,.1f} tokens/s is {cmp.margin:,.1f} tokens/s")
    lines.append("")
    lines.append(rule.describe())
    return "\n".join(lines)
