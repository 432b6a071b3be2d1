"""The measurements themselves, against any `Server`: decode speed (TPS) and perplexity (PPL).

TPS: batch 1, greedy, exactly `output_tokens` per request with EOS ignored. Warm-up requests
first (the runner's own prompts, never from a timed set), then `repeats` timed passes over each
set, the order shuffled per pass with a fixed seed. When several sets are measured their passes
alternate (public 1, private 1, public 2, ...), so slow drift of the machine affects them alike.
A pass's TPS is the tokens it received divided by its wall time. Every response must hold
exactly the asked number of token IDs and finish for `length`: a shorter answer inflates TPS.

No timed request is ever sent twice, and none is a set's prompt verbatim: each is a fresh
variant of its prompt (one token of the prompt's middle third exchanged for another token of
the same prompt, drawn with the operating system's randomness), so an engine that remembers
earlier requests, or precomputed the public prompts, has no answer it can replay. Every
variant's tokens are then judged against the variant itself by the referee.

Progress lines carry stages, counts and times, never a figure (tokens/s, perplexity): the job
log is public while the run goes, and a participant must not learn how a run will end before
it has ended.

PPL: teacher forcing on the reference continuations: context + target token IDs sent with
`prompt_logprobs`; PPL = exp(sum of the negative log-probability of each actual target token /
the number of target tokens).

The generated token IDs stay in memory (`TpsSet.outputs`) for checks that compare them; they
are never written anywhere.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from runner.client import EngineClient, EngineFailure
from runner.encoding import EncodedSet
from arena.stats import Summary, summarize

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class PassResult:
    index: int  # 0-based
    tokens: int
    seconds: float

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class TpsSet:
    """The timed passes over one prompt set."""

    name: str
    prompts: int
    output_tokens: int
    passes: list[PassResult] = field(default_factory=list)
    # prompt index -> generated token IDs of every pass (in memory only, never written)
    outputs: dict[int, list[list[int]]] = field(default_factory=dict)
    request_seconds: list[float] = field(default_factory=list)
    # prompt index -> the wall time of its request in every pass, in pass order
    seconds_by_prompt: dict[int, list[float]] = field(default_factory=dict)
    # prompt index -> the prompt actually sent in every pass (its fresh variant), in pass order
    sent: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)

    def served(self) -> list[tuple[int, tuple[int, ...], list[int]]]:
        """Every timed request as (prompt index, prompt sent, token IDs served)."""
        return [(i, self.sent[i][r], out) for i in sorted(self.outputs)
                for r, out in enumerate(self.outputs[i])]

    @property
    def summary(self) -> Summary:
        return summarize(p.tps for p in self.passes)


@dataclass
class LengthAudit:
    """What every timed and warm-up response held, for the output_length check."""

    asked: int
    requests: int = 0
    tokens: int = 0
    shortest: int | None = None
    longest: int | None = None
    not_length: int = 0  # responses whose finish reason was not "length"

    def add(self, got: int, finish_reason: str | None) -> None:
        self.requests += 1
        self.tokens += got
        self.shortest = got if self.shortest is None else min(self.shortest, got)
        self.longest = got if self.longest is None else max(self.longest, got)
        if finish_reason != "length":
            self.not_length += 1


class OutputLengthViolation(Exception):
    """A response did not hold exactly the asked number of tokens (verdict invalid)."""

    def __init__(self, label: str, asked: int, got: int, finish_reason: str | None,
                 audit: LengthAudit):
        self.label, self.asked, self.got, self.finish_reason = label, asked, got, finish_reason
        self.audit = audit
        why = (f"returned {got} token IDs" if got != asked
               else f"finished with reason {finish_reason!r}")
        super().__init__(f"{label} {why}; every request must return exactly {asked} token IDs "
                         "and finish for 'length' (EOS is ignored). Shorter outputs would "
                         "inflate tokens/s.")


def _checked(gen_ids: list[int], finish_reason: str | None, asked: int, label: str,
             audit: LengthAudit) -> None:
    audit.add(len(gen_ids), finish_reason)
    if len(gen_ids) != asked or finish_reason != "length":
        raise OutputLengthViolation(label, asked, len(gen_ids), finish_reason, audit)


def warm_up(client: EngineClient, prompts: Sequence[Sequence[int]], output_tokens: int,
            audit: LengthAudit, progress: Progress = _quiet, *, scoring: bool = False) -> float:
    """Untimed requests before the timed passes, and with `scoring` one prompt-logprobs
    request (an engine initializes its scoring path lazily). The submission's engine is never
    asked for log-probabilities: nothing it says about them counts. Returns their wall time."""
    t0 = time.perf_counter()
    last: list[int] = []
    for i, ids in enumerate(prompts):
        client.context = f"warm-up request {i + 1} of {len(prompts)}"
        g = client.generate(ids, output_tokens)
        _checked(g.token_ids, g.finish_reason, output_tokens, f"warm-up request {i + 1}", audit)
        last = list(ids) + g.token_ids
    if last and scoring:
        client.context = "warm-up of the scoring path"
        client.prompt_logprobs(last)
    seconds = time.perf_counter() - t0
    if prompts:
        progress(f"warm-up: {len(prompts)} requests{' + 1 scoring request' if scoring else ''}"
                 f" in {seconds:.1f} s (not timed)")
    return seconds


def warm_up_lengths(client: EngineClient, lengths: Sequence[int], filler: Sequence[int],
                    progress: Progress = _quiet) -> float:
    """One short untimed request at every prompt length the timed sets use, made of the
    runner's own tokens (`filler`, repeated): an engine builds its kernels, graphs or caches
    for a new shape the first time it meets it, and that first time must not land in the first
    timed pass (it would read as later passes running faster). Nothing of a timed prompt is
    sent. Returns their wall time."""
    t0 = time.perf_counter()
    filler = list(filler) or [1]
    for k, n in enumerate(sorted(set(lengths))):
        client.context = f"warm-up at prompt length {n} ({k + 1} of {len(set(lengths))})"
        client.generate((filler * (n // len(filler) + 1))[:n], 2)
    seconds = time.perf_counter() - t0
    if lengths:
        progress(f"warm-up: every prompt length of the timed sets ({len(set(lengths))}) in "
                 f"{seconds:.1f} s (not timed)")
    return seconds


def pass_orders(n_prompts: int, repeats: int, seed: int) -> list[list[int]]:
    """The prompt order of each pass: shuffled per pass, reproducibly from the seed."""
    rng = random.Random(seed)
    orders = []
    for _ in range(repeats):
        order = list(range(n_prompts))
        rng.shuffle(order)
        orders.append(order)
    return orders


_rng = random.SystemRandom()


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


def measure_tps(client: EngineClient, sets: Sequence[EncodedSet], *, output_tokens: int,
                repeats: int, seed: int, audit: LengthAudit,
                progress: Progress = _quiet,
                taken: set[tuple[int, ...]] | None = None) -> dict[str, TpsSet]:
    """Timed passes over every set, alternating between sets pass by pass. Every request is a
    fresh variant of its prompt (`taken` holds every prompt sent so far and grows)."""
    taken = taken if taken is not None else set()
    for s in sets:
        taken.update(tuple(p) for p in s.prompt_ids)
    results = {s.name: TpsSet(s.name, len(s.prompt_ids), output_tokens) for s in sets}
    orders = {s.name: pass_orders(len(s.prompt_ids), repeats, seed) for s in sets}
    t_start = time.perf_counter()
    for r in range(repeats):
        for s in sets:
            prompts = [fresh_variant(s.prompt_ids[i], taken) for i in orders[s.name][r]]
            timed_pass(client, s, results[s.name], r, repeats, orders[s.name][r], prompts,
                       output_tokens=output_tokens, audit=audit)
            progress(f"timed pass {r + 1}/{repeats} ({s.name}): {len(s.prompt_ids)} requests "
                     f"done ({time.perf_counter() - t_start:.0f} s into the timed passes)")
    return results


def timed_pass(client: EngineClient, s: EncodedSet, res: TpsSet, r: int, repeats: int,
               order: Sequence[int], prompts: Sequence[Sequence[int]], *, output_tokens: int,
               audit: LengthAudit, label: str = "") -> PassResult:
    """One timed pass over a set: `prompts[k]` (a fresh variant of prompt `order[k]`) sent in
    that order; every answer checked for its length; the pass appended to `res`."""
    t0 = time.perf_counter()
    tokens = 0
    for k, (i, prompt) in enumerate(zip(order, prompts)):
        tokens += timed_request(client, s, res, r, repeats, k, i, prompt,
                                output_tokens=output_tokens, audit=audit, label=label)
    p = PassResult(r, tokens, time.perf_counter() - t0)
    res.passes.append(p)
    return p


def timed_request(client: EngineClient, s: EncodedSet, res: TpsSet, r: int, repeats: int,
                  k: int, i: int, prompt: Sequence[int], *, output_tokens: int,
                  audit: LengthAudit, label: str = "") -> int:
    """The k-th request of timed pass r: prompt `i`'s fresh variant `prompt`, its answer
    checked and recorded in `res`. Returns the tokens received."""
    client.context = (f"{label}timed pass {r + 1} of {repeats} ({s.name}), request "
                      f"{k + 1} of {len(s.prompt_ids)}")
    g = client.generate(prompt, output_tokens)
    _checked(g.token_ids, g.finish_reason, output_tokens,
             f"{label}{s.set.label(i)} in timed pass {r + 1}", audit)
    res.outputs.setdefault(i, []).append(g.token_ids)
    res.sent.setdefault(i, []).append(tuple(prompt))
    res.request_seconds.append(g.seconds)
    res.seconds_by_prompt.setdefault(i, []).append(g.seconds)
    return len(g.token_ids)


@dataclass(frozen=True)
class PplResult:
    value: float
    tokens: int
    prompts: int
    nll: float  # sum of the negative log-probabilities (natural log)


def teacher_forced_ppl(client: EngineClient, encoded: EncodedSet,
                       progress: Progress = _quiet) -> PplResult:
    """Perplexity of the engine on the set's reference continuations."""
    if not encoded.references:
        raise ValueError(f"the {encoded.name} set has no reference continuations")
    nll = 0.0
    count = 0
    scored = 0
    t0 = time.perf_counter()
    for i, (ctx, target) in enumerate(encoded.references):
        if not target:
            continue
        client.context = f"perplexity ({encoded.name}), {encoded.set.label(i)}"
        ids = list(ctx) + list(target)
        lps = client.prompt_logprobs(ids)
        for pos in range(len(ctx), len(ids)):
            nll -= _actual_logprob(lps[pos], ids[pos], client.context)
        count += len(target)
        scored += 1
    value = math.exp(nll / count)
    progress(f"perplexity ({encoded.name}): {count} reference tokens of {scored} prompts "
             f"scored ({time.perf_counter() - t0:.1f} s)")
    return PplResult(value, count, scored, nll)


def _actual_logprob(entry: Any, token_id: int, context: str) -> float:
    """The log-probability of the token that is actually there (never the top-1's)."""
    if not isinstance(entry, Mapping):
        raise EngineFailure(f"the engine's prompt logprobs have no entry for a target token "
                            f"({context})")
    item = entry.get(str(token_id))
    if item is None:
        item = entry.get(token_id)  # type: ignore[call-overload]
    lp = item.get("logprob") if isinstance(item, Mapping) else item
    if not isinstance(lp, (int, float)) or math.isnan(lp) or lp > 1e-6:
        raise EngineFailure(f"the engine's prompt logprobs do not hold a valid log-probability "
                            f"for the actual target token ({context})")
    return max(float(lp), -1e4)  # -inf would make every PPL infinite; cap at e^10000


SPEC_COUNTERS = {
    "drafts": "vllm:spec_decode_num_drafts_total",
    "draft_tokens": "vllm:spec_decode_num_draft_tokens_total",
    "accepted_tokens": "vllm:spec_decode_num_accepted_tokens_total",
}


def speculative_summary(before: Mapping[str, float] | None, after: Mapping[str, float] | None,
                        spec_config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Speculative-decoding acceptance over the timed passes, from the engine's counters."""
    have = bool(before and after and all(n in after for n in SPEC_COUNTERS.values()))
    if spec_config is None and not have:
        return None
    out: dict[str, Any] = {
        "method": str((spec_config or {}).get("method", "unknown")),
        "num_speculative_tokens": (spec_config or {}).get("num_speculative_tokens"),
        "drafts": None, "draft_tokens": None, "accepted_tokens": None,
        "acceptance_rate": None, "mean_accepted_length": None,
    }
    if have:
        assert before is not None and after is not None
        d = {k: int(round(after[n] - before.get(n, 0.0))) for k, n in SPEC_COUNTERS.items()}
        out.update(d)
        if d["draft_tokens"] > 0:
            out["acceptance_rate"] = min(1.0, d["accepted_tokens"] / d["draft_tokens"])
        if d["drafts"] > 0:
            out["mean_accepted_length"] = 1 + d["accepted_tokens"] / d["drafts"]
    return out
