"""Engine patches on the runner (runner/overlay.py): the base is proven against the installed
release, the patch is applied to a per-run copy, checked against its own post-image and
parsed; the installed vLLM is never written to."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from arena.patch import parse_patch
from arena.result import validate_result
from runner.bench import BenchPlan, ServeSpec, run_bench
from runner.overlay import OverlayError, build_overlay, git_blob_sha1, installed_package
from runner.server import Server
from tests.conftest import REPO
from tests.runner.test_bench import public, submission

DEMO_PATCH = REPO / "demo" / "submissions" / "arena-maintainers" / "attention-log.patch"


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def git_diff(tmp: Path, base: dict[str, str], changed: dict[str, str]) -> str:
    """A real `git diff --full-index` from `base` to `changed` (paths under vllm/)."""
    repo = tmp / "fork"
    env = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a",
               GIT_COMMITTER_EMAIL="a@b", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp))
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, env=env, check=True,  # noqa: E731
                                    capture_output=True, text=True).stdout
    repo.mkdir()
    run("init", "-q")
    for name, text in base.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    run("add", "-A")
    run("commit", "-q", "-m", "release")
    for name, text in changed.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    run("add", "-A")
    return run("diff", "--full-index", "--cached")


def fake_release(tmp: Path, files: dict[str, str]) -> Path:
    root = tmp / "site-packages"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "vllm" / "_C.abi3.so").write_bytes(b"\x7fELF compiled")
    return root / "vllm"


def overlay(text: str, tmp: Path, installed: Path):  # type: ignore[no-untyped-def]
    return build_overlay(text, parse_patch(text, path="x.patch"), tmp / "work",
                         installed=installed)


BASE = {"vllm/__init__.py": "", "vllm/sampler.py": "def pick(xs):\n    return max(xs)\n"}


def test_a_patch_on_the_release_is_served_from_a_read_only_copy(tmp_path: Path) -> None:
    installed = fake_release(tmp_path, BASE)
    before = tree_digest(installed)
    text = git_diff(tmp_path, BASE, {"vllm/sampler.py": "def pick(xs):\n    return max(xs)  "
                                                         "# patched\n"})
    o = overlay(text, tmp_path, installed)
    copy = o.root / "vllm" / "sampler.py"
    assert "# patched" in copy.read_text()
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert (o.root / "vllm" / "_C.abi3.so").read_bytes() == b"\x7fELF compiled"
    assert tree_digest(installed) == before  # the installed release is untouched
    assert o.files == 1 and o.patch_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert overlay(text, tmp_path / "again", installed).digest == o.digest  # reproducible


def test_a_patch_against_another_base_is_refused_with_rebase(tmp_path: Path) -> None:
    installed = fake_release(tmp_path, BASE)
    other = {**BASE, "vllm/sampler.py": "def pick(xs):\n    return sorted(xs)[-1]\n"}
    text = git_diff(tmp_path, other, {"vllm/sampler.py": "def pick(xs):\n    return 0\n"})
    with pytest.raises(OverlayError) as e:
        overlay(text, tmp_path, installed)
    assert e.value.verdict == "invalid" and "Rebase it on the release" in e.value.message
    assert "vllm/sampler.py" in e.value.message


def test_a_new_file_the_release_already_has_is_refused(tmp_path: Path) -> None:
    installed = fake_release(tmp_path, {**BASE, "vllm/extra.py": "x = 1\n"})
    text = git_diff(tmp_path, BASE, {"vllm/extra.py": "x = 2\n"})
    with pytest.raises(OverlayError) as e:
        overlay(text, tmp_path, installed)
    assert "already has" in e.value.message and "rebase" in e.value.message


def test_a_hand_edited_diff_is_refused_by_its_post_image(tmp_path: Path) -> None:
    installed = fake_release(tmp_path, BASE)
    text = git_diff(tmp_path, BASE, {"vllm/sampler.py": "def pick(xs):\n    return min(xs)\n"})
    text = text.replace("return min(xs)", "return sum(xs)")  # the index line no longer fits
    with pytest.raises(OverlayError) as e:
        overlay(text, tmp_path, installed)
    assert "post-image" in e.value.message and "git diff --full-index" in e.value.message


def test_a_patch_that_does_not_parse_is_refused_without_importing_it(tmp_path: Path) -> None:
    installed = fake_release(tmp_path, BASE)
    marker = tmp_path / "imported"
    text = git_diff(tmp_path, BASE, {"vllm/sampler.py": f"open({str(marker)!r}, 'w')\n"
                                                         "def pick(xs:\n"})
    with pytest.raises(OverlayError) as e:
        overlay(text, tmp_path, installed)
    assert "does not parse" in e.value.message and "line 2" in e.value.message
    assert not marker.exists()


def test_the_demo_patch_applies_to_the_installed_vllm_and_leaves_it_byte_identical(
        tmp_path: Path) -> None:
    installed = installed_package()
    target = installed / "v1" / "attention" / "selector.py"
    before = (tree_digest(installed), target.read_bytes())
    text = DEMO_PATCH.read_text()
    o = build_overlay(text, parse_patch(text, path=str(DEMO_PATCH)), tmp_path)
    patched = (o.root / "vllm" / "v1" / "attention" / "selector.py").read_text()
    assert "attention backend %s for head size %d" in patched
    assert (tree_digest(installed), target.read_bytes()) == before
    assert git_blob_sha1(before[1]) == parse_patch(text, path="p").files[0].old_blob


def test_a_run_whose_patch_needs_another_base_is_invalid_before_anything_is_served(
        demo_challenge, tiny_model, tmp_path: Path) -> None:
    text = DEMO_PATCH.read_text().replace("index a7e8cd0fd22a5c3a8f632bdddafc7d3634ec7349",
                                          "index " + "1" * 40)
    sub = submission(demo_challenge, DEMO_PATCH.with_suffix(".yaml"))
    info = dataclasses.replace(sub.patch, sha256=hashlib.sha256(text.encode()).hexdigest())
    sub = dataclasses.replace(sub, patch=info)

    def serve(spec: ServeSpec) -> Server:
        raise AssertionError("a patch that does not prove its base must not be served")

    record = run_bench(BenchPlan(sub, demo_challenge, [public(demo_challenge, 2)],
                                 patch_text=text.encode()), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "invalid" and doc["stage"] == "prepare"
    [reason] = doc["reasons"]
    assert reason["check"] == "engine_patch" and "Rebase it on the release" in reason["message"]
