"""The result comment compares the run with its parent and the leader (the ranking's verdict),
and folds the per-category breakdown when the runner reports one."""

from __future__ import annotations

import json

import pytest
from conftest import submission_yaml

from arena.result import result_errors
from arena.store import ResultsStore
from arena.submission import validate_file
from bot.publish import publish
from bot.validation import base_index
from helpers import HOSTILE, assert_neutralized, make_result, rendered

PATH = "submissions/alice/fast.yaml"
PARENT = "arena-maintainers/bf16-baseline"


def passes(doc, values):
    for s in doc["tps"].values():
        s["passes"] = [{"tokens": 4096, "seconds": 4096 / v, "tps": v} for v in values]
    return doc


@pytest.fixture
def queued(fake, bot, comment_event, validate):
    pr = fake.open_pull("alice", {PATH: submission_yaml(parent=PARENT)})
    from bot.commands import on_issue_comment
    validate(bot, pr.number)  # /bench approves the head the validation named
    on_issue_comment(bot, comment_event(pr.number, "/bench", "arena-maintainers"))
    bot.run_id = str(fake.runs[-1].id)
    return pr


@pytest.fixture
def store(tmp_path):
    st = ResultsStore(tmp_path / "store")
    st.append_result(passes(make_result(
        PARENT, path=f"submissions/{PARENT}.yaml", commit=None, config_sha256="3" * 64,
        tps=100.0, run_id="r-base"), [99.0, 100.0, 101.0]))
    st.append_result(passes(make_result(
        "bob/x", path="submissions/bob/x.yaml", commit=None, config_sha256="2" * 64, tps=200.0,
        run_id="r-bob"), [199.0, 200.0, 201.0]))
    return st


def publish_doc(bot, queued, challenge, tmp_path, doc, store):
    sha = validate_file(submission_yaml(parent=PARENT), path_in_repo=PATH, challenge=challenge,
                        index=base_index(challenge)).submission.config_sha256()
    doc["submission"]["config_sha256"] = sha
    doc["fingerprint"]["submission_sha256"] = sha
    assert not result_errors(doc)
    p = tmp_path / "result.json"
    p.write_text(json.dumps(doc))
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH, result_file=p,
            bench_outcome="success", store_dir=store.root)


def test_the_comment_compares_with_the_parent_and_the_leader(
        fake, bot, queued, challenge, tmp_path, store):
    doc = passes(make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64,
                             tps=150.0), [148.0, 150.0, 152.0])
    publish_doc(bot, queued, challenge, tmp_path, doc, store)
    body = fake.bot_comments(queued.number)[-1].body
    html = rendered(body)
    assert "<strong>Compared</strong>" in html
    # Against the parent: +50 tokens/s, better; against the leader: -50, worse.
    parent_row = next(line for line in body.splitlines() if line.startswith("| parent "))
    assert "**+50.0** (+50.0%)" in parent_row and "**better**" in parent_row
    leader_row = next(line for line in body.splitlines() if line.startswith("| leader "))
    assert "**-50.0**" in leader_row and "**worse**" in leader_row and "bob/x" in leader_row
    assert "blind to drift between runners and hours" in body


def test_a_gap_within_the_noise_is_a_tie_in_the_comment(
        fake, bot, queued, challenge, tmp_path, store):
    doc = passes(make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64,
                             tps=101.0), [100.0, 101.0, 102.0])
    publish_doc(bot, queued, challenge, tmp_path, doc, store)
    body = fake.bot_comments(queued.number)[-1].body
    parent_row = next(line for line in body.splitlines() if line.startswith("| parent "))
    assert "**tie**" in parent_row


def test_the_breakdown_is_folded_and_hostile_names_are_neutralized(
        fake, bot, queued, challenge, tmp_path, store):
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64, tps=150.0)
    doc["per_category"] = {"code": {"prompts": 12, "tps": 171.5},
                           HOSTILE[:60]: {"prompts": 3, "tps": 120.25}}
    doc["per_prompt"] = [{"id": "pub-001", "tps": 160.0, "acceptance_rate": 0.61,
                          "mean_accepted_length": 2.4},
                         {"id": HOSTILE[:90], "tps": 140.0, "acceptance_rate": None,
                          "mean_accepted_length": None}]
    publish_doc(bot, queued, challenge, tmp_path, doc, store)
    body = fake.bot_comments(queued.number)[-1].body
    assert "<details><summary>Where the time goes: private set by category (2 categories)" \
        in body
    assert "| `code` | 12 | 171.5 |" in body
    assert "| `pub-001` | 160.0 | 0.610 | 2.40 |" in body
    assert_neutralized(body)


def test_without_a_breakdown_nothing_is_folded(fake, bot, queued, challenge, tmp_path, store):
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64, tps=150.0)
    publish_doc(bot, queued, challenge, tmp_path, doc, store)
    body = fake.bot_comments(queued.number)[-1].body
    assert "Where the time goes" not in body and "by prompt" not in body


def test_the_digest_compares_each_recent_run_with_its_parent_and_the_leader(challenge, store):
    import datetime as dt

    from bot.digest import build_digest, render_markdown, render_text
    mine = passes(make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64,
                              tps=150.0, run_id="r-alice"), [148.0, 150.0, 152.0])
    mine["finished_at"] = "2026-11-23T10:00:00Z"
    results = [r.doc for r in store.results()] + [mine]
    doc = build_digest(challenge, results, [], now=dt.datetime.now(dt.timezone.utc),
                       parents={"alice/fast": PARENT})
    row = next(r for r in doc["recent_results"] if r["submission"] == "alice/fast")
    assert row["compared"]["parent"]["verdict"] == "better"
    assert row["compared"]["parent"]["diff_tps"] == pytest.approx(50.0)
    assert row["compared"]["leader"]["verdict"] == "worse"
    md = render_markdown(doc)
    assert "+50.0 (better)" in md and "-50.0 (worse) vs `bob/x`" in md
    assert "parent: +50.0 (better)" in render_text(doc)


def test_a_paired_run_is_compared_with_the_pairs_in_compare_py_s_words(
        fake, bot, queued, challenge, tmp_path, store):
    from leaderboard.ranking import tie_rule
    from runner.paired import paired_block

    cand, other = [150.0, 161.0, 146.0, 157.0, 154.0], [100.0, 110.5, 96.0, 107.5, 103.0]
    doc = passes(make_result("alice/fast", path=PATH, commit=None, config_sha256="0" * 64,
                             tps=154.0), cand)
    parent = next(r.doc for r in store.results() if r.doc["submission"]["id"] == PARENT)
    doc["paired"] = paired_block(cand, other, against={
        "id": PARENT, "commit": "a" * 40, "config_sha256": parent["submission"]["config_sha256"]},
        set_name="private", rule=tie_rule([], [], hardware="a10g", noise=challenge.noise))
    publish_doc(bot, queued, challenge, tmp_path, doc, store)
    body = fake.bot_comments(queued.number)[-1].body
    parent_row = next(line for line in body.splitlines() if line.startswith("| parent "))
    assert "(paired, 5 pairs)" in parent_row and "**better**" in parent_row
    assert f"Against `{PARENT}` (paired, 5 pairs): the interval is the 95% CI of the mean " \
           "pair difference" in body
    assert "The same passes read as two separate runs:" in body
    leader_row = next(line for line in body.splitlines() if line.startswith("| leader "))
    assert "paired" not in leader_row  # bob/x was measured separately
