"""The cheat suite: every known way to game the score, as a working cheat in front of real vLLM,
must end `invalid` with the right check named; honest configurations (plain, and n-gram
speculative decoding, lossless under greedy) must pass every check.

Each run is a full `run_bench` (warm-up, timed passes on a public and a private set, the
referee's perplexity and scoring, every check) of a server measured through the runner's
`serve` seam: the cheat proxy sits in the submission's seat, and the shared plain vLLM server
(sandboxed, stock) is the referee. Whatever sits in the submission's seat is only timed; every
quality figure comes from the referee, so no cheat can lie its way past them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from arena.result import validate_result
from runner.bench import BenchPlan, ServeSpec, run_bench
from runner.bench import REFEREE, SUBMISSION
from runner.integrity import CHECK_ORDER
from runner.server import ExternalServer, Server
from tests.integrity.cheats import (
    AnswerCache,
    CheatProxy,
    GraderConditional,
    PassReplay,
    PublicAnswerCache,
    RelaxedAcceptance,
    ScoringFaker,
    ShortOutputs,
    TailFaker,
    TieTaker,
)
from tests.integrity.cheats import asks_logprobs
from tests.integrity.conftest import demo_submission

pytestmark = pytest.mark.vllm


def bench(challenge, sets, submission: str, seat: Server | str, plain: Server,
          specs: list[ServeSpec] | None = None) -> dict[str, Any]:
    """One run of a demo submission served by `seat` (a server, or a proxy's URL); the
    referee is `plain`."""
    def serve(spec: ServeSpec) -> Server:
        if specs is not None:
            specs.append(spec)
        if spec.role == REFEREE:
            return ExternalServer(plain.base_url, uds=plain.uds)
        if isinstance(seat, str):
            return ExternalServer(seat)
        return ExternalServer(seat.base_url, uds=seat.uds)

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
    assert scoring["violations"] == 0 and scoring["judge"] == "referee"
    # Every token of every timed output (each a distinct variant), full length.
    assert scoring["tokens"] == sum(t["prompts"] * len(t["passes"]) for t in
                                    doc["tps"].values()) * doc["tps"]["public"]["output_tokens"]
    ties = check(doc, "near_ties")["figures"]
    assert ties["non_top1"] <= ties["allowed"] and ties["tokens"] == scoring["tokens"]
    gap = check(doc, "public_private_gap")["figures"]
    assert gap["public_tps"] == doc["tps"]["public"]["median"]
    assert gap["private_tps"] == doc["tps"]["private"]["median"]
    assert "referee_s" in doc["timings"] and "submission_checks_s" in doc["timings"]
    # The private set is reported by category only: no private prompt is named.
    assert set(doc["per_category"]) <= {"maths", "reasoning", "writing", "code"}
    assert sum(c["prompts"] for c in doc["per_category"].values()) == \
        doc["tps"]["private"]["prompts"]
    assert "demo-private-" not in json.dumps(doc)


# -- honest configurations: zero false positives ----------------------------------------------

def test_plain_serving_passes_every_check(tiny_server, demo_challenge, prompt_sets) -> None:
    specs: list[ServeSpec] = []
    doc = bench(demo_challenge, prompt_sets, "plain", tiny_server, tiny_server, specs)
    assert_honest(doc)
    # The submission's seat is only timed; the referee is asked for every quality figure.
    assert [s.role for s in specs] == [SUBMISSION, REFEREE]
    # The challenge's referee_env reaches the referee only, on top of the engine environment.
    submission, referee = specs
    assert demo_challenge.referee_env
    assert dict(referee.engine_env) == {**demo_challenge.engine_env, **demo_challenge.referee_env}
    assert dict(submission.engine_env) == dict(demo_challenge.engine_env)


def test_ngram_speculative_decoding_passes_every_check(ngram_server, tiny_server,
                                                       demo_challenge, prompt_sets) -> None:
    specs: list[ServeSpec] = []
    doc = bench(demo_challenge, prompt_sets, "ngram-k4", ngram_server, tiny_server,
                specs)
    assert_honest(doc)
    assert doc["speculative"]["drafts"] > 0  # speculation really ran
    # The reference is the same checkpoint and arguments, speculative decoding off.
    submission, twin = specs
    assert twin.role == REFEREE and twin.model_path == submission.model_path
    assert twin.overlay is None and twin.drafter_path is None
    assert "speculative_config" in submission.engine_args
    assert dict(twin.engine_args) == {k: v for k, v in submission.engine_args.items()
                                      if k != "speculative_config"}
    assert check(doc, "greedy_fidelity")["figures"]["reference"] == \
        "the referee (stock vLLM, speculative decoding off)"


# -- the cheats ------------------------------------------------------------------------------

def test_grader_conditional_serving_is_caught_by_scoring_consistency(
        tiny_server, demo_challenge, prompt_sets) -> None:
    """Cheat 1: approximate decoding when no logprobs are asked, exact otherwise. Perplexity
    (teacher forced, with logprobs) cannot see it; and the submission's engine is never asked
    for logprobs at all: the referee scores what it served."""
    with GraderConditional(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        asked = [b for b, _ in proxy.exchanges if asks_logprobs(b)]
    assert asked == []
    assert doc["verdict"] == "invalid"
    assert "scoring_consistency" in reasons(doc)
    assert check(doc, "ppl_cap")["status"] == "pass"  # the cheat's point: PPL looks clean
    c = check(doc, "scoring_consistency")
    assert c["status"] == "fail" and c["figures"]["violations"] > 0
    assert "not what plain greedy decoding of the checkpoint (the referee" in c["message"]
    assert "approximate decoding" in c["message"]
    # The referee's own decode sees the same approximate tokens.
    assert check(doc, "greedy_fidelity")["status"] == "fail"


def test_relaxed_acceptance_is_caught_by_greedy_fidelity(ngram_server, tiny_server,
                                                         demo_challenge, prompt_sets) -> None:
    """Cheat 2: speculative decoding that accepts draft tokens the target would not choose,
    whether or not the request asks for logprobs."""
    with RelaxedAcceptance(ngram_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "ngram-k4", proxy.url, tiny_server)
    assert doc["verdict"] == "invalid"
    assert "greedy_fidelity" in reasons(doc)
    c = check(doc, "greedy_fidelity")
    f = c["figures"]
    assert c["status"] == "fail" and f["violations"] > 0 and f["match_rate"] < 1
    # The first swap is at token 3; a near-tie there is resolved and the walk goes on.
    assert all(d is not None and d >= 2 for d in f["first_divergence"])
    assert f["first_violation_lead"] > demo_challenge.integrity.noise.max_lead
    assert "Relaxed or approximate acceptance of draft tokens is not allowed" in c["message"]
    assert "private prompt #" in c["message"] or "prompt '" in c["message"]


def test_short_outputs_are_caught_by_output_length(tiny_server, demo_challenge,
                                                   prompt_sets) -> None:
    """Cheat 3: stopping early. The run stops at the first short answer; the checks it did
    not reach are listed as skipped."""
    with ShortOutputs(tiny_server) as proxy:
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
    """Cheat 4: answers pre-computed for the public prompts, served for any request close to
    one of them (the runner never sends a public prompt verbatim). The speed on prompts the
    submission has never seen gives it away, and the referee sees that the answers are not
    the variants' own."""
    public_ids = tiny_encoder.encode_set(prompt_sets[0]).prompt_ids
    with PublicAnswerCache(tiny_server) as proxy:
        proxy.prefill(public_ids, demo_challenge.output_tokens)
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        hits = proxy.hits
    assert hits >= demo_challenge.repeats * len(public_ids)
    assert doc["verdict"] == "invalid" and "public_private_gap" in reasons(doc)
    c = check(doc, "public_private_gap")
    assert c["status"] == "fail"
    assert c["figures"]["gap"] > demo_challenge.integrity.public_private_tolerance
    assert "does not carry over to prompts the submission has not seen" in c["message"]
    assert check(doc, "output_length")["status"] == "pass"


def test_answers_cached_across_requests_are_caught_by_the_cache_probe(
        tiny_server, demo_challenge, prompt_sets) -> None:
    """Cheat 5: a repeated request is answered from memory."""
    with AnswerCache(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        hits = proxy.hits
    assert hits > 0
    assert doc["verdict"] == "invalid" and "cache_probe" in reasons(doc)
    c = check(doc, "cache_probe")
    f = c["figures"]
    assert c["status"] == "fail" and f["speedup"] > demo_challenge.integrity.cache_probe_max_speedup
    assert len(f["first_seconds"]) == len(f["repeat_seconds"]) == \
        demo_challenge.integrity.cache_probe_repeats
    # No timed request is ever sent twice: only the probe's repeats could hit the cache.
    assert hits == demo_challenge.integrity.cache_probe_repeats
    assert "must not be reused across requests" in c["message"]
    for name in ("greedy_fidelity", "scoring_consistency"):
        assert check(doc, name)["status"] == "pass"


def test_a_forwarding_proxy_is_honest(tiny_server, demo_challenge, prompt_sets) -> None:
    """The cheats' proxy machinery itself changes nothing: forwarding alone passes."""
    with CheatProxy(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets[:1], "plain", proxy.url, tiny_server)
        assert proxy.calls > 0
    assert doc["verdict"] == "verified", doc["reasons"]
    assert check(doc, "public_private_gap")["status"] == "skip"


def test_a_referee_that_cannot_start_ends_the_run_in_error(tiny_server, demo_challenge,
                                                          prompt_sets) -> None:
    """Without the referee nothing can be judged: the run measured, but cannot be verified,
    and says why (the runner's failure, not the submission's) in the harness's own words."""
    from runner.server import ServerError

    def serve(spec: ServeSpec) -> Server:
        if spec.role == REFEREE:
            raise ServerError("the engine exited with code 1 during start-up",
                              log_tail="CUDA out of memory")
        return ExternalServer(tiny_server.base_url, uds=tiny_server.uds)

    record = run_bench(BenchPlan(demo_submission(demo_challenge, "plain"), demo_challenge,
                                 prompt_sets[:1]), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "error" and record.exit_code == 3 and doc["stage"] == "referee"
    [reason] = doc["reasons"]
    assert reason["check"] == "referee"
    assert reason["message"] == ("the referee (stock vLLM on the same checkpoint) failed to "
                                 "start: the engine exited with code 1 during start-up")
    assert "log_tail" not in doc and "CUDA out of memory" not in str(doc)
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["cache_probe"] == statuses["output_length"] == "pass"
    assert statuses["scoring_consistency"] == statuses["greedy_fidelity"] == "skip"
    assert statuses["ppl_cap"] == "skip"


# -- cheats that lie about themselves: the referee judges ---------------------------------------

def test_an_engine_that_fakes_the_scoring_of_what_it_served_is_caught(
        tiny_server, demo_challenge, prompt_sets) -> None:
    """Cheat 6: approximate decoding, and every scoring request for a served output answered
    'certain'. The submission's engine is never asked to score: the referee does."""
    with ScoringFaker(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        faked = proxy.faked
    assert faked == 0  # never asked
    assert doc["verdict"] == "invalid" and "scoring_consistency" in reasons(doc)
    f = check(doc, "scoring_consistency")["figures"]
    assert f["violations"] > 0 and f["judge"] == "referee"


def test_an_engine_that_replays_earlier_passes_is_caught(tiny_server, demo_challenge,
                                                         prompt_sets) -> None:
    """Cheat 7: the answer of an earlier pass replayed for any request close to it, fresh
    answers for back-to-back repeats. Every timed request is a fresh variant, so a replay is
    the answer to another prompt; and the later passes run several times faster."""
    with PassReplay(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        replays = proxy.replays
    assert replays >= (demo_challenge.repeats - 1) * sum(len(s) for s in prompt_sets)
    assert doc["verdict"] == "invalid" and "cache_probe" in reasons(doc)
    c = check(doc, "cache_probe")
    assert c["figures"]["timed_public_repeat_speedup"] > demo_challenge.integrity.pass_speedup_max
    assert "later variants ran" in c["message"]
    assert check(doc, "scoring_consistency")["status"] == "fail"


def test_an_engine_that_never_computes_the_tail_is_caught(tiny_server, demo_challenge,
                                                          prompt_sets) -> None:
    """Cheat 8: half of each output computed, the tail made up, its scoring faked. The
    referee scores every token of every output, full length."""
    with TailFaker(tiny_server) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
    assert doc["verdict"] == "invalid" and "scoring_consistency" in reasons(doc)
    c = check(doc, "scoring_consistency")
    assert "first at token" in c["message"]
    first = int(c["message"].split("first at token ")[1].split()[0])
    assert first > demo_challenge.output_tokens // 2  # the honest head passes; the tail fails


def test_an_engine_that_takes_every_near_tie_is_caught(tiny_server, demo_challenge,
                                                       prompt_sets) -> None:
    """Cheat 9: the runner-up wherever it is within the near-tie margin. Each step is "close",
    but honest noise flips a near-tie rarely: the rate gives it away."""
    margin = demo_challenge.integrity.near_tie_margin
    with TieTaker(tiny_server, margin) as proxy:
        doc = bench(demo_challenge, prompt_sets, "plain", proxy.url, tiny_server)
        swaps = proxy.swaps
    assert swaps > 0
    assert doc["verdict"] == "invalid" and "near_ties" in reasons(doc)
    c = check(doc, "near_ties")
    assert c["status"] == "fail" and c["figures"]["non_top1"] > c["figures"]["allowed"]
    assert "Taking a close runner-up" in c["message"]
