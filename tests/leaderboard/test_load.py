"""Reading the inputs: the same outcome as the shared validators, with or without the cache and
worker processes."""

from __future__ import annotations

import json
import marshal

import pytest

from arena.challenge import load_challenge
from arena.store import ResultsStore
from arena.submission import SubmissionIndex, validate_file
from leaderboard import load, parallel
from tests.support import sample


def reference_files(challenge):
    """What validating every file against SubmissionIndex.scan gives: the contract."""
    index = SubmissionIndex.scan(challenge.submissions_dir)
    out = {}
    for f in sorted(challenge.submissions_dir.glob("*/*.yaml")):
        rel = f.relative_to(challenge.root).as_posix()
        rep = validate_file(f.read_bytes(), path_in_repo=rel, challenge=challenge, index=index)
        if rep.valid:
            out[rep.submission.id] = rep.submission
    return out


@pytest.fixture
def tricky(tmp_path):
    """Submissions whose validity depends on other files: a valid chain, a file naming a
    parent that does not exist, an invalid parent with a valid child, and a loop written by
    hand into two files that also name each other."""
    root = tmp_path / "ch"
    path = sample.challenge_folder(root)
    w = lambda login, name, **kw: sample.write_submission(root, login, name,  # noqa: E731
                                                            description="x", **kw)
    w("a", "base")
    w("b", "child", parent="a/base")
    w("c", "grandchild", parent="b/child")
    w("d", "orphan", parent="nobody/here")
    w("e", "broken", args={"trust_remote_code": True})  # forbidden: invalid
    w("f", "of-broken", parent="e/broken")  # valid: the parent file exists
    w("g", "loop-a", parent="h/loop-b")
    w("h", "loop-b", parent="g/loop-a")
    (root / "submissions" / "i").mkdir()
    (root / "submissions" / "i" / "bad-yaml.yaml").write_text("name: [unclosed\n")
    return load_challenge(path)


def test_one_pass_validation_matches_validating_against_the_full_index(tricky):
    warnings = []
    got = load.load_submission_files(tricky, warnings.append)
    want = reference_files(tricky)
    assert set(got) == set(want) == {"a/base", "b/child", "c/grandchild", "f/of-broken"}
    for sid, sf in got.items():
        assert sf.submission == want[sid]
    skipped = sorted(w.split(":")[0] for w in warnings)
    assert skipped == ["submissions/d/orphan.yaml", "submissions/e/broken.yaml",
                       "submissions/g/loop-a.yaml", "submissions/h/loop-b.yaml",
                       "submissions/i/bad-yaml.yaml"]
    loop = next(w for w in warnings if "loop-a" in w)
    assert "cycle" in loop  # the validator's own message, from the second check


def test_the_cache_gives_the_same_outcome_and_skips_known_files(tricky, tmp_path):
    cache_file = tmp_path / "cache.json"
    c1 = load.ValidationCache(cache_file)
    first = load.load_submission_files(tricky, lambda m: None, cache=c1)
    c1.save()
    assert c1.hits == 0 and c1.misses == 9
    c2 = load.ValidationCache(cache_file)
    warnings = []
    second = load.load_submission_files(tricky, warnings.append, cache=c2)
    # Valid files come from the cache; invalid ones are always checked again.
    assert c2.hits == 6 and c2.misses == 3
    assert {k: v.submission for k, v in second.items()} == {
        k: v.submission for k, v in first.items()}
    assert len(warnings) == 5


def test_a_cached_file_is_checked_again_when_its_parent_disappears(tricky, tmp_path):
    cache_file = tmp_path / "cache.json"
    c = load.ValidationCache(cache_file)
    load.load_submission_files(tricky, lambda m: None, cache=c)
    c.save()
    (tricky.submissions_dir / "a" / "base.yaml").unlink()
    c = load.ValidationCache(cache_file)
    warnings = []
    got = load.load_submission_files(tricky, warnings.append, cache=c)
    assert "b/child" not in got and set(reference_files(tricky)) == set(got)
    assert any("b/child" in w and "not an existing submission" in w for w in warnings)


def test_a_changed_file_or_challenge_is_validated_again(tricky, tmp_path):
    cache_file = tmp_path / "cache.json"
    c = load.ValidationCache(cache_file)
    load.load_submission_files(tricky, lambda m: None, cache=c)
    c.save()
    f = tricky.submissions_dir / "a" / "base.yaml"
    f.write_text(f.read_text().replace('description: "x"', 'description: "changed"'))
    c = load.ValidationCache(cache_file)
    got = load.load_submission_files(tricky, lambda m: None, cache=c)
    assert got["a/base"].submission.description == "changed"
    assert c.misses == 4  # the changed file and the three invalid ones
    tricky.path.write_text(tricky.path.read_text() + "\n# an edit\n")
    c = load.ValidationCache(cache_file)
    load.load_submission_files(load_challenge(tricky.path), lambda m: None, cache=c)
    assert c.hits == 0


def test_a_cache_from_other_validator_code_is_ignored(tricky, tmp_path):
    cache_file = tmp_path / "cache.json"
    c = load.ValidationCache(cache_file)
    load.load_submission_files(tricky, lambda m: None, cache=c)
    c.save()
    assert load.ValidationCache(cache_file).submissions != {}
    doc = marshal.loads(cache_file.read_bytes())
    doc["fingerprint"] = "0" * 64
    cache_file.write_bytes(marshal.dumps(doc))
    assert load.ValidationCache(cache_file).submissions == {}
    cache_file.write_bytes(marshal.dumps(doc)[:50])
    assert load.ValidationCache(cache_file).results == {}


def test_worker_processes_give_the_same_outcome(tricky, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 2)
    assert parallel.worker_count(9, 2) == 2
    got = load.load_submission_files(tricky, lambda m: None, jobs=2)
    assert {k: v.submission for k, v in got.items()} == reference_files(tricky)


@pytest.fixture
def store_with_junk(tmp_path, run):
    store = ResultsStore(tmp_path / "store")
    for i in range(5):
        store.append_result(run(f"a/s{i}", 100.0 + i, day=i + 1))
    bad = store.results_dir / "a" / "s0" / "not-json.json"
    bad.write_text("{")
    doc = run("a/s1", 1.0, day=9)
    doc["verdict"] = "great"  # not in the schema
    (store.results_dir / "a" / "s1" / "bad-verdict.json").write_text(json.dumps(doc))
    return store


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_read_with_the_cache_equal_the_stores_own_reading(store_with_junk, tmp_path,
                                                                  monkeypatch, jobs):
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 2)
    plain, verdicts = load.load_store(store_with_junk)
    assert len(plain) == 5 and [d for _, d in plain] == [
        s.doc for s in store_with_junk.results()]
    c = load.ValidationCache(tmp_path / "c.json")
    cached, _ = load.load_store(store_with_junk, cache=c, jobs=jobs)
    assert cached == plain and c.misses == 7
    c.save()
    c = load.ValidationCache(tmp_path / "c.json")
    again, _ = load.load_store(store_with_junk, cache=c, jobs=jobs)
    assert again == plain and (c.hits, c.misses) == (5, 2)
    assert plain[0][0] == "results/a/s0/" + plain[0][1]["run_id"] + ".json"


def test_an_empty_or_missing_store_reads_as_nothing(tmp_path):
    assert load.load_store(ResultsStore(tmp_path / "none")) == ([], [])
    c = load.ValidationCache(None)
    assert load.load_store(ResultsStore(tmp_path / "none"), cache=c) == ([], [])


def test_loop_detection_agrees_with_the_index_walk():
    import random
    rnd = random.Random(5)
    for _ in range(300):
        ids = [f"a/n{i}" for i in range(rnd.randint(1, 12))]
        parents = {sid: rnd.choice(ids + [None, "gone/x"]) for sid in ids}
        index = SubmissionIndex(parents)
        want = {sid for sid, p in parents.items() if p and index.ancestry_reaches(p, sid)}
        assert load.on_cycles(parents) == want, parents
