"""Talking to the engine: token-ID completions, prompt logprobs, Prometheus metrics.

Every request has a timeout (the challenge's per-request limit, shortened so that the run's own
deadline is kept). A failure is classified for the verdict:
- `EngineFailure` (verdict error): the engine crashed, hung, timed out or answered nonsense;
- `EngineRejected` (verdict invalid): the engine refused a well-formed request the base
  configuration serves (HTTP 4xx): the submission's configuration cannot serve the challenge.
Messages never quote a prompt or an output, and never the engine's own words: an engine's
error text is untrusted (it could carry an encoded private prompt), so a message says what
the harness saw (the HTTP status, the request it was doing) and nothing the engine wrote.

The client speaks HTTP over the server's Unix socket when it has one (every engine the runner
starts listens only there), else over TCP (a server in the seat that someone else started).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from runner.server import Server, ServerError, http_client


class EngineFailure(ServerError):
    """The engine failed while being measured (verdict error)."""


class EngineRejected(Exception):
    """The engine refused a request with a 4xx status (verdict invalid)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class RunDeadline(EngineFailure):
    """The run as a whole went over its time limit."""


@dataclass(frozen=True)
class Generation:
    token_ids: list[int]
    finish_reason: str | None
    seconds: float
    usage_completion_tokens: int | None
    # With `logprobs=k`: per generated token, the engine's top-k {token ID: log-probability}
    # (the generated token included). None when not asked for.
    top_logprobs: list[dict[int, float]] | None = None


class EngineClient:
    """One HTTP session to one server, with the run's time limits."""

    def __init__(self, server: Server, *, request_timeout: float,
                 deadline: float | None = None, run_timeout: float | None = None):
        self.server = server
        self.request_timeout = request_timeout
        self.deadline = deadline  # time.monotonic() value after which no request starts
        self.run_timeout = run_timeout
        self._session = http_client(server, request_timeout)
        self.context = ""  # what the run is doing, for messages ("timed pass 2 (public)")

    def close(self) -> None:
        self._session.close()

    # -- requests ---------------------------------------------------------------------------

    def generate(self, prompt_ids: list[int] | tuple[int, ...], max_tokens: int, *,
                 temperature: float = 0.0, ignore_eos: bool = True,
                 seed: int | None = None, logprobs: int | None = None) -> Generation:
        """Decoding with token IDs returned. By default what the timed passes ask: greedy,
        exactly `max_tokens` tokens (EOS ignored), no log-probabilities. `logprobs=k` also
        asks for the top-k log-probabilities at every generated position (keyed by token ID,
        not by text: two tokens can decode to the same text)."""
        body: dict[str, Any] = {
            "model": self.server.model,
            "prompt": list(prompt_ids),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "ignore_eos": ignore_eos,
            "return_token_ids": True,
            "add_special_tokens": False,
            "stream": False,
        }
        if seed is not None:
            body["seed"] = seed
        if logprobs is not None:
            body["logprobs"] = logprobs
            body["return_tokens_as_token_ids"] = True
        t0 = time.perf_counter()
        doc = self._post("/v1/completions", body)
        seconds = time.perf_counter() - t0
        choice = _first_choice(doc)
        ids = choice.get("token_ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise EngineFailure(f"the engine's answer has no token_ids list ({self.context}); "
                                "the harness asks for return_token_ids")
        usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
        completion_tokens = usage.get("completion_tokens")
        tops = _top_logprobs(choice, len(ids), self.context) if logprobs is not None else None
        return Generation(ids, choice.get("finish_reason"), seconds,
                          completion_tokens if isinstance(completion_tokens, int) else None,
                          tops)

    def prompt_logprobs(self, ids: list[int] | tuple[int, ...], top: int = 0) -> list[Any]:
        """The engine's log-probability of every prompt token (teacher forcing): one entry per
        position, the first None, each a mapping from token ID (as a string) to
        {"logprob": ...} that includes the actual token and, with `top=k`, the engine's k
        most likely tokens at that position."""
        body = {
            "model": self.server.model,
            "prompt": list(ids),
            "max_tokens": 1,
            "temperature": 0,
            "prompt_logprobs": top,
            "add_special_tokens": False,
            "stream": False,
        }
        doc = self._post("/v1/completions", body)
        lps = _first_choice(doc).get("prompt_logprobs")
        if not isinstance(lps, list) or len(lps) != len(ids):
            raise EngineFailure(f"the engine returned {len(lps) if isinstance(lps, list) else 'no'}"
                                f" prompt logprobs for {len(ids)} prompt tokens ({self.context})")
        return lps

    def metrics(self) -> dict[str, float]:
        """The engine's Prometheus counters and gauges, summed over labels, by metric name."""
        text = self._get("/metrics").text
        return parse_prometheus(text)

    def version(self) -> str | None:
        try:
            v = self._get("/version").json().get("version")
        except (EngineFailure, ValueError, AttributeError):
            return None
        return str(v)[:50] if v else None

    # -- transport --------------------------------------------------------------------------

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.request_timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RunDeadline(f"the run went over its time limit of {self.run_timeout:g} s "
                              f"({self.context})")
        return min(self.request_timeout, left)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        timeout = self._timeout()
        try:
            r = self._session.post(path, json=body,
                                   timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))
        except httpx.TimeoutException:
            if self.deadline is not None and time.monotonic() >= self.deadline - 0.01:
                raise RunDeadline(f"the run went over its time limit of {self.run_timeout:g} s "
                                  f"({self.context})") from None
            raise EngineFailure(f"a request got no answer within {timeout:g} s "
                                f"({self.context}): the engine hung") from None
        except httpx.TransportError:
            raise self._gone() from None
        return self._json(r)

    def _get(self, path: str) -> httpx.Response:
        timeout = self._timeout()
        try:
            r = self._session.get(path, timeout=httpx.Timeout(timeout,
                                                              connect=min(10.0, timeout)))
        except httpx.TimeoutException:
            raise EngineFailure(f"GET {path} got no answer within {timeout:g} s "
                                f"({self.context}): the engine hung") from None
        except httpx.TransportError:
            raise self._gone() from None
        if r.status_code != 200:
            raise EngineFailure(f"GET {path} answered HTTP {r.status_code} ({self.context})")
        return r

    def _gone(self) -> EngineFailure:
        # Give a dying process a moment to be reaped, so the message says how it ended.
        for _ in range(20):
            if not self.server.alive():
                break
            time.sleep(0.1)
        reason = self.server.exit_reason()
        if reason:
            return EngineFailure(f"the engine {reason} ({self.context})")
        if not self.server.alive():
            return EngineFailure(f"the engine stopped answering: its process is gone "
                                 f"({self.context})")
        return EngineFailure(f"the connection to the engine failed ({self.context})")

    def _json(self, r: httpx.Response) -> dict[str, Any]:
        if 400 <= r.status_code < 500:
            raise EngineRejected(f"the engine refused a request with HTTP {r.status_code} "
                                 f"({self.context}); its own error text is in the engine log "
                                 "kept for maintainers")
        if r.status_code != 200:
            raise EngineFailure(f"the engine answered HTTP {r.status_code} ({self.context})")
        try:
            doc = r.json()
        except ValueError:
            raise EngineFailure(f"the engine's answer is not JSON ({self.context})") from None
        if not isinstance(doc, dict):
            raise EngineFailure(f"the engine's answer is not a JSON object ({self.context})")
        return doc


def _first_choice(doc: dict[str, Any]) -> dict[str, Any]:
    choices = doc.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        raise EngineFailure("the engine's answer does not have exactly one choice")
    return choices[0]


_TOKEN_ID_KEY = re.compile(r"^token_id:(\d+)$")


def _top_logprobs(choice: dict[str, Any], count: int, context: str) -> list[dict[int, float]]:
    """The completion's per-token top log-probabilities, keyed by token ID (the request asked
    for `return_tokens_as_token_ids`, so the keys read "token_id:123")."""
    lp = choice.get("logprobs")
    tops = lp.get("top_logprobs") if isinstance(lp, dict) else None
    if not isinstance(tops, list) or len(tops) != count:
        raise EngineFailure(f"the engine's answer has no top log-probabilities for each of its "
                            f"{count} tokens ({context})")
    out = []
    for entry in tops:
        parsed: dict[int, float] = {}
        if isinstance(entry, dict):
            for key, value in entry.items():
                m = _TOKEN_ID_KEY.match(str(key))
                if m and isinstance(value, (int, float)) and not math.isnan(value):
                    parsed[int(m.group(1))] = float(value)
        if not parsed:
            raise EngineFailure(f"the engine's top log-probabilities are not keyed by token ID "
                                f"({context})")
        out.append(parsed)
    return out


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {metric name: value summed over its label sets}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        out[m.group(1)] = out.get(m.group(1), 0.0) + value
    return out
