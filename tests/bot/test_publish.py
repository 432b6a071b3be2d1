"""Publishing a run's result, fetch-submission, and the results branch under concurrency."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import submission_yaml

from arena import exitcodes
from arena.submission import validate_file
from bot import labels
from bot.fetch import fetch_submission
from bot.publish import publish
from bot.results_branch import append_record
from bot.validation import base_index
from helpers import HOSTILE, assert_neutralized, make_result

PATH = "submissions/alice/fast.yaml"


def config_sha(challenge, raw=None):
    r = validate_file(raw or submission_yaml(), path_in_repo=PATH, challenge=challenge,
                      index=base_index(challenge))
    return r.submission.config_sha256()


@pytest.fixture
def queued(fake, bot, comment_event, validate):
    """A PR with a /bench accepted by a maintainer: its run id is the publishing run's."""
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    validate(bot, pr.number)
    from bot.commands import on_issue_comment
    on_issue_comment(bot, comment_event(pr.number, "/bench", "arena-maintainers"))
    run = fake.runs[-1]
    bot.run_id = str(run.id)
    return pr


def bench_checks(fake):
    return [c for c in fake.check_runs.values() if c["name"] == "arena/benchmark"]


def write(tmp_path, doc):
    p = tmp_path / "result.json"
    p.write_text(json.dumps(doc))
    return p


def test_a_verified_result_is_stored_announced_and_the_site_rebuilt(
        fake, bot, queued, challenge, tmp_path):
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=config_sha(challenge),
                      tps=123.4)
    rc = publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
                 result_file=write(tmp_path, doc), bench_outcome="success",
                 requested_by="arena-maintainers")
    assert rc == exitcodes.OK
    stored = json.loads(fake.branch_files["results"][f"results/alice/fast/{doc['run_id']}.json"])
    assert stored["submission"]["commit"] == queued.head_sha
    assert stored["provenance"]["pr"] == queued.number
    assert stored["provenance"]["requested_by"] == "arena-maintainers"
    validation_c, queued_c, result_c = fake.bot_comments(queued.number)
    assert "finished (verified)" in queued_c.body
    assert "123.4 tokens/s" in result_c.body and "<details>" in result_c.body
    assert json.dumps(stored["tps"]["private"]["median"]) in result_c.body
    [check] = bench_checks(fake)  # the queued check run, completed
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert labels.BENCHMARK["verified"] in fake.labels_of(queued.number)
    assert labels.BENCHMARK["queued"] not in fake.labels_of(queued.number)
    assert fake.dispatches[-1]["workflow"] == "site.yml"
    # publishing again (a re-run of the job) duplicates nothing
    rc = publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
                 result_file=write(tmp_path, doc), bench_outcome="success",
                 requested_by="arena-maintainers")
    assert rc == exitcodes.OK
    assert len(fake.bot_comments(queued.number)) == 3
    assert len([p for p in fake.branch_files["results"] if p.startswith("results/")]) == 1


def test_rank_is_shown_when_a_store_checkout_is_given(fake, bot, queued, challenge, tmp_path):
    from arena.store import ResultsStore
    store = ResultsStore(tmp_path / "store")
    store.append_result(make_result("bob/x", path="submissions/bob/x.yaml", commit=None,
                                    config_sha256="2" * 64, tps=200.0, run_id="r-bob"))
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=config_sha(challenge))
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=write(tmp_path, doc), bench_outcome="success", store_dir=store.root)
    assert "rank **2** of 2" in fake.bot_comments(queued.number)[-1].body


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(verdict="maybe"), "verdict"),
    (lambda d: d["submission"].update(id="bob/fast"), "but the run was for"),
    (lambda d: d["submission"].update(config_sha256="f" * 64), "measured something else"),
    (lambda d: d["challenge"].update(hardware="h100"), "hardware label"),
    (lambda d: d["submission"].update(commit="0" * 40), "approved commit"),
])
def test_untrusted_results_are_checked_before_anything_reads_them(
        fake, bot, queued, challenge, tmp_path, mutate, words):
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=config_sha(challenge))
    mutate(doc)
    rc = publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
                 result_file=write(tmp_path, doc), bench_outcome="success")
    assert rc == exitcodes.INVALID
    assert not [p for p in fake.branch_files.get("results", {}) if p.startswith("results/")]
    body = fake.bot_comments(queued.number)[-1].body
    assert "Result rejected" in body and words in body
    assert [c["conclusion"] for c in bench_checks(fake)] == ["failure"]


def test_hostile_text_in_a_result_is_neutralized(fake, bot, queued, challenge, tmp_path):
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=config_sha(challenge),
                      verdict="invalid", reasons=[{"check": "fidelity", "message": HOSTILE}])
    doc["checks"][0]["message"] = HOSTILE
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=write(tmp_path, doc), bench_outcome="success")
    body = fake.bot_comments(queued.number)[-1].body
    assert "Run invalid" in body and "onerror" in body
    assert_neutralized(body)
    assert labels.BENCHMARK["invalid"] in fake.labels_of(queued.number)


@pytest.mark.parametrize("outcome, push, words, recorded", [
    ("failure", True, "head moved", False),
    ("failure", False, "recorded as an error", True),
    ("cancelled", False, "recorded as an error", True),
    ("skipped", False, "did not run", False),
])
def test_every_run_ends_with_a_message_even_without_a_result(
        fake, bot, queued, tmp_path, outcome, push, words, recorded):
    # Deliberate change (issue 13, point 4): a failed or cancelled run is now recorded as an
    # error result naming the stage it reached, instead of leaving no trace.
    if push:
        fake.push(queued.number, {PATH: submission_yaml(description="changed")})
    assert publish(bot, pr=queued.number, sha=queued.head_sha if not push else
                   fake.runs[-1].inputs["sha"], path=PATH, result_file=tmp_path / "none.json",
                   bench_outcome=outcome) == exitcodes.NOTHING_MEASURED
    body = fake.bot_comments(queued.number)[-1].body
    assert words in body and "**Next:**" in body
    stored = [p for p in fake.branch_files.get("results", {}) if p.startswith("results/")]
    assert bool(stored) is recorded
    if recorded:
        doc = json.loads(fake.branch_files["results"][stored[0]])
        assert doc["verdict"] == "error" and "before the run started" in doc["reasons"][0]["message"]


def stage_file(tmp_path, stage, run_id="20261122T101500Z-5e5e5e5e"):
    p = tmp_path / "stage.json"
    p.write_text(json.dumps({"format": "arena.stage/1", "run_id": run_id, "stage": stage,
                             "updated_at": "2026-11-22T10:20:00Z"}))
    return p


def test_a_run_cancelled_after_it_started_is_recorded_with_its_stage(
        fake, bot, queued, tmp_path):
    """The attack: watch the log, /cancel a run that is going to fail, probe again. The run
    still leaves an error record that says how far it got."""
    stage_file(tmp_path, "referee")
    rc = publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
                 result_file=tmp_path / "result.json", bench_outcome="cancelled",
                 requested_by="arena-maintainers", store_dir=None)
    assert rc == exitcodes.NOTHING_MEASURED
    path = "results/alice/fast/20261122T101500Z-5e5e5e5e.json"
    doc = json.loads(fake.branch_files["results"][path])
    assert doc["verdict"] == "error" and doc["submission"]["commit"] == queued.head_sha
    assert "was cancelled" in doc["reasons"][0]["message"]
    assert "`referee`" in doc["reasons"][0]["message"]
    assert doc["provenance"]["requested_by"] == "arena-maintainers"
    body = fake.bot_comments(queued.number)[-1].body
    assert "Run stopped without a result" in body and "`referee`" in body
    assert labels.BENCHMARK["error"] in fake.labels_of(queued.number)
    # publishing again (a re-run of the job) keeps the one record
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=tmp_path / "result.json", bench_outcome="cancelled",
            requested_by="arena-maintainers", store_dir=None)
    assert [p for p in fake.branch_files["results"] if p.startswith("results/")] == [path]


def test_a_stage_file_naming_another_runs_id_cannot_borrow_its_record(
        fake, bot, queued, challenge, tmp_path):
    """The stage file comes from the GPU machine: if it names the id of a stored verified run,
    publish records this run under its own id and never announces the other's result."""
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=config_sha(challenge),
                      run_id="20261122T101500Z-5e5e5e5e")
    first_run = bot.run_id
    bot.run_id = "1"
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=write(tmp_path, doc), bench_outcome="success", requested_by="x")
    bot.run_id = first_run
    (tmp_path / "result.json").unlink()
    stage_file(tmp_path, "time", run_id=doc["run_id"])
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=tmp_path / "result.json", bench_outcome="cancelled",
            requested_by="x", store_dir=None)
    ours = json.loads(fake.branch_files["results"][f"results/alice/fast/gh-{first_run}.json"])
    assert ours["verdict"] == "error"
    assert "Run stopped without a result" in fake.bot_comments(queued.number)[-1].body


@pytest.mark.parametrize("text", [
    b"{", b"\xff\xfe", b"[]", json.dumps({"format": "arena.stage/1", "stage": "rm -rf"}).encode(),
    json.dumps({"format": "arena.stage/1", "stage": "time", "run_id": "../../etc",
                "updated_at": "yesterday"}).encode(),
    b"[" * 100000,
])
def test_a_hostile_stage_file_still_leaves_a_record(fake, bot, queued, tmp_path, text):
    (tmp_path / "stage.json").write_bytes(text)
    publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH,
            result_file=tmp_path / "result.json", bench_outcome="failure",
            requested_by="x", store_dir=None)
    [path] = [p for p in fake.branch_files["results"] if p.startswith("results/")]
    assert path == f"results/alice/fast/gh-{bot.run_id}.json"
    doc = json.loads(fake.branch_files["results"][path])
    assert doc["verdict"] == "error"


def test_two_runs_publishing_at_once_both_land(fake, make_bot, challenge):
    fake.write_window = 0.2  # GitHub moves the branch between reading and writing
    bots = [make_bot(challenge) for _ in range(2)]
    docs = [{"n": i} for i in range(2)]
    errors = []
    start = threading.Barrier(2)  # both begin together, so that their first writes collide

    def go(i):
        try:
            start.wait(timeout=60)
            for k in range(3):
                append_record(bots[i], f"results/x/y/run-{i}-{k}.json", docs[i], "add")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    fake.branches["results"] = "0" * 40
    fake.branch_files["results"] = {}
    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(fake.branch_files["results"]) == sorted(
        f"results/x/y/run-{i}-{k}.json" for i in range(2) for k in range(3))
    assert any(c.status == 409 for c in fake.calls_to("repos/create-or-update-file-contents"))


def test_fetch_submission_refuses_a_moved_head_and_reads_only(fake, make_bot, challenge, tmp_path):
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    approved = pr.head_sha
    bot = make_bot(challenge, token="read-token")
    out = tmp_path / "sub" / "fast.yaml"
    assert fetch_submission(bot, pr=pr.number, sha=approved, path=PATH, out=out) == exitcodes.OK
    assert out.read_bytes() == submission_yaml()
    fake.push(pr.number, {PATH: submission_yaml(description="swapped after approval")})
    out2 = tmp_path / "again.yaml"
    assert fetch_submission(bot, pr=pr.number, sha=approved, path=PATH, out=out2) == \
        exitcodes.INVALID
    assert not out2.exists()
    assert all(c.method == "GET" for c in fake.calls)


def test_fetch_submission_refuses_a_symlink_and_a_bad_path(fake, make_bot, challenge, tmp_path):
    from fakegithub import Entry
    pr = fake.open_pull("alice", {PATH: Entry("symlink", target="/etc/shadow")})
    bot = make_bot(challenge, token="read-token")
    assert fetch_submission(bot, pr=pr.number, sha=pr.head_sha, path=PATH,
                            out=tmp_path / "x") == exitcodes.INVALID
    assert fetch_submission(bot, pr=pr.number, sha=pr.head_sha, path="../../etc/passwd",
                            out=tmp_path / "x") == exitcodes.INVALID
    assert not (tmp_path / "x").exists()
