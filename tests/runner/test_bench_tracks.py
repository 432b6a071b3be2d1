"""`arena bench --track NAME` (issue 16): the result names the track and carries the track's
runner label as its hardware; a one-track challenge's result reads as before; an unknown track
or one the submission does not target is refused before anything is downloaded."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from arena.challenge import load_challenge
from arena.commands import validate_paths
from arena.result import validate_result
from runner.context import BenchPlan, Run

from runner.verdict import result_document
from tests.conftest import REPO
from tests.support import sample

def _run(challenge, sub, track):
    t0 = time.monotonic()
    return Run(BenchPlan(sub, challenge, [], track=track), "20261201T000000Z-abcdef12",
               Path("/nonexistent"), lambda _: None, lambda spec: None,
               dt.datetime.now(dt.timezone.utc), t0, t0 + 60)


def _sub(challenge, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(sample.submission_yaml("plain", description="bf16, stock settings"))
    [report] = validate_paths([path], challenge)
    assert report.valid, [p.format() for p in report.problems]
    return report.submission


def test_the_result_names_the_track_and_its_runner_label(tmp_path):
    ch = load_challenge(sample.challenge_folder(tmp_path / "two", source=sample.TWO_TRACKS))
    sub = _sub(ch, tmp_path)
    for track, label in ((None, "a10g"), ("a10g", "a10g"), ("l4", "l4")):
        run = _run(ch, sub, track)
        run.fail("error", "engine", "not started")  # a result without figures is enough here
        doc = result_document(run, [], [])
        assert doc["challenge"] == {"id": ch.id, "hardware": label, "track": track or "a10g"}
        assert doc["fingerprint"]["hardware"] == label
        validate_result(doc)


def test_a_one_track_result_has_no_track_field(tmp_path):
    ch = load_challenge(REPO / "challenge.yaml")
    sub = _sub(ch, tmp_path)
    run = _run(ch, sub, "a10g")
    run.fail("error", "engine", "not started")
    doc = result_document(run, [], [])
    assert doc["challenge"] == {"id": ch.id, "hardware": "a10g"}


def _bench(challenge: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", "bench", *args, "--challenge",
                           str(challenge)], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)


def test_bench_refuses_an_unknown_or_untargeted_track(tmp_path):
    ch_path = sample.challenge_folder(tmp_path / "two", source=sample.TWO_TRACKS)
    sub = sample.write_submission(ch_path.parent, "alice", "l4-only", description="l4 only",
                                  tracks=["l4"])
    p = _bench(ch_path, str(sub), "--track", "h100")
    assert p.returncode == 2, p.stderr
    assert "'h100' is not a track of this challenge" in p.stderr and "a10g, l4" in p.stderr
    p = _bench(ch_path, str(sub), "--track", "a10g")
    assert p.returncode == 2 and "targets the tracks l4" in p.stderr, p.stderr
    p = _bench(ch_path, str(sub))  # no --track: the first track, which it does not target
    assert p.returncode == 2 and "not a10g" in p.stderr, p.stderr
    assert not list(tmp_path.glob("**/result.json"))
