"""`arena validate` as a participant first tries it: `pip install .` (no extras), then
`arena validate submissions/<me>/<name>.yaml` from the checkout, with no environment set.

The package is installed for real (pip, into a folder of its own, without dependencies: they
come from the test environment), so it lives far from the checkout, as it does in
site-packages; the challenge file must be found from the current directory upwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arena.challenge import find_challenge

from .conftest import REPO, dump, valid_submission

PROBE = """
import sys
from arena.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("vllm", "torch", "transformers") if m in sys.modules)
import arena
print("ARENA-FROM", arena.__file__)
print("HEAVY", ",".join(heavy) or "-")
sys.exit(code)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    # From a copy of the source: a build writes build/ and *.egg-info beside the sources.
    src = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for pkg in ("arena", "bot", "runner", "leaderboard", "workshop"):
        shutil.copytree(REPO / pkg, src / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target = tmp_path_factory.mktemp("site-packages")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=240)
    if proc.returncode != 0:
        pytest.skip(f"pip cannot install the checkout here: {proc.stderr[-500:]}")
    return target


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A participant's checkout: the challenge and its submissions, nothing else."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(REPO / "challenge.yaml", root / "challenge.yaml")
    shutil.copytree(REPO / "submissions", root / "submissions")
    shutil.copytree(REPO / "prompts", root / "prompts")
    (root / "submissions" / "me").mkdir()
    (root / "submissions" / "me" / "try-1.yaml").write_bytes(dump(valid_submission("try-1")))
    return root


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # No ARENA_* variable, no PYTHONPATH pointing at the source: only the installed copy.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ARENA_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_validate_from_the_checkout_root_after_pip_install(installed, checkout):
    proc = run_installed(installed, checkout, "validate", "submissions/me/try-1.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid (me/try-1)" in proc.stdout
    # It ran the installed copy, not the source tree, and never loaded an engine.
    assert f"ARENA-FROM {installed}" in proc.stdout
    assert "HEAVY -" in proc.stdout


def test_validate_from_a_nested_folder_finds_the_challenge_above(installed, checkout):
    proc = run_installed(installed, checkout / "submissions" / "me", "validate", "try-1.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid (me/try-1)" in proc.stdout


def test_outside_any_checkout_the_error_says_what_to_do(installed, tmp_path):
    lonely = tmp_path / "elsewhere"
    lonely.mkdir()
    (lonely / "x.yaml").write_bytes(dump(valid_submission("x")))
    proc = run_installed(installed, lonely, "validate", "x.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "No challenge.yaml in the current directory or any folder above it" in proc.stderr
    assert "--challenge" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_find_challenge_walks_up_and_stops_at_the_nearest(tmp_path):
    (tmp_path / "challenge.yaml").write_text("outer")
    inner = tmp_path / "a" / "b" / "c"
    inner.mkdir(parents=True)
    assert find_challenge(inner) == tmp_path / "challenge.yaml"
    (tmp_path / "a" / "challenge.yaml").write_text("inner")
    assert find_challenge(inner) == tmp_path / "a" / "challenge.yaml"


def test_validate_notes_a_configuration_already_in_the_folder(installed, checkout):
    import json
    same = (checkout / "submissions" / "me" / "try-1.yaml").read_bytes()
    (checkout / "submissions" / "you").mkdir()
    (checkout / "submissions" / "you" / "try-1.yaml").write_bytes(same)
    proc = run_installed(installed, checkout, "validate", "submissions/me/try-1.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a note, not a failure
    assert "note: submissions/me/try-1.yaml has the same configuration" in proc.stdout
    assert "you/try-1 (submissions/you/try-1.yaml)" in proc.stdout
    proc = run_installed(installed, checkout, "validate", "--json", "submissions/me/try-1.yaml")
    doc = json.loads(proc.stdout[:proc.stdout.rindex("}") + 1])
    assert doc["notes"] == [{"file": "submissions/me/try-1.yaml", "same_configuration_as": [
        {"submission": "you/try-1", "path": "submissions/you/try-1.yaml"}]}]
