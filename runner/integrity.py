"""Integrity checks: is the speed that was measured honest speed?

The original challenge's worst failures were numbers that looked clean and were not. Each known
way to game the score is caught here by a named check that runs in every run, with figures and
a message a participant can act on (the cheats themselves live on as tests in
tests/integrity/):

- `greedy_fidelity`: the served greedy outputs equal plain greedy decoding of the same
  checkpoint (speculative decoding off, otherwise the submission's arguments), except where the
  plain decode itself was torn between two tokens (a near-tie, which floating-point noise can
  flip). Catches relaxed speculative acceptance and approximate decode paths.
- `scoring_consistency`: every timed greedy output, fed back to the same engine with
  `prompt_logprobs`, is what the engine's scoring path ranks first (or a near-tie). Catches an
  engine that decodes differently when a request asks for logprobs, which teacher-forced
  perplexity alone never sees. Also reports the served outputs' NLL under the scoring path.
- `public_private_gap`: private-prompt TPS is not lower than public-prompt TPS by more than the
  challenge's tolerance. Catches drafters, caches or pruning fitted to the public prompts.
- `cache_probe`: a request repeated verbatim is not much faster than the first time it was
  seen. Catches answers cached across requests (MLPerf's TEST04 idea).

The near-tie rule is the same everywhere: a token that is not the reference's top-1 is a
violation only when the reference's top-1 beats it by more than `integrity.near_tie_margin`
(natural-log probability).

Every sample is drawn with the operating system's randomness, per run: a submission cannot
know which prompts will be checked, so it cannot behave on those alone.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from arena.challenge import Integrity
from runner import checks as C
from runner.client import EngineClient, EngineFailure
from runner.measure import TpsSet, _actual_logprob
from runner.server import ServerError, VllmServer, describe_pids

if TYPE_CHECKING:
    from runner.bench import RunContext

GREEDY_FIDELITY = "greedy_fidelity"
SCORING_CONSISTENCY = "scoring_consistency"
PUBLIC_PRIVATE_GAP = "public_private_gap"
CACHE_PROBE = "cache_probe"

# How many log-probabilities the plain decode reports per position. The served token is
# usually among them, so its exact distance from the plain top-1 is known; when it is not, the
# distance is at least the top-1's lead over the last of them.
PLAIN_TOP_K = 20
# After a near-tie the plain decode is resumed from the served prefix, so that the rest of the
# output is still checked; this many times per output at most.
MAX_RESYNCS = 16
# The role a serve function is asked for when the run needs the plain copy of the checkpoint.
PLAIN_TWIN = "plain-twin"

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


def greedy_fidelity(ctx: "RunContext") -> list[C.Check]:
    ch = ctx.plan.challenge
    integ = ch.integrity
    margin = integ.near_tie_margin
    if integ.fidelity_prompts == 0:
        return [C.Check(GREEDY_FIDELITY, C.SKIP, "the challenge samples no prompts for it "
                        "(integrity.fidelity_prompts is 0).")]
    t0 = time.monotonic()
    n_tokens = min(integ.fidelity_output_tokens, ch.output_tokens)
    sample = sample_prompts(ctx.tps, [s.name for s in ctx.plan.sets], integ.fidelity_prompts)
    plain_args = {k: v for k, v in ctx.spec.engine_args.items() if k != "speculative_config"}
    # The submission's engine is its own plain form only when the runner started it itself
    # (stock vLLM) with exactly the plain arguments. Any other server, a proxy or an engine in
    # a container, is compared with a plain engine the serve function starts for that role.
    same_engine = isinstance(ctx.server, VllmServer) and plain_args == dict(ctx.spec.engine_args)
    figures: dict[str, Any] = {
        "reference": "the submission's own engine (no speculative decoding)" if same_engine
        else "a separate plain engine (speculative decoding off)",
        "prompts": len(sample), "output_tokens": n_tokens, "near_tie_margin": margin}
    if same_engine:
        ctx.progress(f"greedy fidelity: {len(sample)} prompts, decoded again with their "
                     "log-probabilities (the engine has no speculative decoding: it is its "
                     "own plain form)")
        comparisons = _compare_sample(ctx, ctx.client, sample, n_tokens, margin)
    else:
        ctx.stop_engine()  # one accelerator: the plain copy needs its memory
        spec = dataclasses.replace(
            ctx.spec, engine_args=plain_args, role=PLAIN_TWIN,
            workdir=ctx.spec.workdir / PLAIN_TWIN,
            startup_timeout=min(ch.startup_timeout_s, max(1.0, _left(ctx.client))))
        ctx.progress("greedy fidelity: starting the same checkpoint plainly (speculative "
                     "decoding off, otherwise the same arguments)")
        ts = time.monotonic()
        try:
            twin = ctx.serve(spec)
        except ServerError as exc:
            raise ServerError("the plain copy of the checkpoint (greedy fidelity's reference: "
                              "speculative decoding off) failed to start: " + exc.message,
                              log_tail=exc.log_tail) from None
        figures["reference_startup_s"] = round(time.monotonic() - ts, 3)
        client = EngineClient(twin, request_timeout=ctx.client.request_timeout,
                              deadline=ctx.client.deadline, run_timeout=ctx.client.run_timeout)
        try:
            comparisons = _compare_sample(ctx, client, sample, n_tokens, margin)
        except ServerError as exc:  # the plain copy failed: say so, with its own log
            raise ServerError("the plain copy of the checkpoint (greedy fidelity's "
                              "reference) failed: " + exc.message,
                              log_tail=exc.log_tail or twin.log_tail()) from None
        finally:
            client.close()
            twin.stop()
        if hasattr(twin, "leftovers"):  # a server the run started and owns
            left = twin.leftovers()
            if left:
                raise ServerError(f"{len(left)} processes of the plain copy of the checkpoint "
                                  f"survived being killed ({describe_pids(left)})")
            ctx.progress("greedy fidelity: plain copy stopped; no process left")
    figures["seconds"] = round(time.monotonic() - t0, 3)
    return [_fidelity_check(comparisons, figures, margin)]


def _left(client: EngineClient) -> float:
    return math.inf if client.deadline is None else client.deadline - time.monotonic()


def _compare_sample(ctx: "RunContext", client: EngineClient, sample: Sequence[tuple[str, int]],
                    n_tokens: int, margin: float) -> list[tuple[str, Comparison]]:
    out = []
    for name, i in sample:
        enc = ctx.encoded[name]
        label = enc.set.label(i)
        prompt = list(enc.prompt_ids[i])

        def decode(prefix: list[int], n: int) -> tuple[list[int], list[dict[int, float]]]:
            client.context = f"greedy fidelity, {label}"
            g = client.generate(prompt + prefix, n, logprobs=PLAIN_TOP_K)
            assert g.top_logprobs is not None
            return g.token_ids, g.top_logprobs

        for served in _distinct(ctx.tps[name].outputs[i], n_tokens):
            out.append((label, compare_with_plain(served, decode, margin)))
    return out


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
            f"{'' if exact else 'at least '}{lead:.3f} (near-tie margin {margin:g}). Greedy "
            "output must be token-identical to plain greedy decoding of the submitted "
            "checkpoint (reference: " + where + "). Relaxed or approximate acceptance of "
            "draft tokens is not allowed: verify every drafted token exactly, or serve "
            "without the change that alters the output."), figures)
    if not comparisons:
        return C.Check(GREEDY_FIDELITY, C.SKIP, "no timed output to compare.", figures)
    notes = f"; {near} near-ties within the margin {margin:g}" if near else ""
    if unresolved:
        return C.Check(GREEDY_FIDELITY, C.WARN, (
            f"no confident divergence in {tokens} compared tokens{notes}, but {unresolved} "
            f"tokens stayed unchecked after {MAX_RESYNCS} near-ties in one output (reference: "
            f"{where})."), figures)
    return C.Check(GREEDY_FIDELITY, C.PASS, (
        f"{len(comparisons)} sampled outputs ({tokens} tokens) follow plain greedy decoding "
        f"of the same checkpoint: {matching} of {tokens} tokens identical{notes} (reference: "
        f"{where})."), figures)


# -- scoring-path consistency ----------------------------------------------------------------

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
    """Judge each served token by the scoring path's log-probabilities at its position
    (`entries[j]` maps token IDs, as strings, to {"logprob": ...}, with the top-1 and the
    actual token)."""
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


def scoring_consistency(ctx: "RunContext") -> list[C.Check]:
    margin = ctx.plan.challenge.integrity.near_tie_margin
    t0 = time.monotonic()
    total = Scored()
    figures: dict[str, Any] = {"near_tie_margin": margin}
    first: tuple[str, int, float] | None = None
    outputs = 0
    for s in ctx.plan.sets:
        if s.name not in ctx.tps:
            continue
        enc = ctx.encoded[s.name]
        per_set = Scored()
        for i in sorted(ctx.tps[s.name].outputs):
            prompt = list(enc.prompt_ids[i])
            for out in _distinct(ctx.tps[s.name].outputs[i], len(ctx.tps[s.name].outputs[i][0])):
                ctx.client.context = f"scoring-path consistency ({s.name}), {s.label(i)}"
                lps = ctx.client.prompt_logprobs(prompt + out, top=1)
                got = score_output(lps[len(prompt):], out, margin, ctx.client.context)
                outputs += 1
                per_set.add(got)
                if got.first_violation and first is None:
                    first = (s.label(i), *got.first_violation)
        total.add(per_set)
        figures[f"{s.name}_tokens"] = per_set.tokens
        figures[f"{s.name}_violations"] = per_set.violations
        if per_set.tokens:
            figures[f"{s.name}_nll_per_token"] = round(per_set.nll / per_set.tokens, 6)
    figures.update(outputs=outputs, tokens=total.tokens, top1_tokens=total.top1,
                   near_ties=total.near_ties, violations=total.violations,
                   seconds=round(time.monotonic() - t0, 3))
    if not total.tokens:
        return [C.Check(SCORING_CONSISTENCY, C.SKIP, "no timed output to score.", figures)]
    nll = total.nll / total.tokens
    figures["top1_rate"] = round(total.top1 / total.tokens, 6)
    figures["nll_per_token"] = round(nll, 6)
    figures["served_ppl"] = round(math.exp(min(nll, 700.0)), 6)
    ctx.progress(f"scoring-path consistency: {total.top1} of {total.tokens} served tokens are "
                 f"the scoring path's top-1, {total.near_ties} near-ties, {total.violations} "
                 f"violations ({figures['seconds']:.1f} s)")
    if first is not None:
        label, pos, lead = first
        return [C.Check(SCORING_CONSISTENCY, C.FAIL, (
            f"{total.violations} of {total.tokens} timed output tokens are not what the "
            f"engine's own scoring path (prompt_logprobs) ranks first: first at token "
            f"{pos + 1} of {label}, where its top-1 leads the served token by {lead:.3f} "
            f"(near-tie margin {margin:g}). Greedy decoding must emit the model's own top "
            "choice: decoding differently when a request asks for no logprobs, or accepting "
            "draft tokens the target model would not choose, is not allowed."), figures)]
    ties = f", {total.near_ties} near-ties within {margin:g}" if total.near_ties else ""
    return [C.Check(SCORING_CONSISTENCY, C.PASS, (
        f"all {total.tokens} timed output tokens ({outputs} outputs) are the scoring path's "
        f"top-1{ties}; their NLL under it is {nll:.4f} per token."), figures)]


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


# -- cache probe ---------------------------------------------------------------------------

def fresh_variant(ids: Sequence[int], taken: set[tuple[int, ...]],
                  rng: random.Random = _rng) -> list[int]:
    """A prompt no request has carried yet: `ids` with one token in its middle third (inside
    the message, away from the chat template's head and tail) replaced by another token of
    the same prompt, so that it costs what the original costs."""
    ids = list(ids)
    pool = sorted(set(ids))
    lo, hi = len(ids) // 3, max(len(ids) // 3 + 1, 2 * len(ids) // 3)
    for _ in range(1000):
        v = list(ids)
        j = rng.randrange(lo, min(hi, len(ids)))
        choices = [t for t in pool if t != v[j]] or [v[j] + 1]
        v[j] = rng.choice(choices)
        if tuple(v) not in taken:
            taken.add(tuple(v))
            return v
    raise ValueError("no fresh variant of this prompt could be made")


def probe_speedup(pairs: Sequence[tuple[float, float]]) -> float:
    """The median over (first, repeat) pairs of how many times faster the repeat was. Each
    pair is the same request twice in a row, so it does the same work (the same drafts are
    proposed and accepted) and meets the same machine load."""
    return statistics.median(f / max(r, 1e-6) for f, r in pairs)


def timed_repeat_speedup(t: TpsSet) -> float | None:
    """Across the timed passes: the median over prompts of how many times faster a prompt's
    fastest later request was than its first (None with one pass). Recorded as evidence, not
    judged: passes run seconds apart, so machine noise and the first pass's own warm-up move
    it (1.2-1.4x was seen on an honest run on a busy 2-core CPU), where the probe's pairs run
    back to back."""
    ratios = [s[0] / max(min(s[1:]), 1e-6) for s in t.seconds_by_prompt.values() if len(s) > 1]
    return statistics.median(ratios) if ratios else None


def cache_probe(ctx: "RunContext") -> list[C.Check]:
    ch = ctx.plan.challenge
    integ = ch.integrity
    limit = integ.cache_probe_max_speedup
    figures: dict[str, Any] = {"max_speedup": limit, "pairs": integ.cache_probe_repeats}
    timed = {n: timed_repeat_speedup(t) for n, t in ctx.tps.items()}
    timed_known = {n: v for n, v in timed.items() if v is not None}
    for n, v in timed_known.items():
        figures[f"timed_{n}_repeat_speedup"] = round(v, 4)
    if integ.cache_probe_repeats == 0 or not ctx.tps:
        return [C.Check(CACHE_PROBE, C.SKIP, "the challenge asks for no probe "
                        "(integrity.cache_probe_repeats is 0).", figures)]
    t0 = time.monotonic()
    name = [s.name for s in ctx.plan.sets if s.name in ctx.tps][-1]  # the scored set
    enc = ctx.encoded[name]
    base = _rng.choice(sorted(ctx.tps[name].outputs))
    taken = {tuple(p) for e in ctx.encoded.values() for p in e.prompt_ids}
    pairs: list[tuple[float, float]] = []
    problems: list[str] = []
    for k in range(integ.cache_probe_repeats):
        v = fresh_variant(enc.prompt_ids[base], taken)
        ctx.client.context = f"cache probe, fresh prompt {k + 1}"
        first = ctx.client.generate(v, ch.output_tokens)
        ctx.client.context = f"cache probe, repeat {k + 1}"
        again = ctx.client.generate(v, ch.output_tokens)
        for g in (first, again):
            if len(g.token_ids) != ch.output_tokens or g.finish_reason != "length":
                problems.append(f"a probe request returned {len(g.token_ids)} token IDs "
                                f"(finish reason {g.finish_reason!r}), not {ch.output_tokens}")
        if first.token_ids != again.token_ids:
            problems.append("the repeated request was answered with other tokens than the "
                            "first (greedy decoding at batch 1 is deterministic)")
        pairs.append((first.seconds, again.seconds))
    speedup = probe_speedup(pairs)
    figures.update(
        prompt_set=name, speedup=round(speedup, 4),
        first_seconds=[round(f, 4) for f, _ in pairs],
        repeat_seconds=[round(r, 4) for _, r in pairs],
        seconds=round(time.monotonic() - t0, 3))
    ctx.progress(f"cache probe: a repeated request ran {speedup:.2f}x as fast as its first "
                 f"time (limit {limit:g}x; {len(pairs)} pairs)")
    if speedup > limit or problems:
        why = [f"a request repeated verbatim ran {speedup:.2f}x as fast as the first time it "
               f"was sent (median of {len(pairs)} fresh prompts, each sent twice in a row; "
               f"limit {limit:g}x)"] if speedup > limit else []
        return [C.Check(CACHE_PROBE, C.FAIL, (
            "; ".join(why + problems[:2]) + ". Answers, KV blocks or drafts must not be "
            "reused across requests: every timed request must be computed in full."), figures)]
    return [C.Check(CACHE_PROBE, C.PASS, (
        f"a request repeated verbatim ran {speedup:.2f}x as fast as the first time (limit "
        f"{limit:g}x); no sign of answers cached across requests."), figures)]


# The integrity checks that need the live engine, in the order a run calls them: greedy
# fidelity last, because it may stop the engine to start the plain copy of the checkpoint.
for _fn, _name in ((scoring_consistency, SCORING_CONSISTENCY), (cache_probe, CACHE_PROBE),
                   (greedy_fidelity, GREEDY_FIDELITY)):
    _fn.check_name = _name  # type: ignore[attr-defined]
ENGINE_CHECKS = (scoring_consistency, cache_probe, greedy_fidelity)

# Every check of a run, in the order the result lists them.
CHECK_ORDER = ("model_identity", "output_length", PUBLIC_PRIVATE_GAP, "ppl_cap",
               SCORING_CONSISTENCY, CACHE_PROBE, GREEDY_FIDELITY)
