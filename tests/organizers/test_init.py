"""`arena init DIR`: a new challenge repository from nothing, which checks itself and whose own
Quickstart test command passes; missing flags are asked at a terminal and refused elsewhere."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "prompts" / "public.jsonl"
REV = "0123456789abcdef0123456789abcdef01234567"
FLAGS = ["--base-model", "Qwen/Qwen3-4B", "--revision", REV, "--hardware", "l4",
         "--public-prompts", str(PROMPTS), "--maintainer", "alice,bob", "--ppl-reference", "3.1"]


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def init(target: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", "init", str(target), *flags],
                          capture_output=True, text=True, timeout=120, env=env(),
                          stdin=subprocess.DEVNULL, cwd=ROOT)


def make_test(repo: Path) -> subprocess.CompletedProcess:
    """The new repository's own Quickstart test command, with this environment's Python."""
    e = dict(os.environ)
    e.pop("PYTHONPATH", None)  # its own copy of arena, not this checkout's, is under test
    return subprocess.run(["make", "test", f"PYTHON={sys.executable}"], cwd=repo,
                          capture_output=True, text=True, timeout=300, env=e)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("new") / "fast-qwen"
    out = init(target, *FLAGS)
    assert out.returncode == 0, out.stderr
    return target


def test_init_in_an_empty_folder_then_its_quickstart_test_passes(made):
    out = make_test(made)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 passed" in out.stdout
    readme = (made / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_the_new_repository_holds_what_a_challenge_needs(made):
    from arena.challenge import load_challenge

    ch = load_challenge(made / "challenge.yaml")
    assert (ch.id, ch.hardware, ch.base_model.id, ch.base_model.revision) == (
        "fast-qwen", "l4", "Qwen/Qwen3-4B", REV)
    assert ch.maintainers == ("alice", "bob") and ch.ppl_reference == 3.1
    assert ch.controls and ch.controls.submission == "submissions/alice/baseline.yaml"
    for rel in ("CONTRIBUTING.md", "AGENTS.md", "Makefile", ".ci/run", ".github/labels.json",
                "submissions/schema.json", "submissions/alice/baseline.yaml",
                "prompts/public.jsonl", "docs/runner.md", "runner-ops/launch.sh",
                ".github/workflows/bench.yml", ".github/workflows/validate.yml"):
        assert (made / rel).is_file(), rel
    assert os.access(made / ".ci" / "run", os.X_OK)
    bench = (made / ".github" / "workflows" / "bench.yml").read_text()
    # Deliberately changed for tracks: bench.yml asks for the dispatched track's label, which
    # its approve job reads from challenge.yaml, so init no longer rewrites it.
    assert 'runs-on: [self-hosted, "${{ needs.approve.outputs.label }}"]' in bench
    assert "a10g" not in bench
    assert "gemma" not in (made / "CONTRIBUTING.md").read_text().lower().replace(
        "fast gemma", "")
    labels = json.loads((made / ".github" / "labels.json").read_text())
    assert "arena: digest" in {x["name"] for x in labels}


def test_its_tests_can_fail_an_unsafe_workflow(made, tmp_path):
    """The generated tests are real: a secret in the GPU job makes them fail."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(made, copy)
    bench = copy / ".github" / "workflows" / "bench.yml"
    text = bench.read_text()
    text = text.replace("          VS_PATH: ${{ inputs.vs }}\n        run: >-\n"
                        "          arena bench",
                        "          VS_PATH: ${{ inputs.vs }}\n"
                        "          HF_TOKEN: ${{ secrets.HF_TOKEN }}\n        run: >-\n"
                        "          arena bench", 1)
    assert "secrets.HF_TOKEN" in text
    bench.write_text(text)
    out = make_test(copy)
    assert out.returncode != 0
    assert "test_the_workflows_keep_their_security_invariants" in out.stdout


def test_missing_flags_without_a_terminal_are_each_named(tmp_path):
    target = tmp_path / "x"
    out = init(target, "--hardware", "l4")
    assert out.returncode == 2
    for flag in ("--base-model", "--revision", "--public-prompts", "--maintainer",
                 "--ppl-reference"):
        assert f"{flag} is required" in out.stderr, out.stderr
    assert "--hardware is required" not in out.stderr
    assert "stdin is not a terminal" in out.stderr
    assert "Traceback" not in out.stderr
    assert not target.exists()


def test_malformed_flags_say_what_to_use(tmp_path):
    target = tmp_path / "x"
    flags = list(FLAGS)
    flags[flags.index("--revision") + 1] = "main"
    flags[flags.index("--hardware") + 1] = "A10G\x1b[2J"
    out = init(target, *flags, "--title", "a\nb")
    assert out.returncode == 2
    assert "--revision main is not valid: use the full commit SHA" in out.stderr
    assert "--hardware" in out.stderr and "\x1b" not in out.stderr
    assert "--title" in out.stderr
    assert not target.exists()


def test_a_folder_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    out = init(tmp_path, *FLAGS)
    assert out.returncode == 2 and "not an empty folder" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_bad_prompt_file_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "x"}\n')
    flags = list(FLAGS)
    flags[flags.index("--public-prompts") + 1] = str(bad)
    out = init(tmp_path / "new", *flags)
    assert out.returncode == 2
    assert "--public-prompts" in out.stderr and "Traceback" not in out.stderr
    assert f"{bad}:1:" in out.stderr  # the file and line of the problem
    flags[flags.index("--public-prompts") + 1] = str(tmp_path / "missing.jsonl")
    out = init(tmp_path / "new", *flags)
    assert out.returncode == 2 and "missing.jsonl" in out.stderr
    assert not (tmp_path / "new").exists()


def test_at_a_terminal_missing_flags_are_asked(tmp_path):
    """A real pseudo-terminal: each required value is asked, a bad answer asked again."""
    target = tmp_path / "asked"
    answers = {"Base model": "Qwen/Qwen3-4B", "revision": REV, "Hardware": "l4",
               "prompt set": str(PROMPTS), "Maintainers": "carol",
               "Reference perplexity": "2.9"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "arena", "init", str(target)],
                            stdin=slave, stdout=slave, stderr=slave, env=env(), cwd=ROOT)
    os.close(slave)
    seen = ""
    asked: list[str] = []
    bad_revision_sent = False
    deadline = time.time() + 120
    try:
        while proc.poll() is None and time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                continue
            try:
                chunk = os.read(master, 4096).decode(errors="replace")
            except OSError:
                break
            seen += chunk
            tail = seen.rsplit("\n", 1)[-1]
            if not tail.rstrip().endswith(":") and not tail.endswith(": "):
                continue
            key = next((k for k in answers if k in tail), None)
            if key is None:  # an optional question with a default: take it
                os.write(master, b"\n")
                asked.append(tail)
                continue
            if key == "revision" and not bad_revision_sent:
                bad_revision_sent = True
                os.write(master, b"main\n")
            else:
                os.write(master, (answers[key] + "\n").encode())
            asked.append(key)
            seen = ""
        proc.wait(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 0, seen
    assert [a for a in asked if a in answers].count("revision") == 2  # asked again
    from arena.challenge import load_challenge

    ch = load_challenge(target / "challenge.yaml")
    assert ch.maintainers == ("carol",) and ch.hardware == "l4" and ch.id == "asked"


def test_init_with_two_tracks_writes_a_tracks_section_that_checks_out(tmp_path):
    from arena.challenge import load_challenge

    flags = [f for f in FLAGS]
    i = flags.index("--hardware")
    del flags[i:i + 2]
    target = tmp_path / "two-tracks"
    out = init(target, *flags, "--track", "a10g", "--track", "l4")
    assert out.returncode == 0, out.stderr
    ch = load_challenge(target / "challenge.yaml")
    assert [(t.name, t.runner_label) for t in ch.tracks] == [("a10g", "a10g"), ("l4", "l4")]
    assert ch.hardware == "a10g" and "hardware:" not in (target / "challenge.yaml").read_text()
    assert "each ranked on its own" in ch.summary
    out = make_test(target)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 passed" in out.stdout


@pytest.mark.parametrize("tracks,message", [
    (["A10G"], "not a track name"),
    (["a10g:A 10"], "not a runner label"),
    (["a10g", "a10g:x"], "given twice"),
    (["a10g", "l4:a10g"], "another track's"),
])
def test_bad_tracks_are_refused_before_anything_is_written(tmp_path, tracks, message):
    flags = [f for f in FLAGS]
    i = flags.index("--hardware")
    del flags[i:i + 2]
    target = tmp_path / "bad"
    argv = [x for t in tracks for x in ("--track", t)]
    out = init(target, *flags, *argv)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not target.exists()


def test_hardware_and_a_different_first_track_are_refused(tmp_path):
    out = init(tmp_path / "both", *FLAGS, "--track", "a10g")
    assert out.returncode == 2 and "--hardware and --track both given" in out.stderr
