"""Comparisons: the verdict is the ranking's own tie rule, the interval comes from the two runs'
passes, and `arena compare` prints the same thing the site and the bot show."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import api, site
from tests.support import sample
from arena.stats import TieRule, diff_interval, t_quantile
from leaderboard.compare import compare_runs, comparisons
from leaderboard.ranking import rank, tie_rule

from conftest import at, own_config, plain_and_child  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHALLENGE = load_challenge(REPO / "challenge.yaml")
HW, NOISE = CHALLENGE.hardware, CHALLENGE.noise


def board_rule(docs):
    return tie_rule(docs, [], hardware=HW, noise=NOISE)


def result(sid, passes, *, day=1, only_public=False, ppl=2.31, **kw):
    kw.setdefault("cfg", own_config(sid))
    if only_public:
        return sample.make_result(sid, started_at=at(day), private=None, public=passes,
                                  ppl=ppl, hardware=HW, **kw)
    return sample.make_result(sid, started_at=at(day), private=passes, public=passes, ppl=ppl,
                              hardware=HW, **kw)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(100, 400), gap=st.floats(-12, 12))
def test_the_verdict_is_a_tie_exactly_when_the_ranking_shares_the_rank(a, gap):
    b = a + gap
    ra, rb = result("alice/a", [a, a, a]), result("bob/b", [b, b, b], day=2)
    entries = rank([ra, rb], [], hardware=HW, noise=NOISE)
    cmp = compare_runs(ra, rb, board_rule([ra, rb]))
    shared = entries[0].rank == entries[1].rank
    assert (cmp.verdict == "tie") == shared
    if not shared:
        faster = entries[0].submission_id
        assert cmp.verdict == ("better" if faster == "alice/a" else "worse")


def test_one_rule_changing_the_tie_rule_changes_the_ranking_and_the_comparison(monkeypatch):
    ra, rb = result("alice/a", [300.0] * 3), result("bob/b", [250.0] * 3, day=2)
    assert compare_runs(ra, rb, board_rule([ra, rb])).verdict == "better"
    assert rank([ra, rb], [], hardware=HW, noise=NOISE)[1].rank == 2
    monkeypatch.setattr(TieRule, "compare", lambda self, x, y: "tie")
    assert compare_runs(ra, rb, board_rule([ra, rb])).verdict == "tie"
    assert rank([ra, rb], [], hardware=HW, noise=NOISE)[1].rank == 1


def test_the_interval_is_welchs_from_the_passes():
    lo, hi = diff_interval([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    # var(a)/3 = 1/3, var(b) = 0: df = 2, half-width t(0.975, 2) * sqrt(1/3).
    half = t_quantile(0.975, 2) * math.sqrt(1 / 3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    assert diff_interval([1.0], [2.0, 3.0]) is None
    assert diff_interval([5.0, 5.0], [4.0, 4.0]) == (1.0, 1.0)


def test_a_comparison_says_the_difference_its_interval_and_perplexity():
    ra = result("alice/a", [310.0, 312.0, 314.0], ppl=2.35)
    rb = result("bob/b", [300.0, 301.0, 302.0], day=2, ppl=2.31)
    c = compare_runs(ra, rb, board_rule([ra, rb]), against="parent")
    assert c.diff_tps == pytest.approx(11.0)
    assert c.diff_pct == pytest.approx(11 / 301)
    assert c.diff_ci95[0] < 11.0 < c.diff_ci95[1]
    assert c.diff_ppl == pytest.approx(0.04)
    assert c.verdict == "better"
    assert c.tps_set == "private"
    assert "better, +11.0 tokens/s" in c.summary()


def test_a_private_score_is_never_compared_with_a_public_only_one():
    ra, rb = result("alice/a", [300.0] * 3), result("bob/b", [400.0] * 3, only_public=True)
    c = compare_runs(ra, rb, board_rule([ra, rb]))
    assert c.verdict is None and c.diff_tps is None
    assert "different prompt sets" in c.note


def test_runs_on_different_hardware_are_never_compared():
    ra = result("alice/a", [300.0] * 3)
    rb = sample.make_result("bob/b", started_at=at(2), hardware="l4", private=[250.0] * 3)
    c = compare_runs(ra, rb, board_rule([ra]))
    assert c.verdict is None and "different hardware" in c.note


def test_against_parent_and_leader_and_the_leader_against_the_runner_up():
    base = result("root/base", [200.0] * 3)
    child = result("alice/child", [260.0] * 3, day=2)
    top = result("bob/top", [300.0] * 3, day=3)
    docs = [base, child, top]
    entries = rank(docs, [], hardware=HW, noise=NOISE)
    rule = board_rule(docs)
    found = comparisons(child, "root/base", entries, rule)
    assert found["parent"].verdict == "better" and found["parent"].against == "parent"
    assert found["leader"].verdict == "worse" and found["leader"].baseline.submission_id == \
        "bob/top"
    lead = comparisons(top, None, entries, rule)
    assert "parent" not in lead
    assert lead["leader"].against == "runner-up"
    assert lead["leader"].baseline.submission_id == "alice/child"
    orphan = comparisons(child, "gone/parent", entries, rule)
    assert orphan["parent"] == "its parent gone/parent has no ranked run"


@pytest.fixture
def lineage(tmp_path):
    return plain_and_child(tmp_path, lambda hw, plain: sample.make_result(
        "alice/ngram-k4", started_at=at(2), hardware=hw, private=(240.0, 242.0, 244.0),
        ppl=2.33, cfg=sample.config(args={"max_model_len": 4097})))


def test_the_submission_page_and_the_api_show_the_comparison(lineage, tmp_path):
    ch, store, plain, cand = lineage
    out = tmp_path / "site"
    site.build_site(load_challenge(ch), store, out, jobs=1)
    page = (out / "submissions" / "alice" / "ngram-k4.html").read_text()
    assert 'id="compared"' in page
    assert "+41.0" in page and "better" in page
    doc = json.loads((out / "api" / "submissions.json").read_text())
    import jsonschema
    jsonschema.validate(doc, api.SUBMISSIONS_SCHEMA)
    mine = next(s for s in doc["submissions"] if s["id"] == "alice/ngram-k4")
    assert mine["compared"]["parent"]["verdict"] == "better"
    assert mine["compared"]["parent"]["diff_tps"] == pytest.approx(41.0)
    assert mine["compared"]["parent"]["baseline"]["submission"] == "arena-maintainers/plain"
    board = json.loads((out / "api" / "leaderboard.json").read_text())
    jsonschema.validate(board, api.LEADERBOARD_SCHEMA)
    assert board["entries"][0]["submission"] == "alice/ngram-k4"
    assert mine["compared"]["leader"]["against"] == "runner-up"
    assert mine["compared"]["leader"]["baseline"]["submission"] == "arena-maintainers/plain"


def arena(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, env=env, timeout=60, cwd=cwd or REPO)


def test_cli_compares_result_files_and_store_ids_alike(lineage, tmp_path):
    ch, store, plain, cand = lineage
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(cand))
    b.write_text(json.dumps(plain))
    files = arena("compare", str(a), str(b), "--challenge", str(ch), "--json")
    assert files.returncode == 0, files.stderr
    doc = json.loads(files.stdout)
    assert doc["format"] == "arena.compare/1"
    assert doc["verdict"] == "better" and doc["diff_tps"] == pytest.approx(41.0)
    ids = arena("compare", "alice/ngram-k4", "arena-maintainers/plain", "--store", str(store),
                "--challenge", str(ch), "--json")
    assert ids.returncode == 0, ids.stderr
    assert {k: v for k, v in json.loads(ids.stdout).items() if k != "tie_rule"} == \
        {k: v for k, v in doc.items() if k != "tie_rule"}
    text = arena("compare", "alice/ngram-k4", f"arena-maintainers/plain@{plain['run_id']}",
                 "--store", str(store), "--challenge", str(ch))
    assert text.returncode == 0, text.stderr
    assert "A - B: +41.0 tokens/s" in text.stdout
    assert "95% CI of the difference" in text.stdout
    assert "verdict: better" in text.stdout


def test_cli_bad_inputs_say_what_is_wrong_without_a_traceback(lineage, tmp_path):
    ch, store, plain, cand = lineage
    junk = tmp_path / "junk.json"
    junk.write_text('{"run_id": "\\u001b[31mx"}')
    for args, needle in [
        (("alice/ngram-k4", "bob/none"), "pass --store DIR"),
        (("alice/ngram-k4", "bob/none", "--store", str(store)), "no run of bob/none"),
        (("alice/ngram-k4@nope", "arena-maintainers/plain", "--store", str(store)),
         "has no run nope"),
        ((str(junk), str(junk)), "not a valid result"),
    ]:
        proc = arena("compare", *args, "--challenge", str(ch))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr and "\x1b" not in proc.stderr


def test_the_submission_page_draws_the_breakdown_when_the_run_has_one(lineage, tmp_path):
    from conftest import HOSTILE
    ch, store, plain, cand = lineage
    root = Path(store).parent
    doc = sample.make_result("alice/ngram-k4", started_at=at(3), hardware=cand["challenge"][
        "hardware"], private=(250.0, 251.0, 252.0), cfg=cand["submission"]["config"])
    doc["per_category"] = {"code": {"prompts": 10, "tps": 270.5},
                           "chat": {"prompts": 6, "tps": 230.0},
                           HOSTILE[:60]: {"prompts": 2, "tps": 200.0}}
    doc["per_prompt"] = [{"id": "pub-7", "tps": 255.0, "acceptance_rate": 0.7,
                          "mean_accepted_length": 2.9}]
    ResultsStore(store).append_result(doc)
    out = tmp_path / "site"
    site.build_site(load_challenge(ch), store, out, jobs=1)
    page = (out / "submissions" / "alice" / "ngram-k4.html").read_text()
    assert 'id="breakdown"' in page
    assert '<svg class="chart breakdown"' in page
    assert page.count('<rect class="bar"') == 3
    assert "<details><summary>Public set by prompt (1 prompts)" in page
    assert "0.700" in page and "2.90" in page
    assert "<script>window" not in page and "&lt;script&gt;" in page
    # The parent's page (its run has no breakdown) draws none.
    other = (out / "submissions" / "arena-maintainers" / "plain.html").read_text()
    assert 'id="breakdown"' not in other


def test_the_demo_prints_each_submission_against_its_parent(lineage):
    from workshop.demo import print_ranking
    ch, store, plain, cand = lineage
    lines: list[str] = []
    print_ranking(load_challenge(ch), ResultsStore(store), lines.append)
    line = next(x for x in lines if "vs parent" in x)
    assert line.strip().startswith("alice/ngram-k4 vs parent arena-maintainers/plain")
    assert "better, +41.0 tokens/s" in line and "95% CI" in line
