"""Cheats written as real vLLM patches, served as any patched submission is: applied to a
per-run copy of the installed release, started in the sandbox, judged by the stock referee
(the shared plain server). Patches that try to leave the sandbox get nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
from pathlib import Path

import pytest

from arena.result import validate_result
from arena.submission import PatchInfo
from runner.bench import REFEREE, BenchPlan, ServeSpec, run_bench, serve_with_vllm
from runner.overlay import installed_package
from runner.server import ExternalServer, Server
from tests.conftest import engine_processes
from tests.integrity import patches
from tests.integrity.conftest import demo_submission

pytestmark = pytest.mark.vllm


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def patched_run(challenge, sets, text: str, referee: Server, work: Path) -> dict:
    sub = demo_submission(challenge, "attention-log")
    data = text.encode()
    info = PatchInfo(path=sub.patch.path, sha256=hashlib.sha256(data).hexdigest(),
                     bytes=len(data), files=text.count("diff --git"), added=0, removed=0,
                     paths=())
    sub = dataclasses.replace(sub, patch=info)

    def serve(spec: ServeSpec) -> Server:
        if spec.role == REFEREE:
            assert spec.overlay is None  # the referee never serves the patch
            return ExternalServer(referee.base_url, uds=referee.uds)
        assert spec.overlay is not None
        return serve_with_vllm(spec)

    record = run_bench(BenchPlan(sub, challenge, sets, patch_text=data), serve=serve,
                       workdir=work, keep_logs=work / "logs")
    return validate_result(record.result)


def test_a_patch_that_decodes_lossily_and_lies_about_logprobs_is_caught(
        tiny_server, demo_challenge, prompt_sets, tmp_path: Path) -> None:
    """The sampler takes the runner-up wherever it is close; prompt logprobs all read
    'certain' (perplexity 1.0 if anyone believed them). The referee scores what was served."""
    installed = installed_package()
    before = tree_digest(installed)
    text = patches.make_patch(patches.LOSSY_AND_LYING, tmp_path)
    # The public set alone: every figure asserted below is the public set's or the run's, and
    # each lossy token costs the referee a walk, so the private set only doubled that work.
    doc = patched_run(demo_challenge, prompt_sets[:1], text, tiny_server, tmp_path / "work")
    assert doc["verdict"] == "invalid" and "near_ties" in [r["check"] for r in doc["reasons"]]
    # Its perplexity is the referee's: the model's own, not the patch's 1.0.
    ppl = doc["ppl"]["sets"]["public"]["value"]
    assert ppl == pytest.approx(demo_challenge.ppl_reference, rel=0.05)
    assert doc["fingerprint"]["patch"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert tree_digest(installed) == before  # the installed vLLM is byte-identical
    assert engine_processes(tmp_path / "work") == []


def test_a_patch_that_tries_to_leave_gets_nothing(tiny_server, demo_challenge, prompt_sets,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    private = Path(patches.ESCAPE_PRIVATE)
    private.mkdir(exist_ok=True)
    (private / "prompts.jsonl").write_text('{"id": "secret", "messages": []}\n')
    Path(patches.ESCAPE_WRITE).unlink(missing_ok=True)
    monkeypatch.setenv("ARENA_RUNNER_SECRET", "ghs_must_not_leak")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", patches.ESCAPE_PORT))
    listener.listen(1)
    installed = installed_package()
    before = tree_digest(installed)
    try:
        text = patches.make_patch(patches.ESCAPE, tmp_path)
        doc = patched_run(demo_challenge, prompt_sets[:1], text, tiny_server, tmp_path / "work")
    finally:
        listener.close()
    log = (tmp_path / "work" / "logs" / "submission.log").read_text()
    line = next(ln for ln in log.splitlines() if patches.ESCAPE_MARKER in ln)
    seen = json.loads(line.split(patches.ESCAPE_MARKER, 1)[1])
    assert "Network is unreachable" in seen["outside_address"]
    assert "Connection refused" in seen["runner_loopback"]
    assert "FileNotFoundError" in seen["read_private"]
    assert seen["write_outside_scratch"] != "allowed" and not Path(patches.ESCAPE_WRITE).exists()
    assert "Read-only file system" in seen["write_installed_vllm"]
    assert "Read-only file system" in seen["write_own_engine"]
    assert "ARENA_RUNNER_SECRET" not in seen["environment"]
    # Otherwise an honest engine: the run ends with its verdict, and nothing of the patch's
    # words reaches the result.
    assert doc["verdict"] == "verified", doc["reasons"]
    assert patches.ESCAPE_MARKER not in json.dumps(doc)
    assert tree_digest(installed) == before
    assert engine_processes(tmp_path / "work") == []
