"""The bench workflow's track (issue 16): the dispatch names a track, never a runner label; the
approve job resolves the label from challenge.yaml (`arena track`) and the GPU job runs on it.
The resolving step's own script is run here, with the real `arena` on PATH."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

TWO_TRACKS = REPO / "tests" / "tracks" / "challenge.yaml"


def _resolve_step(workflows) -> dict:
    [step] = [s for s in workflows["bench.yml"]["jobs"]["approve"]["steps"]
              if s.get("id") == "track"]
    return step


def _run_step(step: dict, tmp_path: Path, challenge: Path, track: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    arena = bin_dir / "arena"
    arena.write_text(f"#!/bin/sh\nexec {sys.executable} -m arena \"$@\"\n")
    arena.chmod(arena.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "github_output"
    out.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "ARENA_CHALLENGE": str(challenge), "RUNNER_TEMP": str(tmp_path),
           "GITHUB_OUTPUT": str(out), "REQUESTED_TRACK": track}
    assert set(step["env"]) == {"REQUESTED_TRACK"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return done, outputs


@pytest.mark.parametrize("track,label", [("", "a10g"), ("a10g", "a10g"), ("l4", "l4")])
def test_the_track_label_comes_from_challenge_yaml(workflows, tmp_path, track, label):
    done, outputs = _run_step(_resolve_step(workflows), tmp_path, TWO_TRACKS, track)
    assert done.returncode == 0, done.stderr
    assert outputs == {"track": track or "a10g", "label": label}


def test_a_track_the_challenge_lacks_stops_before_the_gpu(workflows, tmp_path):
    done, outputs = _run_step(_resolve_step(workflows), tmp_path, TWO_TRACKS, "h100")
    assert done.returncode != 0 and outputs == {}
    assert "'h100' is not a track of this challenge" in done.stderr


def test_a_one_track_challenge_runs_on_its_hardware_label(workflows, tmp_path):
    done, outputs = _run_step(_resolve_step(workflows), tmp_path, REPO / "challenge.yaml", "")
    assert done.returncode == 0 and outputs == {"track": "a10g", "label": "a10g"}


def test_the_gpu_job_takes_the_resolved_track_and_label(workflows):
    jobs = workflows["bench.yml"]["jobs"]
    approve, bench = jobs["approve"], jobs["bench"]
    assert approve["outputs"] == {"track": "${{ steps.track.outputs.track }}",
                                  "label": "${{ steps.track.outputs.label }}"}
    assert bench["runs-on"] == ["self-hosted", "${{ needs.approve.outputs.label }}"]
    [measure] = [s for s in bench["steps"] if "arena bench" in str(s.get("run"))]
    assert measure["env"]["TRACK"] == "${{ needs.approve.outputs.track }}"
    assert '--track "$TRACK"' in measure["run"]
    # the dispatch's track input reaches the GPU job only through the approve job's checks
    text = str(bench)
    assert "inputs.track" not in text
