"""The site's model: statuses, lineage, change against the parent, configuration diffs, and
agreement with the canonical ranking."""

from __future__ import annotations

import datetime as dt

import pytest

from arena.challenge import ModelRef, load_challenge
from arena.submission import Submission
from tests.support import sample
from leaderboard.model import SubmissionFile, build_model, config_diff
from leaderboard.ranking import rank

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    return load_challenge(sample.challenge_folder(tmp_path_factory.mktemp("ch")))


def sub_file(sid: str, *, parent: str | None = None, args=None, description="d",
             tags=()) -> SubmissionFile:
    login, name = sid.split("/")
    s = Submission(login=login, name=name, description=description,
                   model=ModelRef("google/gemma-4-E4B-it", sample.BASE_REVISION),
                   engine_name="vllm", engine_version="0.32.0", engine_args=dict(args or {}),
                   parent=parent, tags=tuple(tags),
                   path=f"submissions/{login}/{name}.yaml")
    return SubmissionFile(s, f"name: {name}\n", s.path)


def model_of(challenge, files, results, verdicts=()):
    return build_model(challenge, {f.submission.id: f for f in files},
                       [(f"results/{r['submission']['id']}/{r['run_id']}.json", r)
                        for r in results], list(verdicts), now=NOW)


def test_each_submission_gets_the_status_a_reader_should_see(challenge, run, verdict):
    files = [sub_file(s) for s in ("a/verified", "a/invalid", "a/error", "a/pending",
                                    "a/withdrawn", "a/disqualified", "a/mixed")]
    results = [
        run("a/verified", 200.0),
        run("a/invalid", 300.0, verdict="invalid", reasons=[("greedy_fidelity", "diverged")]),
        run("a/error", None, verdict="error", reasons=[("engine", "crashed at start-up")]),
        run("a/withdrawn", 150.0), run("a/disqualified", 150.0),
        # An old verified run and a newer failure: still verified (it has a ranked run).
        run("a/mixed", 120.0, day=1), run("a/mixed", None, day=2, verdict="error",
                                           reasons=[("engine", "timeout")]),
    ]
    v = [verdict("a/withdrawn", "withdraw", reason="superseded"),
         verdict("a/disqualified", "disqualify", reason="served cached answers")]
    m = model_of(challenge, files, results, v)
    got = {sid: s.status for sid, s in m.submissions.items()}
    assert got == {"a/verified": "verified", "a/invalid": "invalid", "a/error": "error",
                   "a/pending": "pending", "a/withdrawn": "withdrawn",
                   "a/disqualified": "disqualified", "a/mixed": "verified"}
    assert m.submissions["a/invalid"].reasons == ("diverged",)
    assert m.submissions["a/error"].reasons == ("crashed at start-up",)
    assert m.submissions["a/disqualified"].reasons == (
        "disqualified by arena-maintainers: served cached answers",)
    assert m.counts["pending"] == 1 and m.counts["submissions"] == 7


def test_the_site_ranks_exactly_as_the_bot_does(challenge, run, verdict):
    results = [run("a/x", 200.0, day=1), run("b/y", 202.0, day=2), run("c/z", 100.0),
               run("d/w", 500.0, hardware="l4"), run("e/v", 300.0, day=3)]
    v = [verdict("e/v", "invalidate", reason="proxy")]
    m = model_of(challenge, [], results, v)
    bot = rank(results, v, hardware=challenge.hardware, noise=challenge.noise)
    assert [(e.rank, e.submission_id, e.run_id) for e in m.entries] == [
        (e.rank, e.submission_id, e.run_id) for e in bot]
    # The ranked run is marked, and a run on other hardware is kept but not counted.
    ranked = [r for r in m.runs if r.ranked]
    assert {(r.submission_id, r.run_id) for r in ranked} == {
        (e.submission_id, e.run_id) for e in bot}
    l4 = next(r for r in m.runs if r.submission_id == "d/w")
    assert not l4.here and m.submissions["d/w"].status == "pending"


def test_change_against_the_parent_uses_both_best_verified_runs(challenge, run):
    files = [sub_file("a/base"), sub_file("b/child", parent="a/base")]
    results = [run("a/base", 100.0), run("a/base", 80.0, day=2),
               run("b/child", 125.0), run("b/child", 300.0, day=3, verdict="invalid",
                                            reasons=[("scoring_consistency", "x")])]
    m = model_of(challenge, files, results)
    child = m.submissions["b/child"]
    assert child.change == pytest.approx(0.25)
    assert m.submissions["a/base"].children == ["b/child"]


@pytest.mark.parametrize("parent_case, note", [
    ("no-run", "parent has no verified run"),
    ("invalid", "parent has no verified run"),
    ("withdrawn", "parent withdrawn"),
    ("public-only", "measured on different prompt sets"),
])
def test_no_change_when_the_parent_has_no_comparable_number(challenge, run, verdict,
                                                            parent_case, note):
    files = [sub_file("a/base"), sub_file("b/child", parent="a/base")]
    results = [run("b/child", 125.0)]
    v = []
    if parent_case == "invalid":
        results.append(run("a/base", 100.0, verdict="invalid", reasons=[("x", "y")]))
    elif parent_case == "withdrawn":
        results.append(run("a/base", 100.0))
        v.append(verdict("a/base", "withdraw"))
    elif parent_case == "public-only":
        results.append(run("a/base", 100.0, only_public=True))
    m = model_of(challenge, files, results, v)
    child = m.submissions["b/child"]
    assert child.change is None and child.change_note == note
    assert child.entry is not None  # still ranked on its own


def test_a_missing_parent_puts_the_submission_at_the_top_of_the_tree_with_a_note(challenge, run):
    files = [sub_file("a/orphan", parent="gone/away"), sub_file("a/root")]
    m = model_of(challenge, files, [run("a/orphan", 150.0), run("a/root", 100.0)])
    orphan = m.submissions["a/orphan"]
    assert orphan.parent_note == "its parent gone/away has no valid submission file"
    assert orphan.change is None and orphan.change_note == "parent not found"
    assert orphan.diff is None and orphan.depth == 0
    assert [e.submission_id for e in m.entries] == ["a/orphan", "a/root"]


def test_the_tree_lists_parents_before_children_oldest_first(challenge, run):
    files = [sub_file("r/root"), sub_file("a/one", parent="r/root"),
             sub_file("b/two", parent="r/root"), sub_file("c/grand", parent="b/two"),
             sub_file("d/pending", parent="r/root")]
    results = [run("r/root", 100.0, day=1), run("a/one", 110.0, day=5),
               run("b/two", 120.0, day=3), run("c/grand", 130.0, day=4)]
    m = model_of(challenge, files, results)
    assert [(s.id, s.depth) for s in m.tree] == [
        ("r/root", 0), ("b/two", 1), ("c/grand", 2), ("a/one", 1), ("d/pending", 1)]


def test_a_loop_of_parents_cannot_hang_the_tree(challenge):
    # The validator refuses loops, but files edited together can still arrive as one.
    files = [sub_file("a/x", parent="b/y"), sub_file("b/y", parent="a/x"), sub_file("c/z")]
    m = model_of(challenge, files, [])
    assert sorted(s.id for s in m.tree) == ["a/x", "b/y", "c/z"]
    assert m.submissions["a/x"].parent_note == "its lineage loops back on itself"


def test_a_lineage_deeper_than_the_recursion_limit_is_fine(challenge):
    files = [sub_file("a/n0")] + [sub_file(f"a/n{i}", parent=f"a/n{i - 1}")
                                  for i in range(1, 3000)]
    m = model_of(challenge, files, [])
    assert m.tree[-1].id == "a/n2999" and m.tree[-1].depth == 2999


def test_results_whose_file_is_gone_still_show_from_their_runs(challenge, run):
    m = model_of(challenge, [], [run("a/deleted", 150.0)])
    s = m.submissions["a/deleted"]
    assert s.file is None and s.config == s.runs[0].doc["submission"]["config"]
    assert s.entry is not None and s.entry.rank == 1


def test_config_diff_names_every_changed_setting():
    old = sample.config(args={"max_model_len": 4096, "speculative_config": {
        "method": "ngram", "num_speculative_tokens": 3}, "enforce_eager": True})
    new = sample.config(args={"max_model_len": 8192, "speculative_config": {
        "method": "ngram", "num_speculative_tokens": 5}, "kv_cache_dtype": "fp8"})
    got = [(c.path, c.kind, c.old, c.new) for c in config_diff(old, new)]
    assert got == [
        ("engine.args.enforce_eager", "removed", "true", None),
        ("engine.args.kv_cache_dtype", "added", None, '"fp8"'),
        ("engine.args.max_model_len", "changed", "4096", "8192"),
        ("engine.args.speculative_config.num_speculative_tokens", "changed", "3", "5"),
    ]
    assert config_diff(old, old) == []


def test_config_diff_tells_one_from_true():
    a = sample.config(args={"enforce_eager": 1})
    b = sample.config(args={"enforce_eager": True})
    assert [c.kind for c in config_diff(a, b)] == ["changed"]


def test_pareto_front_and_records_reach_the_model(challenge, run):
    results = [run("a/fast", 300.0, ppl=2.40, day=2), run("b/exact", 150.0, ppl=2.30, day=1),
               run("c/beaten", 140.0, ppl=2.35, day=3)]
    m = model_of(challenge, [], results)
    assert {s.id for s in m.submissions.values() if s.on_front} == {"a/fast", "b/exact"}
    assert [r.submission_id for r in m.records] == ["b/exact", "a/fast"]
