"""Control runs on the fake GitHub: the control workflow's dispatch goes through the bench
workflow with pr 0, and the publish job stores a control under controls/<track>/ (never in the
ranked results), refusing a result that is not the control it asked for."""

from __future__ import annotations

import json

from arena import exitcodes
from arena.submission import validate_file
from bot.control import dispatch_controls, publish_control
from helpers import make_result

CONTROL = "submissions/arena-maintainers/bf16-baseline.yaml"
SHA = "0123456789abcdef0123456789abcdef01234567"


def control_doc(challenge, **kw):
    raw = (challenge.root / CONTROL).read_bytes()
    cfg = validate_file(raw, path_in_repo=CONTROL, challenge=challenge).submission.config_sha256()
    return make_result("arena-maintainers/bf16-baseline", path=CONTROL, commit=None,
                       config_sha256=cfg, **kw)


def test_control_dispatch_runs_the_bench_workflow_with_pr_0(fake, bot):
    assert dispatch_controls(bot, sha=SHA) == exitcodes.OK
    [d] = fake.dispatches
    assert d["workflow"] == "bench.yml"
    assert d["inputs"] == {"pr": "0", "sha": SHA, "path": CONTROL,
                           "requested_by": "arena-control"}
    assert fake.runs[-1].display_title == f"bench #0 {CONTROL}@{SHA} by arena-control"


def test_a_control_result_is_stored_apart_and_the_site_rebuilt(fake, bot, challenge, tmp_path):
    doc = control_doc(challenge, tps=301.5, run_id="20261201T041700Z-aaaa0001")
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc))
    assert publish_control(bot, sha=SHA, path=CONTROL, result_file=f,
                           bench_outcome="success") == exitcodes.OK
    files = fake.branch_files["results"]
    stored = json.loads(files["controls/a10g/20261201T041700Z-aaaa0001.json"])
    assert stored["provenance"]["control"] is True and stored["provenance"]["pr"] is None
    assert not [p for p in files if p.startswith("results/")]  # never among ranked results
    assert fake.dispatches[-1]["workflow"] == "site.yml"
    assert not fake.comments  # no pull request to answer


def test_a_result_for_another_submission_is_not_taken_as_a_control(fake, bot, challenge,
                                                                   tmp_path):
    doc = make_result("alice/fast", path="submissions/alice/fast.yaml", commit=None,
                      config_sha256="3" * 64)
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc))
    assert publish_control(bot, sha=SHA, path=CONTROL, result_file=f,
                           bench_outcome="success") == exitcodes.INVALID
    assert "results" not in fake.branch_files
    # nor a control file other than challenge.yaml's
    assert publish_control(bot, sha=SHA, path="submissions/alice/fast.yaml", result_file=f,
                           bench_outcome="success") == exitcodes.INVALID


def test_a_control_that_measured_another_configuration_is_refused(fake, bot, challenge,
                                                                  tmp_path):
    doc = control_doc(challenge)
    doc["submission"]["config_sha256"] = "4" * 64
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc))
    assert publish_control(bot, sha=SHA, path=CONTROL, result_file=f,
                           bench_outcome="success") == exitcodes.INVALID
    assert "results" not in fake.branch_files


def test_a_control_that_measured_nothing_stores_nothing(fake, bot, tmp_path):
    assert publish_control(bot, sha=SHA, path=CONTROL, result_file=tmp_path / "missing.json",
                           bench_outcome="failure") == exitcodes.NOTHING_MEASURED
    assert "results" not in fake.branch_files


def test_a_two_track_challenge_gets_one_control_run_per_track(fake, make_bot,
                                                              make_tracks_challenge):
    bot = make_bot(make_tracks_challenge())
    assert bot.challenge.controls is not None
    assert dispatch_controls(bot, sha=SHA) == exitcodes.OK
    assert [d["inputs"].get("track") for d in fake.dispatches] == ["a10g", "l4"]
