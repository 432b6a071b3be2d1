"""The integrity rules on their own, without an engine: the near-tie rule, the walk against a
plain decode (with its resumption after near-ties), scoring a served output, the public/private
gap, the cache probe's statistic and fresh prompts, and how a run's checks read in the summary.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from runner import integrity as I
from runner.measure import PassResult, TpsSet
from runner.report import summary_table

MARGIN = 0.05


class PlainModel:
    """A deterministic toy language model at the engine boundary: the next token after a
    prefix, with its top log-probabilities. `lead` says by how much the top-1 leads the
    runner-up at a position (by prefix length)."""

    def __init__(self, length: int, lead: dict[int, float] | None = None):
        self.length = length
        self.lead = lead or {}
        self.calls: list[int] = []

    def top(self, prefix: list[int]) -> dict[int, float]:
        best = (sum(prefix) * 7 + len(prefix)) % 97
        lead = self.lead.get(len(prefix), 1.0)
        return {best: -1.0, best + 100: -1.0 - lead, best + 200: -3.5}

    def greedy(self, prefix: list[int]) -> int:
        t = self.top(prefix)
        return max(t, key=t.__getitem__)

    def decode(self, prefix: list[int], n: int) -> tuple[list[int], list[dict[int, float]]]:
        self.calls.append(len(prefix))
        out, tops = list(prefix), []
        for _ in range(n):
            tops.append(self.top(out))
            out.append(self.greedy(out))
        return out[len(prefix):], tops

    def output(self, swaps: dict[int, int] | None = None) -> list[int]:
        """Greedy decoding, except at positions in `swaps` (position -> 1 runner-up, 2 third)."""
        out: list[int] = []
        for p in range(self.length):
            t = sorted(self.top(out).items(), key=lambda kv: -kv[1])
            out.append(t[(swaps or {}).get(p, 0)][0])
        return out


def test_an_identical_output_matches_everywhere() -> None:
    m = PlainModel(16)
    c = I.compare_with_plain(m.output(), m.decode, MARGIN)
    assert (c.checked, c.matching, c.first_divergence, c.near_ties, c.violation) == \
        (16, 16, None, 0, None)
    assert m.calls == [0]


def test_a_confident_divergence_is_a_violation_where_it_happens() -> None:
    m = PlainModel(16, lead={5: 0.4})
    c = I.compare_with_plain(m.output({5: 1}), m.decode, MARGIN)
    assert c.first_divergence == 5 and c.checked == 6 and c.matching == 5
    assert c.violation == (5, pytest.approx(0.4), True)


def test_a_near_tie_flip_resumes_the_plain_decode_and_still_catches_a_later_violation() -> None:
    m = PlainModel(16, lead={3: 0.01, 9: 0.3})
    c = I.compare_with_plain(m.output({3: 1, 9: 1}), m.decode, MARGIN)
    assert c.first_divergence == 3 and c.near_ties == 1
    assert c.violation is not None and c.violation[0] == 9
    assert m.calls == [0, 4]  # resumed after the served token at position 3


def test_near_ties_alone_pass_and_every_token_is_checked() -> None:
    m = PlainModel(12, lead={2: 0.02, 7: 0.0})
    c = I.compare_with_plain(m.output({2: 1, 7: 1}), m.decode, MARGIN)
    assert c.violation is None and c.near_ties == 2 and c.checked == 12 and c.matching == 10


def test_a_token_outside_the_top_k_is_judged_by_a_lower_bound() -> None:
    m = PlainModel(8, lead={4: 0.01})
    served = m.output()
    served[4] = 999  # not among the plain decode's top log-probabilities
    c = I.compare_with_plain(served, m.decode, MARGIN)
    assert c.violation == (4, pytest.approx(2.5), False)


def test_resumption_is_bounded() -> None:
    m = PlainModel(12, lead=dict.fromkeys(range(12), 0.0))
    c = I.compare_with_plain(m.output(dict.fromkeys(range(12), 1)), m.decode, MARGIN,
                             max_resyncs=3)
    assert c.near_ties == 4 and c.unresolved == 8 and c.violation is None and c.checked == 4


def test_scoring_a_served_output() -> None:
    def entry(actual: int, lp: float, top: float) -> dict[str, dict[str, float]]:
        return {str(actual): {"logprob": lp}, "999": {"logprob": top}}

    entries = [entry(1, -1.0, -1.0), entry(2, -1.03, -1.0), entry(3, -1.5, -1.0),
               {"4": {"logprob": -0.5, "rank": 1}}]
    s = I.score_output(entries, [1, 2, 3, 4], MARGIN)
    assert (s.tokens, s.top1, s.near_ties, s.violations) == (4, 2, 1, 1)
    assert s.first_violation == (2, pytest.approx(0.5))
    assert s.nll == pytest.approx(4.03)


def tps_set(name: str, *tps: float) -> TpsSet:
    t = TpsSet(name, 4, 64)
    t.passes = [PassResult(i, 256, 256 / x) for i, x in enumerate(tps)]
    return t


@pytest.mark.parametrize("action, public, private, status", [
    ("invalid", (100, 101, 99), (99, 98, 100), "pass"),
    ("invalid", (100, 101, 99), (120, 118, 119), "pass"),   # private faster: fine
    ("invalid", (100, 101, 99), (70, 71, 72), "fail"),
    ("warn", (100, 101, 99), (70, 71, 72), "warn"),
])
def test_public_private_gap(demo_challenge, action, public, private, status) -> None:
    integ = dataclasses.replace(demo_challenge.integrity, public_private_tolerance=0.25,
                                public_private_action=action)
    c = I.public_private_gap({"public": tps_set("public", *public),
                              "private": tps_set("private", *private)}, integ)
    assert c.status == status
    assert c.figures["public_tps"] == pytest.approx(100)
    if status != "pass":
        assert c.figures["gap"] == pytest.approx(0.29)
        assert "29.0% below public-prompt TPS 100.0 (tolerance 25%)" in c.message


def test_public_private_gap_needs_both_sets(demo_challenge) -> None:
    c = I.public_private_gap({"public": tps_set("public", 100)}, demo_challenge.integrity)
    assert c.status == "skip" and "only the public set was measured" in c.message


def test_cache_probe_statistics() -> None:
    # Same work twice in a row: a burst on one pair does not move the median.
    assert I.probe_speedup([(1.0, 1.0), (1.2, 1.0), (3.0, 1.0)]) == pytest.approx(1.2)
    assert I.probe_speedup([(1.0, 0.01), (1.0, 0.01), (1.0, 1.0)]) == pytest.approx(100)
    t = TpsSet("public", 3, 64)
    # Each prompt's first request against the median of its later ones (not the fastest,
    # which one lucky request would set).
    t.seconds_by_prompt = {0: [1.0, 0.1, 0.1], 1: [1.0, 0.2, 0.1], 2: [1.0, 1.0, 1.0]}
    assert I.timed_repeat_speedup(t) == pytest.approx(1 / 0.15)
    t.seconds_by_prompt = {0: [1.0]}
    assert I.timed_repeat_speedup(t) is None


def test_fresh_prompts_are_new_and_cost_the_same() -> None:
    rng = random.Random(3)
    prompt = list(range(2, 32))
    taken = {tuple(prompt)}
    variants = [I.fresh_variant(prompt, taken, rng) for _ in range(20)]
    assert len({tuple(v) for v in variants}) == 20
    for v in variants:
        assert len(v) == len(prompt) and tuple(v) != tuple(prompt)
        diff = [j for j in range(len(v)) if v[j] != prompt[j]]
        assert len(diff) == 1 and 10 <= diff[0] < 20  # inside the message, one token
        assert v[diff[0]] in prompt


def test_fidelity_samples_spread_over_the_sets_scored_set_first() -> None:
    tps = {"public": TpsSet("public", 6, 8), "private": TpsSet("private", 3, 8)}
    tps["public"].outputs = {i: [[1]] for i in range(6)}
    tps["private"].outputs = {i: [[1]] for i in range(3)}
    s = I.sample_prompts(tps, ["public", "private"], 5, random.Random(1))
    assert [n for n, _ in s] == ["private", "public", "private", "public", "private"]
    assert len(set(s)) == 5
    assert len(I.sample_prompts(tps, ["public", "private"], 50, random.Random(1))) == 9


def test_the_summary_shows_every_check_with_its_figures() -> None:
    from arena.result import validate_result

    result = {
        "schema_version": 1, "run_id": "r1",
        "submission": {"id": "a/b", "path": "submissions/a/b.yaml", "commit": None,
                       "config": {}, "config_sha256": "0" * 64},
        "challenge": {"id": "c", "hardware": "cpu"},
        "started_at": "2026-11-22T00:00:00Z", "finished_at": "2026-11-22T00:01:00Z",
        "verdict": "invalid",
        "reasons": [{"check": "greedy_fidelity", "message": "1 of 4 sampled outputs differ"}],
        "tps": {}, "ppl": {"reference": 2.3, "cap": 2.4, "sets": {}},
        "checks": [
            {"name": "scoring_consistency", "status": "pass", "message": "all fine",
             "figures": {"outputs": 8, "tokens": 512, "top1_rate": 1.0, "near_ties": 0,
                         "violations": 0, "nll_per_token": 6.4264, "seconds": 0.1}},
            {"name": "greedy_fidelity", "status": "fail", "message": "1 of 4 sampled outputs differ",
             "figures": {"outputs": 4, "tokens_compared": 100, "match_rate": 0.9,
                         "near_ties": 1, "violations": 1, "first_divergence": [None, 3, None, None]}},
        ],
        "speculative": None,
        "timings": {"startup_s": 40.0, "timed_s": 50.0, "checks_s": 10.0, "total_s": 100.0},
        "fingerprint": {"hardware": "cpu", "accelerator": "cpu", "engine": "vllm",
                        "engine_version": "0.32.0", "harness_version": "0.1.0",
                        "prompt_sets": {}, "submission_sha256": "0" * 64},
    }
    text = summary_table(validate_result(result))
    assert "  - greedy_fidelity: 1 of 4 sampled outputs differ" in text
    assert "fail  greedy_fidelity      1 of 4 sampled outputs differ" in text
    assert ("[outputs 4, tokens_compared 100, match_rate 0.9, near_ties 1, violations 1, "
            "first_divergence [-, 3, -, -]]") in text
    assert "top1_rate 1, near_ties 0, violations 0, nll_per_token 6.426]" in text
    assert "checks 10.0 s" in text and "(checks 10% of the run)" in text


# -- the referee's judgement, with calibrated noise ---------------------------------------------

def bounds(rate: float = 0.0, tokens: int = 10_000, max_lead: float = 0.01) -> I.NoiseBounds:
    from arena.challenge import Integrity, NoiseCalibration

    integ = Integrity(4, 32, 0.05, 0.25, "invalid", 3, 1.5,
                      noise=NoiseCalibration(rate, max_lead, 2, tokens, "test"))
    return I.NoiseBounds.of(integ)


def test_noise_bounds_come_from_the_calibration_and_never_pass_the_margin() -> None:
    b = bounds(rate=0.001, max_lead=0.2)
    assert b.max_lead == 0.05 and b.rate == 0.001 and b.max_rank == 2  # capped at the margin
    b = bounds(rate=0.0, tokens=10_000)
    assert b.rate == pytest.approx(1e-4)  # no flip seen in T tokens still bounds the rate by 1/T
    provisional = bounds(rate=0.02, tokens=0, max_lead=0.5)  # figures without a calibration
    assert provisional.max_lead == 0.05 and provisional.rate == 0.02
    nothing = bounds(rate=0.0, tokens=0, max_lead=0.0)  # no figures at all: the margin only
    assert nothing.max_lead == 0.05 and nothing.allowed_flips(500) == 500


def test_allowed_flips_is_a_poisson_bound_that_honest_noise_stays_under() -> None:
    b = bounds(rate=0.0003)
    assert 4 <= b.allowed_flips(6912) <= 12  # about 2 expected
    assert b.allowed_flips(6912) < 0.05 * 6912  # a tie-taker's rate is far above it
    rng = random.Random(5)
    # Honest runs at the calibrated rate stay under the bound (one in a million may not).
    for _ in range(300):
        flips = sum(rng.random() < 0.0003 for _ in range(6912))
        assert flips <= b.allowed_flips(6912)


def test_judging_served_tokens_by_rank_lead_and_rate() -> None:
    def entry(actual: int, lp: float, *others: tuple[int, float]) -> dict[str, dict[str, float]]:
        d = {str(actual): {"logprob": lp}}
        d.update({str(t): {"logprob": v} for t, v in others})
        return d

    b = bounds()
    entries = [entry(1, -1.0, (9, -1.5)),                 # top-1
               entry(2, -1.004, (9, -1.0)),               # an honest flip: rank 2, lead 0.004
               entry(3, -1.03, (9, -1.0)),                # lead 0.03: past the calibrated 0.01
               entry(4, -1.002, (9, -1.0), (8, -1.001))]  # rank 3: the wrong direction
    j = I.judge_output(entries, [1, 2, 3, 4], b)
    assert (j.tokens, j.top1, j.flips, j.violations) == (4, 1, 1, 2)
    assert j.first_violation == (2, pytest.approx(0.03), 2)
    assert j.max_rank == 3 and j.max_lead == pytest.approx(0.03)
    assert j.nll == pytest.approx(4.036)
    assert I.rank_of({5: -1.0, 6: -2.0}, 7) == 3
