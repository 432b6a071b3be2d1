"""The cheat suite: every known way to game the score, as a working cheat in front of real vLLM,
must end `invalid` with the right check named; honest configurations (plain, and n-gram
speculative decoding, lossless under greedy) must pass every check.

Each run is a full `run_bench` (warm-up, timed passes on a public and a private set,
perplexity, every check) of a server measured through the runner's `serve` seam: the cheat
proxy for the submission, and the shared plain vLLM server when the run asks for the plain copy
of the checkpoint (greedy fidelity's reference).
"""

from __future__ import annotations

from typing import Any

import pytest

from arena.result import validate_result
from runner.bench import BenchPlan, ServeSpec, run_bench
from runner.integrity import CHECK_ORDER, PLAIN_TWIN
from runner.server import ExternalServer, Server
from tests.integrity.cheats import (
    AnswerCache,
    CheatProxy,
    GraderConditional,
    PublicAnswerCache,
    RelaxedAcceptance,
    ShortOutputs,
)
from tests.integrity.conftest import demo_submission

pytestmark = pytest.mark.vllm


def bench(challenge, sets, submission: str, url: str, plain: Server,
          specs: list[ServeSpec] | None = None) -> dict[str, Any]:
    """One run of a demo submission served at `url`; the plain copy is `plain`."""
    def serve(spec: ServeSpec) -> Server:
        if specs is not None:
            specs.append(spec)
        return ExternalServer(plain.base_url if spec.role == PLAIN_TWIN else url)

    record = run_bench(BenchPlan(demo_submission(challenge, submission), challenge, sets),
                       serve=serve)
    doc = validate_result(record.result)
    assert [c["name"] for c in doc["checks"]] == list(CHECK_ORDER)
    return doc


def check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["name"] == name)


def reasons(doc: dict[str, Any]) -> list[str]:
    return [r["check"] for r in doc["reasons"]]


def assert_honest(doc: dict[str, Any]) -> None:
    assert doc["verdict"] == "verified", doc["reasons"]
    assert {c["name"]: c["status"] for c in doc["checks"]} == dict.fromkeys(CHECK_ORDER, "pass")
    fidelity = check(doc, "greedy_fidelity")["figures"]
    assert fidelity["violations"] == 0 and fidelity["outputs"] >= fidelity["prompts"] > 0
    assert fidelity["tokens_compared"] == fidelity["outputs"] * fidelity["output_tokens"]
    scoring = check(doc, "scoring_consistency")["figures"]
    assert scoring["violations"] == 0
    assert scoring["tokens"] == sum(t["prompts"] for t in doc["tps"].values()) * \
        doc["tps"]["public"]["output_tokens"]
    gap = check(doc, "public_private_gap")["figures"]
    assert gap["public_tps"] == doc["tps"]["public"]["median"]
    assert gap["private_tps"] == doc["tps"]["private"]["median"]
    assert "checks_s" in doc["timings"]


# -- honest configurations: zero false positives ----------------------------------------------

def test_plain_serving_passes_every_check(tiny_server, demo_challenge, prompt_sets) -> None:
    specs: list[ServeSpec] = []
    doc = bench(demo_challenge, prompt_sets, "plain", tiny_server.base_url, tiny_server, specs)
    assert_honest(doc)
    fidelity = check(doc, "greedy_fidelity")["figures"]
    assert fidelity["match_rate"] == 1.0 and fidelity["first_divergence"] == [None] * 4
    # A server the runner did not start is never trusted to be its own plain form.
    assert [s.role for s in specs] == ["submission", PLAIN_TWIN]


def test_ngram_speculative_decoding_passes_every_check(ngram_server, tiny_server,
                                                       demo_challenge, prompt_sets) -> None:
    specs: list[ServeSpec] = []
    doc = bench(demo_challenge, prompt_sets, "ngram-k4", ngram_server.base_url, tiny_server,
                specs)
    assert_honest(doc)
    assert doc["speculative"]["drafts"] > 0  # speculation really ran
    # The reference is the same checkpoint and arguments, speculative decoding off.
    submission, twin = specs
    assert twin.role == PLAIN_TWIN and twin.model_path == submission.model_path
    assert "speculative_config" in submission.engine_args
    assert dict(twin.engine_args) == {k: v for k, v in submission.engine_args.items()
                                      if k != "speculative_config"}
    assert check(doc, "greedy_fidelity")["figures"]["reference"] == \
        "a separate plain engine (speculative decoding off)"


# -- the cheats ------------------------------------------------------------------------------

def test_grader_conditional_serving_is_caught_by_scoring_consistency(
        tiny_server, demo_challenge, prompt_sets) -> None:
    """Cheat 1: approximate decoding when no logprobs are asked, exact otherwise. Perplexity
    (teacher forced, with logprobs) cannot see it."""
    with GraderConditional(tiny_server.base_url) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
    assert doc["verdict"] == "invalid"
    assert "scoring_consistency" in reasons(doc)
    assert check(doc, "ppl_cap")["status"] == "pass"  # the cheat's point: PPL looks clean
    c = check(doc, "scoring_consistency")
    assert c["status"] == "fail" and c["figures"]["violations"] > 0
    assert "not what the engine's own scoring path (prompt_logprobs) ranks first" in c["message"]
    assert "decoding differently when a request asks for no logprobs" in c["message"]
    # The plain reference sees the same approximate tokens.
    assert check(doc, "greedy_fidelity")["status"] == "fail"


def test_relaxed_acceptance_is_caught_by_greedy_fidelity(ngram_server, tiny_server,
                                                         demo_challenge, prompt_sets) -> None:
    """Cheat 2: speculative decoding that accepts draft tokens the target would not choose,
    whether or not the request asks for logprobs."""
    with RelaxedAcceptance(ngram_server.base_url) as proxy:
        doc = bench(demo_challenge, prompt_sets, "ngram-k4", proxy.url, tiny_server)
    assert doc["verdict"] == "invalid"
    assert "greedy_fidelity" in reasons(doc)
    c = check(doc, "greedy_fidelity")
    f = c["figures"]
    assert c["status"] == "fail" and f["violations"] > 0 and f["match_rate"] < 1
    # The first swap is at token 3; a near-tie there is resolved and the walk goes on.
    assert all(d is not None and d >= 2 for d in f["first_divergence"])
    assert f["first_violation_lead"] > demo_challenge.integrity.near_tie_margin
    assert "Relaxed or approximate acceptance of draft tokens is not allowed" in c["message"]
    assert "private prompt #" in c["message"] or "prompt '" in c["message"]


def test_short_outputs_are_caught_by_output_length(tiny_server, demo_challenge,
                                                   prompt_sets) -> None:
    """Cheat 3: stopping early. The run stops at the first short answer; the checks it did
    not reach are listed as skipped."""
    with ShortOutputs(tiny_server.base_url) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
    assert doc["verdict"] == "invalid" and reasons(doc) == ["output_length"]
    c = check(doc, "output_length")
    assert c["status"] == "fail" and c["figures"]["got"] == demo_challenge.output_tokens * 3 // 4
    statuses = {x["name"]: x["status"] for x in doc["checks"]}
    assert statuses["model_identity"] == "pass"
    for name in CHECK_ORDER[2:]:
        assert statuses[name] == "skip"
        assert "not run: the run stopped at output_length" in check(doc, name)["message"]


def test_public_answer_cache_is_caught_by_the_public_private_gap(
        tiny_server, tiny_encoder, demo_challenge, prompt_sets) -> None:
    """Cheat 4: answers pre-computed for the public prompts. Every token is right; only the
    speed on prompts the submission has never seen gives it away."""
    public_ids = tiny_encoder.encode_set(prompt_sets[0]).prompt_ids
    with PublicAnswerCache(tiny_server.base_url) as proxy:
        proxy.prefill(public_ids, demo_challenge.output_tokens)
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        hits = proxy.hits
    assert hits == demo_challenge.repeats * len(public_ids)
    assert doc["verdict"] == "invalid" and reasons(doc) == ["public_private_gap"]
    c = check(doc, "public_private_gap")
    assert c["status"] == "fail"
    assert c["figures"]["gap"] > demo_challenge.integrity.public_private_tolerance
    assert "does not carry over to prompts the submission has not seen" in c["message"]
    # The answers themselves are the model's own: every other check passes.
    for name in ("greedy_fidelity", "scoring_consistency", "cache_probe", "output_length"):
        assert check(doc, name)["status"] == "pass", check(doc, name)


def test_answers_cached_across_requests_are_caught_by_the_cache_probe(
        tiny_server, demo_challenge, prompt_sets) -> None:
    """Cheat 5: a repeated request is answered from memory."""
    with AnswerCache(tiny_server.base_url) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        hits = proxy.hits
    assert hits > 0
    assert doc["verdict"] == "invalid" and "cache_probe" in reasons(doc)
    c = check(doc, "cache_probe")
    f = c["figures"]
    assert c["status"] == "fail" and f["speedup"] > demo_challenge.integrity.cache_probe_max_speedup
    assert len(f["first_seconds"]) == len(f["repeat_seconds"]) == \
        demo_challenge.integrity.cache_probe_repeats
    # The timed passes show the same thing: later passes hit the cache.
    assert f["timed_public_repeat_speedup"] > demo_challenge.integrity.cache_probe_max_speedup
    assert "must not be reused across requests" in c["message"]
    for name in ("greedy_fidelity", "scoring_consistency"):
        assert check(doc, name)["status"] == "pass"


def test_a_forwarding_proxy_is_honest(tiny_server, demo_challenge, prompt_sets) -> None:
    """The cheats' proxy machinery itself changes nothing: forwarding alone passes."""
    with CheatProxy(tiny_server.base_url) as proxy:
        doc = bench(demo_challenge, prompt_sets[:1], "plain", proxy.url, tiny_server)
        assert proxy.calls > 0
    assert doc["verdict"] == "verified", doc["reasons"]
    assert check(doc, "public_private_gap")["status"] == "skip"


def test_a_plain_copy_that_cannot_start_ends_the_run_in_error(tiny_server, demo_challenge,
                                                              prompt_sets) -> None:
    """Without its reference, greedy fidelity cannot pass: the run measured, but cannot be
    verified, and says why (the runner's failure, not the submission's)."""
    from runner.server import ServerError

    def serve(spec: ServeSpec) -> Server:
        if spec.role == PLAIN_TWIN:
            raise ServerError("the engine exited with code 1 during start-up",
                              log_tail="CUDA out of memory")
        return ExternalServer(tiny_server.base_url)

    record = run_bench(BenchPlan(demo_submission(demo_challenge, "plain"), demo_challenge,
                                 prompt_sets[:1]), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "error" and record.exit_code == 3
    [reason] = doc["reasons"]
    assert reason["check"] == "engine"
    assert reason["message"] == ("the plain copy of the checkpoint (greedy fidelity's reference: "
                                 "speculative decoding off) failed to start: the engine exited "
                                 "with code 1 during start-up")
    assert doc["log_tail"] == "CUDA out of memory"
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["scoring_consistency"] == statuses["cache_probe"] == "pass"
    assert statuses["greedy_fidelity"] == "skip"
