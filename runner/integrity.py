"""Integrity checks: is the speed that was measured honest speed, judged by whom?

Every engine is untrusted: the submission's engine sees every request, keeps state across
requests, knows the public prompts, can tell one kind of request from another, and can return
any log-probability it likes. So it is only timed, and its token IDs checked. Every quality
figure comes from the referee: stock vLLM of the same version serving the same checkpoint
(speculative decoding off, no patch) in its own sandbox (`runner.referee`). Each known way to
game the score is caught by a named check that runs in every run (the cheats live on as tests
in tests/integrity/):

- `scoring_consistency` (referee): every token of every distinct timed output, public and
  private, full length, teacher-forced through the referee: each must be the referee's top-1,
  or an honest near-tie (its rank and lead within the calibrated noise, never past
  `integrity.near_tie_margin`). Since every served token is checked after its own served
  prefix, this holds the whole output to plain greedy decoding of the checkpoint. Catches
  approximate decode paths, relaxed acceptance, outputs whose tail was never computed, and
  engines that decode differently when nobody asks for logprobs (nobody ever asks the
  submission's engine). Reports the served text's NLL under the referee.
- `near_ties` (referee): how often served tokens are not the referee's top-1 is bounded by what
  honest numerical noise does (`integrity.noise`, calibrated by the organizer with
  `arena calibrate`): an engine that takes the runner-up wherever it is close enough fails,
  however small each step.
- `greedy_fidelity` (referee): a random sample of timed outputs against the referee's own
  greedy decode of the same prompt, full length, with top-20 log-probabilities; after an honest
  near-tie the decode resumes from the served token; a walk that runs out of its resumption
  budget fails.
- `public_private_gap`: private-prompt TPS is not lower than public-prompt TPS by more than the
  challenge's tolerance. Catches drafters, caches or pruning fitted to the public prompts.
- `cache_probe` (submission's engine): no speed from remembered work. The timed requests are
  all distinct fresh variants (`runner.measure`), so nothing can be replayed exactly; across
  the timed passes a prompt's later variants may not run faster than its first by more than
  `integrity.pass_speedup_max`; and fresh prompts sent twice in a row may not be answered
  faster the second time than `integrity.cache_probe_max_speedup` allows.

Every sample is drawn with the operating system's randomness, per run: a submission cannot
know which prompts will be checked, so it cannot behave on those alone.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from arena.challenge import Integrity, NoiseCalibration
from runner import checks as C
from runner.client import EngineFailure
from runner.context import RunContext
from runner.measure import TpsSet, _actual_logprob, fresh_variant

GREEDY_FIDELITY = "greedy_fidelity"
SCORING_CONSISTENCY = "scoring_consistency"
NEAR_TIES = "near_ties"
PUBLIC_PRIVATE_GAP = "public_private_gap"
CACHE_PROBE = "cache_probe"

# How many log-probabilities the referee reports per position. The served token is usually
# among them, so its exact rank and distance from the top-1 are known; when it is not, its rank
# is past them and its distance at least the top-1's lead over the last of them.
TOP_K = 20
# After a near-tie the referee's decode is resumed from the served prefix, so that the rest of
# the output is still checked; this many times per output at most (past it, the check fails).
MAX_RESYNCS = 16

_rng = random.SystemRandom()

Decode = Callable[[list[int], int], tuple[list[int], list[dict[int, float]]]]

# -- the near-tie rule ----------------------------------------------------------------------

def lead_over(top: Mapping[int, float], best: int, other: int) -> tuple[float, bool]:
    """How far the reference's choice `best` leads `other` at one position, from the
    reference's top-k log-probabilities: (lead, exact). When `other` is not among the top-k,
    the lead is at least the top-1's lead over the last of them (exact is False)."""
    lp_best = top.get(best, max(top.values()))
    if other in top:
        return max(0.0, lp_best - top[other]), True
    return max(0.0, lp_best - min(top.values())), False


def rank_of(top: Mapping[int, float], token: int) -> int:
    """The 1-based rank of `token` among the referee's top-k (k + 1 when it is not among them)."""
    if token not in top:
        return len(top) + 1
    lp = top[token]
    return 1 + sum(1 for v in top.values() if v > lp)


@dataclass(frozen=True)
class NoiseBounds:
    """What honest numerical noise may do to served tokens, from the challenge's calibration:
    how far (the largest lead of the referee's top-1 over a served token), in which direction
    (the served token's rank), and how often (the share of served tokens that are not the
    referee's top-1, with a Poisson allowance for the number of tokens judged)."""

    max_lead: float
    max_rank: int
    rate: float
    calibrated_tokens: int
    source: str

    @classmethod
    def of(cls, integ: Integrity) -> "NoiseBounds":
        n: NoiseCalibration = integ.noise
        if n.tokens:
            # A calibration that saw no flip in T tokens still bounds the rate by about 1/T.
            lead, rate = min(integ.near_tie_margin, n.max_lead), max(n.rate, 1.0 / n.tokens)
        else:  # provisional figures (or none): the margin bounds a lead, the rate if given
            lead = min(integ.near_tie_margin, n.max_lead or integ.near_tie_margin)
            rate = n.rate or 1.0
        return cls(lead, n.max_rank, rate, n.tokens, n.source)

    def allowed_flips(self, tokens: int) -> int:
        """The most non-top-1 tokens honest noise makes in `tokens` tokens: the Poisson upper
        quantile at one in a million around the calibrated rate."""
        lam = self.rate * tokens
        if lam >= tokens:
            return tokens
        k, term = 0, math.exp(-lam)
        cdf = term
        while 1.0 - cdf > 1e-6 and k < tokens:
            k += 1
            term *= lam / k
            cdf += term
        return k

    def honest(self, lead: float, rank: int) -> bool:
        return lead <= self.max_lead and rank <= self.max_rank


# -- judging served tokens against the referee ----------------------------------------------

@dataclass
class Judged:
    """Served tokens judged by the referee's teacher-forced log-probabilities."""

    tokens: int = 0
    top1: int = 0
    flips: int = 0  # not the referee's top-1, within the noise bounds
    violations: int = 0  # not the top-1, and past the noise bounds (how far or which rank)
    nll: float = 0.0
    max_lead: float = 0.0  # of the referee's top-1 over a served non-top-1 token
    max_rank: int = 1
    first_violation: tuple[int, float, int] | None = None  # (position, lead, rank)

    def add(self, other: "Judged") -> None:
        self.tokens += other.tokens
        self.top1 += other.top1
        self.flips += other.flips
        self.violations += other.violations
        self.nll += other.nll
        self.max_lead = max(self.max_lead, other.max_lead)
        self.max_rank = max(self.max_rank, other.max_rank)


def _top(entry: Any) -> dict[int, float]:
    out: dict[int, float] = {}
    if isinstance(entry, Mapping):
        for k, v in entry.items():
            try:
                out[int(k)] = _logprob(v)
            except (TypeError, ValueError):
                continue
    return out


def judge_output(entries: Sequence[Any], output: Sequence[int], bounds: NoiseBounds,
                 context: str = "") -> Judged:
    """Judge each served token by the referee's log-probabilities at its position
    (`entries[j]` maps token IDs, as strings, to {"logprob": ...}: the referee's top-k and the
    actual token)."""
    j_ = Judged()
    for j, tok in enumerate(output):
        lp = _actual_logprob(entries[j], tok, context)
        top = _top(entries[j])
        top[int(tok)] = lp
        best = max(top.values())
        j_.tokens += 1
        j_.nll -= lp
        lead = best - lp
        if lead <= 0:
            j_.top1 += 1
            continue
        rank = rank_of(top, int(tok))
        j_.max_lead = max(j_.max_lead, lead)
        j_.max_rank = max(j_.max_rank, rank)
        if bounds.honest(lead, rank):
            j_.flips += 1
        else:
            j_.violations += 1
            if j_.first_violation is None:
                j_.first_violation = (j, lead, rank)
    return j_


@dataclass
class Scored:
    """Served tokens judged by the engine's own scoring path."""

    tokens: int = 0
    top1: int = 0
    near_ties: int = 0
    violations: int = 0
    nll: float = 0.0
    first_violation: tuple[int, float] | None = None  # (position, lead)

    def add(self, other: "Scored") -> None:
        self.tokens += other.tokens
        self.top1 += other.top1
        self.near_ties += other.near_ties
        self.violations += other.violations
        self.nll += other.nll


def score_output(entries: Sequence[Any], output: Sequence[int], margin: float,
                 context: str = "") -> Scored:
    """Judge each served token by one fixed near-tie margin (no calibration): top-1, a near-tie
    within `margin`, or a violation."""
    s = Scored()
    for j, tok in enumerate(output):
        entry = entries[j]
        lp = _actual_logprob(entry, tok, context)
        best = max(_logprob(v) for v in entry.values())
        s.tokens += 1
        s.nll -= lp
        lead = best - lp
        if lead <= 0:
            s.top1 += 1
        elif lead <= margin:
            s.near_ties += 1
        else:
            s.violations += 1
            if s.first_violation is None:
                s.first_violation = (j, lead)
    return s


def _logprob(v: Any) -> float:
    x = v.get("logprob") if isinstance(v, Mapping) else v
    return float(x) if isinstance(x, (int, float)) and not math.isnan(x) else -math.inf


def distinct_served(tps: Mapping[str, TpsSet], order: Sequence[str]
                    ) -> list[tuple[str, int, tuple[int, ...], list[int]]]:
    """Every distinct (set, prompt index, prompt sent, output) of the timed passes, in set
    order. Every timed request is a fresh variant, so in practice each request is one entry."""
    out, seen = [], set()
    for name in order:
        if name not in tps:
            continue
        for i, prompt, served in tps[name].served():
            key = (prompt, tuple(served))
            if key not in seen:
                seen.add(key)
                out.append((name, i, prompt, served))
    return out


def referee_scoring(ctx: RunContext) -> list[C.Check]:
    """`scoring_consistency` and `near_ties`: every token of every distinct timed output,
    teacher-forced through the referee (one request per output, with its top-k)."""
    integ = ctx.plan.challenge.integrity
    bounds = NoiseBounds.of(integ)
    t0 = time.monotonic()
    order = [s.name for s in ctx.plan.sets]
    total = Judged()
    per_set: dict[str, Judged] = {}
    first: tuple[str, int, float, int] | None = None
    served = distinct_served(ctx.tps, order)
    for k, (name, i, prompt, out) in enumerate(served):
        label = ctx.encoded[name].set.label(i)
        ctx.client.context = f"referee scoring ({name}), output {k + 1} of {len(served)}"
        lps = ctx.client.prompt_logprobs(list(prompt) + list(out), top=TOP_K)
        got = judge_output(lps[len(prompt):], out, bounds, ctx.client.context)
        per_set.setdefault(name, Judged()).add(got)
        total.add(got)
        if got.first_violation and first is None:
            first = (label, *got.first_violation)
        if (k + 1) % 50 == 0:
            ctx.progress(f"referee scoring: {k + 1} of {len(served)} outputs")
    seconds = round(time.monotonic() - t0, 3)
    figures: dict[str, Any] = {"judge": "referee", "near_tie_margin": integ.near_tie_margin,
                               "max_lead": round(bounds.max_lead, 6),
                               "max_rank": bounds.max_rank}
    for name, j in per_set.items():
        figures[f"{name}_tokens"] = j.tokens
        figures[f"{name}_violations"] = j.violations
        if j.tokens:
            figures[f"{name}_nll_per_token"] = round(j.nll / j.tokens, 6)
    figures.update(outputs=len(served), tokens=total.tokens, top1_tokens=total.top1,
                   near_ties=total.flips, violations=total.violations, seconds=seconds)
    ctx.progress(f"referee scoring: {len(served)} outputs ({total.tokens} tokens) judged "
                 f"({seconds:.1f} s)")
    if not total.tokens:
        return [C.Check(SCORING_CONSISTENCY, C.SKIP, "no timed output to score.", figures),
                C.Check(NEAR_TIES, C.SKIP, "no timed output to score.")]
    nll = total.nll / total.tokens
    figures["top1_rate"] = round(total.top1 / total.tokens, 6)
    figures["nll_per_token"] = round(nll, 6)
    figures["served_ppl"] = round(math.exp(min(nll, 700.0)), 6)
    return [_scoring_check(total, first, figures, bounds), _near_ties_check(total, bounds)]


def _scoring_check(total: Judged, first: tuple[str, int, float, int] | None,
                   figures: dict[str, Any], bounds: NoiseBounds) -> C.Check:
    nll = figures["nll_per_token"]
    if first is not None:
        label, pos, lead, rank = first
        return C.Check(SCORING_CONSISTENCY, C.FAIL, (
            f"{total.violations} of {total.tokens} timed output tokens are not what plain "
            f"greedy decoding of the checkpoint (the referee: stock vLLM, speculative decoding "
            f"off) would choose after the same prefix: first at token {pos + 1} of {label}, "
            f"where the referee's top-1 leads the served token by {lead:.3f} (its rank {rank}; "
            f"honest noise: at most {bounds.max_lead:.3g} and rank {bounds.max_rank}). Greedy "
            "output must be token-identical to plain greedy decoding of the submitted "
            "checkpoint: approximate decoding, accepting draft tokens the model would not "
            "choose, or tokens that were never computed are not allowed."), figures)
    ties = f", {total.flips} honest near-ties" if total.flips else ""
    return C.Check(SCORING_CONSISTENCY, C.PASS, (
        f"all {total.tokens} timed output tokens ({figures['outputs']} outputs) are the "
        f"referee's top-1{ties}; their NLL under the referee is {nll:.4f} per token."),
        figures)


def _near_ties_check(total: Judged, bounds: NoiseBounds) -> C.Check:
    non_top1 = total.flips + total.violations
    allowed = bounds.allowed_flips(total.tokens)
    figures = {"tokens": total.tokens, "non_top1": non_top1,
               "rate": round(non_top1 / total.tokens, 6), "allowed": allowed,
               "calibrated_rate": round(bounds.rate, 8),
               "calibrated_tokens": bounds.calibrated_tokens,
               "largest_lead": round(total.max_lead, 6), "largest_rank": total.max_rank,
               "calibration": bounds.source[:200]}
    if non_top1 > allowed:
        return C.Check(NEAR_TIES, C.FAIL, (
            f"{non_top1} of {total.tokens} timed output tokens ({non_top1 / total.tokens:.1%}) "
            f"are not the referee's top-1; honest numerical noise makes at most {allowed} in "
            f"that many (calibrated rate {bounds.rate:.3%}). Taking a close runner-up instead "
            "of the model's own choice is not allowed, however close it is."), figures)
    return C.Check(NEAR_TIES, C.PASS, (
        f"{non_top1} of {total.tokens} timed output tokens are not the referee's top-1 "
        f"(honest noise allows up to {allowed})."), figures)


# -- greedy fidelity ----------------------------------------------------------------------------

@dataclass
class Comparison:
    """One served output against plain greedy decoding of the same prompt."""

    tokens: int  # served tokens to compare
    checked: int = 0  # tokens walked: all of them, unless a violation or MAX_RESYNCS ended it
    matching: int = 0  # tokens equal to the plain decode's choice after the same prefix
    first_divergence: int | None = None  # position of the first token that differs
    near_ties: int = 0
    violation: tuple[int, float, bool] | None = None  # (position, lead, exact)
    unresolved: int = 0  # tokens left unchecked after MAX_RESYNCS near-ties


def compare_with_plain(served: Sequence[int], decode: Decode, margin: float, *,
                       max_resyncs: int = MAX_RESYNCS) -> Comparison:
    """Walk the served output against the plain decode. `decode(prefix, n)` returns the plain
    engine's next `n` greedy tokens after the prompt + `prefix`, with its top-k
    log-probabilities at each. A differing token ends the walk as a violation when the plain
    top-1 led it by more than `margin`; otherwise (a near-tie) the plain decode resumes after
    the served token, so the rest of the output is still held to plain greedy decoding."""
    n = len(served)
    out = Comparison(n)
    base, pos, resyncs = 0, 0, 0
    plain, tops = decode([], n)
    while pos < n:
        k = pos - base
        if k >= len(plain):
            raise EngineFailure(f"the plain decode returned {len(plain)} tokens where "
                                f"{n - base} were asked")
        if plain[k] == served[pos]:
            out.matching += 1
            pos += 1
            continue
        if out.first_divergence is None:
            out.first_divergence = pos
        lead, exact = lead_over(tops[k], plain[k], served[pos])
        if lead > margin:
            out.violation = (pos, lead, exact)
            out.checked = pos + 1
            return out
        out.near_ties += 1
        pos += 1
        if pos == n:
            break
        if resyncs == max_resyncs:
            out.unresolved = n - pos
            break
        resyncs += 1
        base = pos
        plain, tops = decode(list(served[:pos]), n - pos)
    out.checked = pos
    return out


def _distinct(outputs: Sequence[Sequence[int]], limit: int) -> list[list[int]]:
    seen: list[list[int]] = []
    for o in outputs:
        o = list(o[:limit])
        if o not in seen:
            seen.append(o)
    return seen


def sample_prompts(tps: Mapping[str, TpsSet], order: Sequence[str], count: int,
                   rng: random.Random = _rng) -> list[tuple[str, int]]:
    """`count` (set name, prompt index) pairs, spread evenly over the measured sets, the
    scored set (the last in `order`, private when measured) first."""
    names = [n for n in reversed(order) if n in tps]
    pools = {n: rng.sample(sorted(tps[n].outputs), len(tps[n].outputs)) for n in names}
    out: list[tuple[str, int]] = []
    while len(out) < count and any(pools.values()):
        for n in names:
            if pools[n] and len(out) < count:
                out.append((n, pools[n].pop()))
    return out


def greedy_fidelity(ctx: RunContext) -> list[C.Check]:
    """A sample of served outputs against the referee's own greedy decode of the same prompt."""
    ch = ctx.plan.challenge
    integ = ch.integrity
    bounds = NoiseBounds.of(integ)
    if integ.fidelity_prompts == 0:
        return [C.Check(GREEDY_FIDELITY, C.SKIP, "the challenge samples no prompts for it "
                        "(integrity.fidelity_prompts is 0).")]
    t0 = time.monotonic()
    n_tokens = min(integ.fidelity_output_tokens, ch.output_tokens)
    sample = sample_prompts(ctx.tps, [s.name for s in ctx.plan.sets], integ.fidelity_prompts)
    figures: dict[str, Any] = {
        "reference": "the referee (stock vLLM, speculative decoding off)",
        "prompts": len(sample), "output_tokens": n_tokens,
        "near_tie_margin": integ.near_tie_margin, "max_lead": round(bounds.max_lead, 6)}
    ctx.progress(f"greedy fidelity: {len(sample)} sampled outputs decoded again by the referee")
    comparisons = []
    for name, i in sample:
        label = ctx.encoded[name].set.label(i)
        t = ctx.tps[name]
        r = _rng.randrange(len(t.outputs[i]))  # which pass's variant of the prompt
        prompt, served = list(t.sent[i][r]), list(t.outputs[i][r][:n_tokens])

        def decode(prefix: list[int], n: int, prompt: list[int] = prompt,
                   label: str = label) -> tuple[list[int], list[dict[int, float]]]:
            ctx.client.context = f"greedy fidelity, {label}"
            g = ctx.client.generate(prompt + prefix, n, logprobs=TOP_K)
            assert g.top_logprobs is not None
            return g.token_ids, g.top_logprobs

        comparisons.append((label, compare_with_plain(served, decode, bounds.max_lead)))
    figures["seconds"] = round(time.monotonic() - t0, 3)
    return [_fidelity_check(comparisons, figures, bounds.max_lead)]


def _fidelity_check(comparisons: Sequence[tuple[str, Comparison]], figures: dict[str, Any],
                    margin: float) -> C.Check:
    tokens = sum(c.checked for _, c in comparisons)
    matching = sum(c.matching for _, c in comparisons)
    near = sum(c.near_ties for _, c in comparisons)
    bad = [(label, c) for label, c in comparisons if c.violation is not None]
    unresolved = sum(c.unresolved for _, c in comparisons)
    figures.update(
        outputs=len(comparisons), tokens_compared=tokens, tokens_matching=matching,
        match_rate=round(matching / tokens, 6) if tokens else None,
        identical_outputs=sum(1 for _, c in comparisons if c.first_divergence is None),
        first_divergence=[c.first_divergence for _, c in comparisons][:200],
        near_ties=near, violations=len(bad), unresolved_tokens=unresolved)
    where = figures["reference"]
    if bad:
        label, c = bad[0]
        assert c.violation is not None
        pos, lead, exact = c.violation
        figures["first_violation_position"] = pos
        figures["first_violation_lead"] = round(lead, 4)
        return C.Check(GREEDY_FIDELITY, C.FAIL, (
            f"{len(bad)} of {len(comparisons)} sampled outputs differ from plain greedy "
            f"decoding of the same checkpoint where the plain decode was confident: first at "
            f"token {pos + 1} of {label}, where the plain top-1 leads the served token by "
            f"{'' if exact else 'at least '}{lead:.3f} (honest noise: at most {margin:.3g}). "
            "Greedy output must be token-identical to plain greedy decoding of the submitted "
            "checkpoint (reference: " + where + "). Relaxed or approximate acceptance of "
            "draft tokens is not allowed: verify every drafted token exactly, or serve "
            "without the change that alters the output."), figures)
    if not comparisons:
        return C.Check(GREEDY_FIDELITY, C.SKIP, "no timed output to compare.", figures)
    notes = f"; {near} near-ties within honest noise" if near else ""
    if unresolved:
        return C.Check(GREEDY_FIDELITY, C.FAIL, (
            f"{unresolved} served tokens could not be checked: one output left the referee's "
            f"greedy decode at near-ties more than {MAX_RESYNCS} times (reference: {where}). "
            "Honest numerical noise flips a near-tie rarely; an output that keeps taking the "
            "runner-up is not plain greedy decoding."), figures)
    return C.Check(GREEDY_FIDELITY, C.PASS, (
        f"{len(comparisons)} sampled outputs ({tokens} tokens) follow plain greedy decoding "
        f"of the same checkpoint: {matching} of {tokens} tokens identical{notes} (reference: "
        f"{where})."), figures)


# -- public vs private ---------------------------------------------------------------------

def public_private_gap(tps: Mapping[str, TpsSet], integ: Integrity) -> C.Check:
    tol, action = integ.public_private_tolerance, integ.public_private_action
    figures: dict[str, Any] = {"tolerance": tol, "action": action}
    if "public" not in tps or "private" not in tps:
        only = ", ".join(sorted(tps)) or "no"
        return C.Check(PUBLIC_PRIVATE_GAP, C.SKIP, f"only the {only} set was measured; the "
                       "gap is judged when both the public and the private sets are.", figures)
    pub, priv = tps["public"].summary.median, tps["private"].summary.median
    gap = (pub - priv) / pub if pub > 0 else 0.0
    figures.update(public_tps=round(pub, 4), private_tps=round(priv, 4), gap=round(gap, 6))
    if gap > tol:
        status = C.FAIL if action == "invalid" else C.WARN
        return C.Check(PUBLIC_PRIVATE_GAP, status, (
            f"private-prompt TPS {priv:.1f} is {gap:.1%} below public-prompt TPS {pub:.1f} "
            f"(tolerance {tol:.0%}): the speed does not carry over to prompts the submission "
            "has not seen. Drafters trained on, caches filled with, or output layers pruned "
            "to the public prompts are not allowed; measure changes on prompts of your own "
            "outside the public set."), figures)
    how = "faster than" if gap < 0 else f"{gap:.1%} below"
    return C.Check(PUBLIC_PRIVATE_GAP, C.PASS, f"private-prompt TPS {priv:.1f} is {how} "
                   f"public-prompt TPS {pub:.1f} (tolerance {tol:.0%}).", figures)


# -- remembered work -----------------------------------------------------------------------

def probe_speedup(pairs: Sequence[tuple[float, float]]) -> float:
    """The median over (first, repeat) pairs of how many times faster the repeat was. Each
    pair is the same request twice in a row, so it does the same work (the same drafts are
    proposed and accepted) and meets the same machine load."""
    return statistics.median(f / max(r, 1e-6) for f, r in pairs)


def timed_repeat_speedup(t: TpsSet) -> float | None:
    """Across the timed passes: the median over prompts of how many times faster a prompt's
    later variants ran than its first (the median of the later ones; None with one pass).
    Passes run seconds apart, so machine noise moves it (up to 1.2-1.4x was seen on an honest
    run on a busy 2-core CPU, with the fastest later request); the limit is
    `integrity.pass_speedup_max`. An engine that replays what it served earlier, or drafts
    from it, is faster on every later pass."""
    ratios = [s[0] / max(statistics.median(s[1:]), 1e-6)
              for s in t.seconds_by_prompt.values() if len(s) > 1]
    return statistics.median(ratios) if ratios else None


def cache_probe(ctx: RunContext) -> list[C.Check]:
    """Against the submission's engine, after the timed passes: no speed from remembered work."""
    ch = ctx.plan.challenge
    integ = ch.integrity
    limit, pass_limit = integ.cache_probe_max_speedup, integ.pass_speedup_max
    figures: dict[str, Any] = {"max_speedup": limit, "pairs": integ.cache_probe_repeats,
                               "max_pass_speedup": pass_limit}
    timed = {n: timed_repeat_speedup(t) for n, t in ctx.tps.items()}
    timed_known = {n: v for n, v in timed.items() if v is not None}
    for n, v in timed_known.items():
        figures[f"timed_{n}_repeat_speedup"] = round(v, 4)
    problems: list[str] = []
    for n, v in timed_known.items():
        if v > pass_limit:
            problems.append(f"across the timed passes, the {n} prompts' later variants ran "
                            f"{v:.2f}x as fast as their first (median over prompts; limit "
                            f"{pass_limit:g}x)")
    pairs: list[tuple[float, float]] = []
    if integ.cache_probe_repeats and ctx.tps:
        t0 = time.monotonic()
        name = [s.name for s in ctx.plan.sets if s.name in ctx.tps][-1]  # the scored set
        enc = ctx.encoded[name]
        base = _rng.choice(sorted(ctx.tps[name].outputs))
        taken = {tuple(p) for e in ctx.encoded.values() for p in e.prompt_ids}
        taken |= {p for t in ctx.tps.values() for ps in t.sent.values() for p in ps}
        for k in range(integ.cache_probe_repeats):
            v = fresh_variant(enc.prompt_ids[base], taken)
            ctx.client.context = f"cache probe, fresh prompt {k + 1}"
            first = ctx.client.generate(v, ch.output_tokens)
            ctx.client.context = f"cache probe, repeat {k + 1}"
            again = ctx.client.generate(v, ch.output_tokens)
            for g in (first, again):
                if len(g.token_ids) != ch.output_tokens or g.finish_reason != "length":
                    problems.append(f"a probe request returned {len(g.token_ids)} token IDs "
                                    f"(finish reason {g.finish_reason!r}), not "
                                    f"{ch.output_tokens}")
            if first.token_ids != again.token_ids:
                problems.append("the repeated request was answered with other tokens than the "
                                "first (greedy decoding at batch 1 is deterministic)")
            pairs.append((first.seconds, again.seconds))
        speedup = probe_speedup(pairs)
        figures.update(prompt_set=name, speedup=round(speedup, 4),
                       first_seconds=[round(f, 4) for f, _ in pairs],
                       repeat_seconds=[round(r, 4) for _, r in pairs],
                       seconds=round(time.monotonic() - t0, 3))
        if speedup > limit:
            problems.insert(0, f"a request repeated verbatim ran {speedup:.2f}x as fast as "
                               f"the first time it was sent (median of {len(pairs)} fresh "
                               f"prompts, each sent twice in a row; limit {limit:g}x)")
        ctx.progress(f"cache probe: {len(pairs)} fresh prompts sent twice")
    elif not timed_known:
        return [C.Check(CACHE_PROBE, C.SKIP, "the challenge asks for no probe "
                        "(integrity.cache_probe_repeats is 0) and one timed pass only.",
                        figures)]
    if problems:
        return [C.Check(CACHE_PROBE, C.FAIL, (
            "; ".join(problems[:3]) + ". Answers, KV blocks or drafts must not be reused "
            "across requests: every timed request must be computed in full."), figures)]
    shown = ", ".join(f"{n} {v:.2f}x" for n, v in timed_known.items())
    probe = (f"a request repeated verbatim ran {figures['speedup']:.2f}x as fast as the first "
             f"time (limit {limit:g}x)") if pairs else "no probe requests"
    return [C.Check(CACHE_PROBE, C.PASS, (
        f"{probe}; later timed variants vs first: {shown or 'one pass only'} (limit "
        f"{pass_limit:g}x); no sign of remembered work."), figures)]


# The checks against the submission's engine, after its timed passes.
SUBMISSION_CHECKS = (cache_probe,)
# The checks against the referee, after perplexity (which the referee measures too).
REFEREE_CHECKS = (referee_scoring, greedy_fidelity)
for _fn, _names in ((cache_probe, (CACHE_PROBE,)),
                    (referee_scoring, (SCORING_CONSISTENCY, NEAR_TIES)),
                    (greedy_fidelity, (GREEDY_FIDELITY,))):
    _fn.check_names = _names  # type: ignore[attr-defined]

# Every check of a run, in the order the result lists them.
CHECK_ORDER = ("model_identity", "output_length", PUBLIC_PRIVATE_GAP, CACHE_PROBE, "ppl_cap",
               SCORING_CONSISTENCY, NEAR_TIES, GREEDY_FIDELITY)
