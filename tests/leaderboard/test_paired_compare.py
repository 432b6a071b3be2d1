"""Paired comparisons: a result measured against another submission in one job (arena bench
--vs) is compared with that submission on the pairs' figures and interval, marked paired, and
judged by the ranking's own tie rule; the site, the API and `arena compare` show the same words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from arena.challenge import load_challenge
from arena.result import validate_result
from arena.stats import paired_interval
from leaderboard import api, site
from leaderboard.compare import compare_runs, comparisons, diff_interval
from leaderboard.ranking import TieRule, rank, tie_rule
from runner.paired import abba, paired_block
from tests.support import sample

from conftest import at, plain_and_child  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHALLENGE = load_challenge(REPO / "challenge.yaml")
HW, NOISE = CHALLENGE.hardware, CHALLENGE.noise
PLAIN_CFG = sample.config(args={"max_model_len": 2048})
CAND_CFG = sample.config(args={"max_model_len": 4097})

# Both engines drift together from pass to pass (the runner warming up, a neighbour's load).
CAND = [240.0, 251.0, 236.0, 247.0, 244.0]
OTHER = [233.0, 243.5, 229.0, 240.5, 236.0]


def paired_result(cand=CAND, other=OTHER, *, against="arena-maintainers/plain",
                  against_cfg=PLAIN_CFG, hardware=HW, rule=None, **kw):
    doc = sample.make_result("alice/ngram-k4", started_at=at(2), hardware=hardware,
                             private=cand, public=cand, cfg=CAND_CFG, ppl=2.33, **kw)
    rule = rule or tie_rule([], [], hardware=hardware, noise=NOISE)
    doc["paired"] = paired_block(cand, other, against={
        "id": against, "commit": "a" * 40, "config_sha256": sample.sha256_json(against_cfg)},
        set_name="private", rule=rule)
    return validate_result(doc)


def plain_result(passes=(200.0, 201.0, 202.0), cfg=PLAIN_CFG):
    return sample.make_result("arena-maintainers/plain", started_at=at(1), hardware=HW,
                              private=passes, public=passes, cfg=cfg, ppl=2.31)


def test_the_block_holds_the_pairs_figures_both_intervals_and_the_rules_verdict():
    doc = paired_result()
    p = doc["paired"]
    assert p["pairs"] == 5 and p["order"] == "pass" and p["set"] == "private"
    t = p["tps"]
    assert t["diff"] == pytest.approx(sum(CAND) / 5 - sum(OTHER) / 5)
    assert tuple(t["ci"]) == pytest.approx(paired_interval(CAND, OTHER))
    assert tuple(t["unpaired_ci"]) == pytest.approx(diff_interval(CAND, OTHER))
    assert t["ci"][1] - t["ci"][0] < t["unpaired_ci"][1] - t["unpaired_ci"][0]
    rule = tie_rule([], [], hardware=HW, noise=NOISE)
    assert p["verdict"] == rule.compare(t["candidate"], t["other"])


def test_against_the_paired_submission_the_comparison_uses_the_pairs():
    cand, plain = paired_result(), plain_result()
    rule = tie_rule([cand, plain], [], hardware=HW, noise=NOISE)
    c = compare_runs(cand, plain, rule, against="parent")
    t = cand["paired"]["tps"]
    assert c.paired and c.pairs == 5 and c.how() == "paired, 5 pairs"
    # The pairs' figures, not the parent's separate run (whose median is 201).
    assert c.diff_tps == pytest.approx(t["diff"])
    assert c.baseline.tps == pytest.approx(t["other"]) and c.baseline.run_id == cand["run_id"]
    assert c.diff_ci95 == pytest.approx(tuple(t["ci"]))
    assert c.unpaired_ci95 == pytest.approx(tuple(t["unpaired_ci"]))
    assert c.verdict == rule.compare(t["candidate"], t["other"])
    assert c.diff_ppl == pytest.approx(0.02)  # the other's ranked run is the paired config
    words = c.summary()
    assert "(paired, 5 pairs in run" in words and "from the pairs" in words
    assert "as two separate runs" in words
    # Against anyone else: two separate runs, as before.
    other = sample.make_result("bob/top", started_at=at(3), hardware=HW,
                               private=(300.0,) * 3, cfg=sample.config(args={"seed": 5}))
    c2 = compare_runs(cand, other, rule)
    assert not c2.paired and c2.pairs is None and c2.how() == "separate runs"


def test_the_verdict_is_the_tie_rules_alone(monkeypatch):
    cand, plain = paired_result(), plain_result()
    rule = tie_rule([cand, plain], [], hardware=HW, noise=NOISE)
    assert compare_runs(cand, plain, rule).verdict == "better"
    monkeypatch.setattr(TieRule, "compare", lambda self, a, b: "tie")
    assert compare_runs(cand, plain, rule).verdict == "tie"


def test_a_narrow_paired_interval_does_not_turn_a_tie_into_a_win():
    # 1 tok/s apart at every pair: the interval excludes 0, but the tie rule's margin (the
    # run-to-run noise) is wider: a tie, as the ranking would say.
    cand, other = [200.0, 210.0, 205.0], [199.0, 209.0, 204.0]
    doc = paired_result(cand, other)
    rule = tie_rule([doc], [], hardware=HW, noise=NOISE)
    c = compare_runs(doc, plain_result(), rule)
    assert c.diff_ci95[0] > 0
    assert c.verdict == "tie" == rule.compare(sum(cand) / 3, sum(other) / 3)


def test_a_paired_run_compares_with_its_parent_even_when_the_parent_has_no_ranked_run():
    cand = paired_result()
    entries = rank([cand], [], hardware=HW, noise=NOISE)
    rule = tie_rule([cand], [], hardware=HW, noise=NOISE)
    found = comparisons(cand, "arena-maintainers/plain", entries, rule)
    assert found["parent"].paired and found["parent"].diff_ppl is None
    # A parent other than the one paired with has no ranked run: said as before.
    assert comparisons(cand, "carol/base", entries, rule)["parent"] == \
        "its parent carol/base has no ranked run"


def test_the_other_submissions_changed_config_gives_no_perplexity_difference():
    cand = paired_result()
    plain = plain_result(cfg=sample.config(args={"max_model_len": 3000}))
    c = compare_runs(cand, plain, tie_rule([cand], [], hardware=HW, noise=NOISE))
    assert c.paired and c.diff_ppl is None and "another configuration" in c.note


def test_abba_cancels_a_linear_drift():
    order = abba(4)
    assert order[0] == ("candidate", "other") and order[1] == ("other", "candidate")
    slots = [who for pair in order for who in pair]
    t_a = sum(i for i, w in enumerate(slots) if w == "candidate")
    t_b = sum(i for i, w in enumerate(slots) if w == "other")
    assert t_a == t_b


@pytest.fixture
def lineage(tmp_path):
    return plain_and_child(tmp_path, lambda hw, plain: paired_result(
        hardware=hw, against_cfg=plain["submission"]["config"]))


def test_the_submission_page_and_the_api_say_paired(lineage, tmp_path):
    ch, store, plain, cand = lineage
    out = tmp_path / "site"
    site.build_site(load_challenge(ch), store, out, jobs=1)
    page = (out / "submissions" / "alice" / "ngram-k4.html").read_text()
    assert "paired, 5 pairs" in page and "as two separate runs" in page
    doc = json.loads((out / "api" / "submissions.json").read_text())
    jsonschema.validate(doc, api.SUBMISSIONS_SCHEMA)
    mine = next(s for s in doc["submissions"] if s["id"] == "alice/ngram-k4")
    par = mine["compared"]["parent"]
    assert par["paired"] is True and par["pairs"] == 5 and par["how"] == "paired, 5 pairs"
    assert par["diff_tps"] == pytest.approx(cand["paired"]["tps"]["diff"], abs=1e-3)
    assert par["diff_ci95"] == pytest.approx(cand["paired"]["tps"]["ci"], abs=1e-3)


def test_arena_compare_shows_the_pairs(lineage, tmp_path):
    ch, store, plain, cand = lineage
    env = dict(os.environ, PYTHONPATH=str(REPO))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(cand))
    b.write_text(json.dumps(plain))
    base = [sys.executable, "-m", "arena", "compare", str(a), str(b), "--challenge", str(ch)]
    js = subprocess.run(base + ["--json"], capture_output=True, text=True, env=env, timeout=60)
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["paired"] is True and doc["pairs"] == 5
    assert doc["diff_ci95"] == pytest.approx(cand["paired"]["tps"]["ci"])
    assert doc["unpaired_ci95"] == pytest.approx(cand["paired"]["tps"]["unpaired_ci"])
    text = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "paired, 5 pairs" in text.stdout
    assert "Student's t on the pairs" in text.stdout
    assert "two separate runs (Welch)" in text.stdout


@pytest.mark.parametrize("challenge", ["challenge.yaml", "demo/challenge.yaml"])
def test_the_runners_rule_is_the_boards_before_any_repeat(challenge):
    # The runner judges a paired run by the ranking's own TieRule, from the challenge alone:
    # exactly the board's rule while no configuration has been measured twice.
    from arena.stats import calibrated_rule

    ch = load_challenge(REPO / challenge)
    assert calibrated_rule(ch.noise) == tie_rule([], [], hardware=ch.hardware, noise=ch.noise)
    assert TieRule is __import__("arena.stats", fromlist=["TieRule"]).TieRule
