"""The known ways to game the score, kept as working cheats that must stay caught.

Each cheat is a real HTTP server in front of a real engine (the shared vLLM CPU server of the
tiny model, or the n-gram one), doing what a participant's engine could do: the runner measures
it through its `serve` seam exactly as it measures any server. From CHALLENGE.md, "How it was
gamed":

1. `GraderConditional`: decodes approximately when a request asks for no logprobs (the timed
   requests), exactly when it asks for them (perplexity, scoring).
2. `RelaxedAcceptance`: speculative decoding that accepts draft tokens the target would not have
   chosen: some generated tokens are the target's second choice.
3. `ShortOutputs`: stops early, returning fewer tokens than asked.
4. `PublicAnswerCache`: answers pre-computed for the public prompts (fast on public prompts,
   normal on private ones).
5. `AnswerCache`: answers cached across requests (a repeated request is answered from memory).

The approximate decoding of cheats 1 and 2 is built from the real engine's own top-2
log-probabilities: every `SWAP_EVERY` tokens the proxy takes the second choice instead of the
first and lets the engine continue from there, as an engine whose draft was wrongly accepted
would.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Sequence

from tests.runner.standins import RewritingProxy

SWAP_EVERY = 8  # the approximate decode takes the second choice at positions 2, 10, 18, ...
SWAP_OFFSET = 2


def is_decode(body: dict[str, Any]) -> bool:
    """A generation request (timed, warm-up, probe or fidelity), not a scoring request."""
    return body.get("prompt_logprobs") is None and int(body.get("max_tokens", 1)) > 1


def asks_logprobs(body: dict[str, Any]) -> bool:
    return body.get("logprobs") is not None or body.get("prompt_logprobs") is not None


class CheatProxy(RewritingProxy):
    """A real HTTP server in front of `upstream` (see RewritingProxy). Each POST is answered
    by `answer`, which by default forwards it; each cheat overrides it."""

    # -- the approximate decode (cheats 1 and 2) -------------------------------------------

    def approximate_decode(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The engine's greedy decode, except that every SWAP_EVERY-th token is its second
        choice, and decoding continues from that token. Answers in the requested shape
        (token IDs, and the top log-probabilities when asked)."""
        n = int(body["max_tokens"])
        out: list[int] = []
        tops: list[dict[str, float]] = []
        doc: dict[str, Any] = {}
        asked = body.get("logprobs")
        while len(out) < n:
            nxt = next(p for p in range(len(out), n + SWAP_EVERY)
                       if p % SWAP_EVERY == SWAP_OFFSET)
            count = min(nxt + 1, n) - len(out)
            step = dict(body, prompt=list(body["prompt"]) + out, max_tokens=count,
                        logprobs=max(2, asked or 0), return_tokens_as_token_ids=True)
            doc = self.forward(path, step)
            choice = doc["choices"][0]
            ids = list(choice["token_ids"])
            step_tops = choice["logprobs"]["top_logprobs"]
            if len(out) + len(ids) - 1 == nxt:
                ranked = sorted(step_tops[-1].items(), key=lambda kv: -kv[1])
                second = next(int(k.split(":")[1]) for k, _ in ranked
                              if int(k.split(":")[1]) != ids[-1])
                ids[-1] = second
            out += ids
            tops += step_tops
        doc = copy.deepcopy(doc)
        choice = doc["choices"][0]
        choice["token_ids"] = out
        choice["finish_reason"] = "length"
        choice["text"] = ""
        if asked is None:
            choice["logprobs"] = None
        else:
            choice["logprobs"] = {
                "tokens": [f"token_id:{t}" for t in out], "text_offset": [0] * n,
                "token_logprobs": [tops[j].get(f"token_id:{t}") for j, t in enumerate(out)],
                "top_logprobs": tops}
        doc["usage"] = dict(doc.get("usage") or {}, completion_tokens=n)
        return doc


class GraderConditional(CheatProxy):
    """Cheat 1: approximate decoding unless the request asks for logprobs."""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if is_decode(body) and not asks_logprobs(body):
            return self.approximate_decode(path, body)
        return self.forward(path, body)


class RelaxedAcceptance(CheatProxy):
    """Cheat 2: every decode takes some second choices (the wrongly accepted drafts), whatever
    the request asks; scoring requests see the exact target model."""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if is_decode(body):
            return self.approximate_decode(path, body)
        return self.forward(path, body)


class ShortOutputs(CheatProxy):
    """Cheat 3: stops after three quarters of the asked tokens, claiming a natural stop."""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not is_decode(body):
            return self.forward(path, body)
        doc = self.forward(path, dict(body, max_tokens=max(1, int(body["max_tokens"]) * 3 // 4)))
        doc["choices"][0]["finish_reason"] = "stop"
        return doc


class PublicAnswerCache(CheatProxy):
    """Cheat 4: answers for the public prompts computed before the run and served from memory;
    every other request goes to the engine."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.cache: dict[tuple[tuple[int, ...], int], dict[str, Any]] = {}
        self.hits = 0

    def prefill(self, prompts: Sequence[Sequence[int]], max_tokens: int) -> None:
        for ids in prompts:
            body = {"model": "submission", "prompt": list(ids), "max_tokens": max_tokens,
                    "temperature": 0, "ignore_eos": True, "return_token_ids": True,
                    "add_special_tokens": False}
            self.cache[(tuple(ids), max_tokens)] = self.forward("/v1/completions", body)

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = (tuple(body.get("prompt") or ()), int(body.get("max_tokens", 0)))
        if is_decode(body) and not asks_logprobs(body) and key in self.cache:
            self.hits += 1
            return copy.deepcopy(self.cache[key])
        return self.forward(path, body)


class AnswerCache(CheatProxy):
    """Cheat 5: a decode request seen before is answered from memory."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.cache: dict[str, dict[str, Any]] = {}
        self.hits = 0

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not is_decode(body):
            return self.forward(path, body)
        key = json.dumps(body, sort_keys=True)
        if key in self.cache:
            self.hits += 1
            return copy.deepcopy(self.cache[key])
        doc = self.forward(path, body)
        self.cache[key] = copy.deepcopy(doc)
        return doc
