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
   normal on private ones), served for any request close to one of them.
5. `AnswerCache`: answers cached across requests (a repeated request is answered from memory).

And, found by trying the runner as an attacker would once the engine is untrusted (each was
verified by the runner before the referee judged quality):

6. `ScoringFaker`: decodes approximately and remembers what it served; when asked to score
   exactly those outputs, says every token was certain (logprob 0).
7. `PassReplay`: replays the answer it gave a prompt in an earlier pass (about 3x the honest
   tokens/s), for any request close to that prompt, but answers fresh whenever a request
   repeats back to back (the old cache probe's pattern).
8. `TailFaker`: computes the first half of each output, emits the tail without computing it,
   and fakes the scoring of what it served.
9. `TieTaker`: takes the runner-up wherever it is within the challenge's near-tie margin of
   the top-1 (every step a "near-tie"; a top-1 rate far below honest noise).

The approximate decoding of cheats 1 and 2 is built from the real engine's own top-2
log-probabilities: every `SWAP_EVERY` tokens the proxy takes the second choice instead of the
first and lets the engine continue from there, as an engine whose draft was wrongly accepted
would.
"""

from __future__ import annotations

import copy
import json
import threading
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


def close_to(a: Sequence[int], b: Sequence[int], most: int = 2) -> bool:
    """Whether two prompts differ in at most `most` positions (the runner's fresh variants
    exchange one token)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= most


class PublicAnswerCache(CheatProxy):
    """Cheat 4: answers for the public prompts computed before the run and served from memory
    for any request close to one of them; every other request goes to the engine."""

    def __init__(self, upstream: Any):
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
        prompt, n = tuple(body.get("prompt") or ()), int(body.get("max_tokens", 0))
        if is_decode(body) and not asks_logprobs(body):
            for (known, m), doc in self.cache.items():
                if m == n and close_to(known, prompt):
                    self.hits += 1
                    return copy.deepcopy(doc)
        return self.forward(path, body)


class AnswerCache(CheatProxy):
    """Cheat 5: a decode request seen before is answered from memory."""

    def __init__(self, upstream: Any):
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


def certain_scoring(body: dict[str, Any], doc: dict[str, Any], served: Sequence[int]) -> None:
    """Rewrite a scoring answer so that every served token reads as certain (logprob 0, rank
    1): what an engine that lies about its log-probabilities returns."""
    prompt = list(body["prompt"])
    start = len(prompt) - len(served)
    choice = doc["choices"][0]
    lps = choice.get("prompt_logprobs") or [None] * len(prompt)
    for j, tok in enumerate(served):
        lps[start + j] = {str(tok): {"logprob": 0.0, "rank": 1, "decoded_token": ""}}
    choice["prompt_logprobs"] = lps


class LyingScorer(CheatProxy):
    """Remembers every (prompt, output) it served; a scoring request that carries exactly one
    of them is answered with every served token certain."""

    def __init__(self, upstream: Any):
        super().__init__(upstream)
        self.served: dict[tuple[int, ...], list[int]] = {}
        self.faked = 0

    def scored(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self.forward(path, body)
        if body.get("prompt_logprobs") is not None:
            ids = list(body["prompt"])
            for prompt, out in self.served.items():
                if ids == list(prompt) + out:
                    self.faked += 1
                    certain_scoring(body, doc, out)
        return doc


class ScoringFaker(LyingScorer):
    """Cheat 6: approximate decoding; remembers every (prompt, output) it served and, when a
    scoring request carries exactly one of them, claims every served token was certain."""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if is_decode(body):
            doc = self.approximate_decode(path, body)
            self.served[tuple(body["prompt"])] = list(doc["choices"][0]["token_ids"])
            return doc
        return self.scored(path, body)


class PassReplay(CheatProxy):
    """Cheat 7: the answer given a prompt in an earlier pass is replayed for any later request
    close to it (no engine work, so several times the honest speed), except when a request
    repeats the one just before it: then it is answered fresh, as the old probe expected."""

    def __init__(self, upstream: Any):
        super().__init__(upstream)
        self.memory: list[tuple[tuple[int, ...], int, dict[str, Any]]] = []
        self.last: tuple[int, ...] | None = None
        self.replays = 0
        self._mem_lock = threading.Lock()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not is_decode(body):
            return self.forward(path, body)
        prompt, n = tuple(body["prompt"]), int(body["max_tokens"])
        back_to_back, self.last = prompt == self.last, prompt
        if not back_to_back:
            with self._mem_lock:
                hit = next((doc for known, m, doc in self.memory
                            if m == n and close_to(known, prompt)), None)
            if hit is not None:
                self.replays += 1
                return copy.deepcopy(hit)
        doc = self.forward(path, body)
        with self._mem_lock:
            self.memory.append((prompt, n, copy.deepcopy(doc)))
        return doc


class TailFaker(LyingScorer):
    """Cheat 8: only the first half of each output is computed; the tail repeats it (never
    computed). Scoring requests for what it served are faked as certain."""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if is_decode(body) and not asks_logprobs(body):
            n = int(body["max_tokens"])
            doc = self.forward(path, dict(body, max_tokens=max(1, n // 2)))
            head = list(doc["choices"][0]["token_ids"])
            out = (head * (n // max(1, len(head)) + 1))[:n]
            doc["choices"][0]["token_ids"] = out
            doc["choices"][0]["finish_reason"] = "length"
            doc["usage"] = dict(doc.get("usage") or {}, completion_tokens=n)
            self.served[tuple(body["prompt"])] = out
            return doc
        return self.scored(path, body)


class TieTaker(CheatProxy):
    """Cheat 9: greedy decoding, except that wherever the engine's runner-up is within
    `margin` of its top-1 the runner-up is taken, and decoding continues from it."""

    STEP = 4  # tokens decoded per look-ahead

    def __init__(self, upstream: Any, margin: float):
        super().__init__(upstream)
        self.margin = margin
        self.swaps = 0

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not is_decode(body) or asks_logprobs(body):
            return self.forward(path, body)
        n = int(body["max_tokens"])
        out: list[int] = []
        doc: dict[str, Any] = {}
        while len(out) < n:
            step = dict(body, prompt=list(body["prompt"]) + out,
                        max_tokens=min(self.STEP, n - len(out)), logprobs=2,
                        return_tokens_as_token_ids=True)
            doc = self.forward(path, step)
            choice = doc["choices"][0]
            for tok, top in zip(choice["token_ids"], choice["logprobs"]["top_logprobs"]):
                ranked = sorted(((int(k.split(":")[1]), v) for k, v in top.items()),
                                key=lambda kv: -kv[1])
                if len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= self.margin:
                    out.append(ranked[1][0] if ranked[0][0] == tok else ranked[0][0])
                    self.swaps += 1
                    break  # the engine's next tokens followed its own choice: decode again
                out.append(tok)
        doc = copy.deepcopy(doc)
        choice = doc["choices"][0]
        choice.update(token_ids=out[:n], finish_reason="length", text="", logprobs=None)
        doc["usage"] = dict(doc.get("usage") or {}, completion_tokens=n)
        return doc
