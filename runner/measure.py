"""The measurements themselves, against any `Server`: decode speed (TPS) and perplexity (PPL).

TPS: batch 1, greedy, exactly `output_tokens` per request with EOS ignored. Warm-up requests
first (the runner's own prompts, never from a timed set), then `repeats` timed passes over each
set, the order shuffled per pass with a fixed seed. When several sets are measured their passes
alternate (public 1, private 1, public 2, ...), so slow drift of the machine affects them alike.
A pass's TPS is the tokens it received divided by its wall time. Every response must hold
exactly the asked number of token IDs and finish for `length`: a shorter answer inflates TPS.

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
from runner.stats import Summary, summarize

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
            audit: LengthAudit, progress: Progress = _quiet) -> float:
    """Untimed requests before the timed passes, and one prompt-logprobs request (the engine
    initializes its scoring path lazily, which would otherwise land in the first PPL
    request). Returns their wall time."""
    t0 = time.perf_counter()
    last: list[int] = []
    for i, ids in enumerate(prompts):
        client.context = f"warm-up request {i + 1} of {len(prompts)}"
        g = client.generate(ids, output_tokens)
        _checked(g.token_ids, g.finish_reason, output_tokens, f"warm-up request {i + 1}", audit)
        last = list(ids) + g.token_ids
    if last:
        client.context = "warm-up of the scoring path"
        client.prompt_logprobs(last)
    seconds = time.perf_counter() - t0
    if prompts:
        progress(f"warm-up: {len(prompts)} requests + 1 scoring request in {seconds:.1f} s "
                 "(not timed)")
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


def measure_tps(client: EngineClient, sets: Sequence[EncodedSet], *, output_tokens: int,
                repeats: int, seed: int, audit: LengthAudit,
                progress: Progress = _quiet) -> dict[str, TpsSet]:
    """Timed passes over every set, alternating between sets pass by pass."""
    results = {s.name: TpsSet(s.name, len(s.prompt_ids), output_tokens) for s in sets}
    orders = {s.name: pass_orders(len(s.prompt_ids), repeats, seed) for s in sets}
    for r in range(repeats):
        for s in sets:
            res = results[s.name]
            t0 = time.perf_counter()
            tokens = 0
            for k, i in enumerate(orders[s.name][r]):
                client.context = (f"timed pass {r + 1} of {repeats} ({s.name}), request "
                                  f"{k + 1} of {len(s.prompt_ids)}")
                g = client.generate(s.prompt_ids[i], output_tokens)
                _checked(g.token_ids, g.finish_reason, output_tokens,
                         f"{s.set.label(i)} in timed pass {r + 1}", audit)
                tokens += len(g.token_ids)
                res.outputs.setdefault(i, []).append(g.token_ids)
                res.request_seconds.append(g.seconds)
                res.seconds_by_prompt.setdefault(i, []).append(g.seconds)
            p = PassResult(r, tokens, time.perf_counter() - t0)
            res.passes.append(p)
            progress(f"timed pass {r + 1}/{repeats} ({s.name}): {p.tokens} tokens in "
                     f"{p.seconds:.2f} s = {p.tps:.1f} tokens/s")
    return results


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
    progress(f"perplexity ({encoded.name}): {value:.4f} over {count} reference tokens of "
             f"{scored} prompts ({time.perf_counter() - t0:.1f} s)")
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
