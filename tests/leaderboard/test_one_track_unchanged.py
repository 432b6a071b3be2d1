"""A one-track challenge reads exactly as before tracks (issue 16): its board, its JSON API and
every page of its site are byte for byte what an earlier commit builds from the same inputs.

The earlier commit is named by ARENA_BASELINE_REF (e.g. `ARENA_BASELINE_REF=main`, or the
commit a branch started from): the test extracts it with `git archive`, builds the same
synthetic one-track challenge with both codebases and compares the two sites file by file.
Without the variable it is skipped: which commit is "before" is the person running it's to
say (a branch that deliberately changes the site compares against its own start).

Always on: the same challenge written with `tracks:` (one track) builds the same site as with
`hardware:`, and its API documents carry no track fields."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tarfile
import io
from pathlib import Path

import pytest

from arena.challenge import load_challenge
from leaderboard import site
from tests.support import sample

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
BUILD = """
import datetime as dt, sys
from pathlib import Path
from arena.challenge import load_challenge
from leaderboard.site import build_site
build_site(load_challenge(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
           now=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc), jobs=1,
           repo_url="https://github.com/example/arena")
"""


def _tree(root: Path) -> dict[str, bytes]:
    """What a reader sees: every file but the incremental build's page keys (.arena-pages),
    which name the challenge file's bytes, not anything shown."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".arena-pages"}


def _build(code: Path, challenge: Path, store: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", BUILD, str(challenge), str(store), str(out)],
                          cwd=code, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


def _differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    out = [f"only in the baseline: {k}" for k in sorted(set(a) - set(b))]
    out += [f"only here: {k}" for k in sorted(set(b) - set(a))]
    out += [f"differs: {k}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    return sample.synthetic_history(tmp_path_factory.mktemp("one"), submissions=24)


def test_a_one_track_site_is_byte_for_byte_the_baseline_commits(history, tmp_path):
    ref = os.environ.get("ARENA_BASELINE_REF")
    if not ref:
        pytest.skip("set ARENA_BASELINE_REF to a commit (e.g. main) to compare with its build")
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO,
                             capture_output=True, timeout=120)
    assert archive.returncode == 0, archive.stderr.decode()[-2000:]
    base = tmp_path / "base"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(base, filter="data")
    store = history.parent / "store"
    _build(base, history, store, tmp_path / "before")
    _build(REPO, history, store, tmp_path / "after")
    before, after = _tree(tmp_path / "before"), _tree(tmp_path / "after")
    assert len(before) > 20
    assert _differences(before, after) == []


def test_one_track_written_as_tracks_builds_the_same_site(history, tmp_path):
    store = history.parent / "store"
    site.build_site(load_challenge(history), store, tmp_path / "hardware", now=NOW, jobs=1)
    text = history.read_text()
    assert "\nhardware: a10g\n" in text
    as_tracks = tmp_path / "ch"
    sample.challenge_folder(as_tracks, source=history)
    (as_tracks / "challenge.yaml").write_text(text.replace(
        "\nhardware: a10g\n", "\ntracks:\n  a10g:\n    runner_label: a10g\n"))
    for sub in (history.parent / "submissions").rglob("*.yaml"):
        dest = as_tracks / "submissions" / sub.relative_to(history.parent / "submissions")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(sub.read_bytes())
    ch = load_challenge(as_tracks / "challenge.yaml")
    assert ch.track_names == ("a10g",)
    site.build_site(ch, store, tmp_path / "tracks", now=NOW, jobs=1)
    a, b = _tree(tmp_path / "hardware"), _tree(tmp_path / "tracks")
    assert _differences(a, b) == []
    assert b"\"track\"" not in a["api/leaderboard.json"] + a["api/runs.json"]
