"""Paired runs (`arena bench --vs`): both engines in one job, each in its own sandbox, timed
pass by pass in ABBA order on the same fresh variants, the idle one frozen; the candidate's
result carries the `paired` block; bad `--vs` arguments are refused before anything starts.

The engines here are sandboxed stand-ins (tests/runner/standin_server.py); the real-vLLM run
is the demo's (tests/runner/test_demo.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from arena.result import validate_result
from runner.bench import REFEREE, BenchPlan, ServeSpec, run_bench
from runner.context import OtherPlan
from runner.models import folder_digest
from runner.paired import Freezer
from runner.server import Server, http_client
from tests.conftest import REPO
from tests.runner.standins import standin
from tests.runner.test_bench import PLAIN, public, submission

NGRAM = REPO / "demo" / "submissions" / "arena-maintainers" / "ngram-k4.yaml"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def get(server: Server, path: str) -> Any:
    with http_client(server, 30) as c:
        return c.get(path).json()


def started(tmp: Path, *args: str) -> Any:
    s = standin(tmp, *args, sandboxed=True)
    s.start()
    s.wait_ready(60)
    return s


def marks_between(marks: list[float], t0: float, t1: float) -> int:
    return sum(1 for m in marks if t0 < m < t1)


def test_a_frozen_engine_gets_no_work_done_even_when_it_tries_to_thaw_itself(tmp_path):
    # The cheat: an engine that burns CPU in a background thread and in a child process
    # (stealing the timed engine's cores), and a third process that keeps sending SIGCONT to
    # all of them. Every block of work it gets done is marked with its time.
    s = started(tmp_path, "--burn", "/scratch/burn", "--waker")
    try:
        time.sleep(1.0)
        t0 = time.monotonic()
        time.sleep(1.0)
        t1 = time.monotonic()  # a window unfrozen: the cheat does work
        f = Freezer(s)
        f.freeze()
        f0 = time.monotonic()
        time.sleep(1.5)
        f1 = time.monotonic()
        f.thaw()
        time.sleep(0.5)
        marks = get(s, "/burned")
        assert marks_between(marks, t0, t1) >= 4, "the stand-in did not burn"
        assert marks_between(marks, f0, f1) == 0, "the frozen engine kept working"
        assert marks_between(marks, f1, time.monotonic()) > 0, "thawing did not resume it"
        # Every process of its sandbox was held: the server, the burning child, the waker.
        assert len(f.members()) >= 4
    finally:
        s.stop()
    assert s.leftovers() == []


def recorder(tmp: Path, started_: dict[str, Any], cheat: bool):
    """A serve function: the candidate's seat a stand-in (the CPU-burning cheat when `cheat`),
    the other's an honest one, the referee's an honest one. Before each is stopped, what it
    recorded is read."""
    seen: dict[str, Any] = {}

    class Recorded:
        def __init__(self, server: Any, role: str):
            self._s, self._role = server, role

        def __getattr__(self, name: str) -> Any:
            return getattr(self._s, name)

        def stop(self) -> None:
            if self._s.alive():
                seen[self._role] = {"requests": get(self._s, "/requests"),
                                    "burned": get(self._s, "/burned") if cheat and
                                    self._role == "submission" else []}
            self._s.stop()

    def serve(spec: ServeSpec) -> Server:
        role = REFEREE if spec.role == REFEREE else spec.workdir.name  # submission | other
        args = ["--delay", "0.05"]  # long enough requests to see who works during them
        if cheat and role == "submission":
            args += ["--burn", "/scratch/burn"]
        s = started(spec.workdir, *args)
        started_[role] = s
        return Recorded(s, role)  # type: ignore[return-value]

    return serve, seen


@pytest.mark.parametrize("cheat,order", [(False, "request"), (True, "request"), (True, "pass")],
                         ids=["honest", "burning-candidate", "burning-candidate-by-pass"])
def test_a_paired_run_times_both_on_the_same_variants_with_the_idle_one_frozen(
        tiny_model, demo_challenge, tmp_path, cheat, order):
    ch = demo_challenge
    sets = [public(ch, 4)]
    engines: dict[str, Any] = {}
    serve, seen = recorder(tmp_path, engines, cheat)
    plan = BenchPlan(submission(ch, NGRAM), ch, sets,
                     vs=OtherPlan(submission(ch, PLAIN), commit="b" * 40, order=order))
    lines: list[str] = []
    record = run_bench(plan, serve=serve, engine_checks=[], referee_checks=[],
                       workdir=tmp_path / "work", progress=lines.append)
    doc = validate_result(record.result)
    assert doc["stage"] == "verdict", doc["reasons"]
    p = doc["paired"]
    assert p["against"] == {"id": "arena-maintainers/plain", "commit": "b" * 40,
                            "config_sha256": submission(ch, PLAIN).config_sha256()}
    assert p["pairs"] == ch.repeats and p["order"] == order and p["set"] == "public"
    cand = [x["tps"] for x in doc["tps"]["public"]["passes"]]
    assert len(cand) == ch.repeats  # the candidate's own figures are its timed passes
    assert p["tps"]["candidate"] == pytest.approx(sum(cand) / len(cand), rel=1e-4)
    assert p["tps"]["diff"] == pytest.approx(p["tps"]["candidate"] - p["tps"]["other"])
    assert p["tps"]["ci"][0] <= p["tps"]["diff"] <= p["tps"]["ci"][1]
    assert [f"timed pair {r + 1}/{ch.repeats} ({who} first)" for r, who in
            enumerate(["candidate", "other", "candidate"])] == \
        [m.split(":")[0] for m in lines if m.startswith("timed pair")]

    mine, theirs = seen["submission"]["requests"], seen["other"]["requests"]
    # Both engines answered every warm-up, length warm-up and timed request (4 prompts x 3).
    assert len(mine) == len(theirs) >= ch.repeats * 4
    # ABBA: pair 1 the candidate (A) first, pair 2 the other (B), pair 3 A; by request, the
    # order also turns at every request of a pass.
    timed = ch.repeats * 4
    who = "".join(w for _, w in sorted([(r[0], "A") for r in mine[-timed:]] +
                                       [(r[0], "B") for r in theirs[-timed:]]))
    assert who == {"pass": "AAAABBBB" "BBBBAAAA" "AAAABBBB",
                   "request": "ABBAABBA" "BAABBAAB" "ABBAABBA"}[order]
    # The two engines never ran a request at the same time.
    for a0, a1 in mine:
        assert not any(b0 < a1 and a0 < b1 for b0, b1 in theirs)
    if cheat:
        burned = seen["submission"]["burned"]
        assert marks_between(burned, mine[-timed][0], mine[-1][1]) > 0  # it did burn
        during_other = sum(marks_between(burned, b0, b1) for b0, b1 in theirs[-timed:])
        assert during_other == 0, "the candidate worked while the other was timed"
    for s in engines.values():
        assert s.leftovers() == []


def test_both_engines_are_sent_the_same_fresh_variants_and_none_twice(tiny_model,
                                                                      demo_challenge,
                                                                      tmp_path):
    from tests.runner.standins import RewritingProxy

    ch = demo_challenge
    proxies: dict[str, Any] = {}

    def serve(spec: ServeSpec) -> Server:
        from runner.server import ExternalServer

        s = started(spec.workdir)
        role = REFEREE if spec.role == REFEREE else spec.workdir.name
        proxy = RewritingProxy(s).__enter__()
        proxies[role] = (proxy, s)

        class Stopping(ExternalServer):
            def stop(self) -> None:
                proxy.__exit__(None, None, None)
                s.stop()
        return Stopping(proxy.url)

    plan = BenchPlan(submission(ch, NGRAM), ch, [public(ch, 3)],
                     vs=OtherPlan(submission(ch, PLAIN)))
    doc = run_bench(plan, serve=serve, engine_checks=[], referee_checks=[]).result
    assert "paired" in doc, doc["reasons"]
    sent = {role: [tuple(b["prompt"]) for b, _ in proxies[role][0].exchanges
                   if b.get("max_tokens") == ch.output_tokens]
            for role in ("submission", "other")}
    assert sorted(sent["submission"]) == sorted(sent["other"])
    for role, prompts in sent.items():
        assert len(prompts) == len(set(prompts)), f"{role} was sent a request twice"


# -- refusals ----------------------------------------------------------------------------------

def bench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "arena", "bench", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=cwd)


DEMO = ["--challenge", "demo/challenge.yaml", "--prompts", "public"]


@pytest.mark.parametrize("vs,needle", [
    ("demo/submissions/arena-maintainers/nope.yaml", "no such file"),
    ("demo/submissions/arena-maintainers/ngram-k4.yaml", "that is the submission being "
                                                        "measured"),
    ("demo/challenge.yaml", "is not a valid submission"),
])
def test_bad_vs_arguments_are_refused_before_anything_starts(tmp_path, vs, needle):
    out = tmp_path / "out"
    proc = bench("demo/submissions/arena-maintainers/ngram-k4.yaml", "--vs", vs, "--out",
                 str(out), *DEMO)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "result.json").exists()


def test_the_same_submission_or_configuration_under_another_path_is_refused(tmp_path):
    copy = tmp_path / "copy" / "arena-maintainers" / "ngram-k4.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_text(NGRAM.read_text())
    # The same file by another name (a symbolic link), then the same id, then a copy.
    link = tmp_path / "link.yaml"
    link.symlink_to(NGRAM)
    same_id = REPO / "demo" / "submissions" / "arena-maintainers" / "ngram-k4.yaml"
    for vs, needle in [(link, "that is the submission being measured"),
                       (copy, "is the same configuration as the submission being measured")]:
        proc = bench(str(same_id), "--vs", str(vs), *DEMO)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_vs_commit_is_refused():
    proc = bench(str(NGRAM), "--vs", str(PLAIN), "--vs-commit", "main", *DEMO)
    assert proc.returncode == 2 and "--vs-commit must be a full" in proc.stderr


def test_an_other_submission_on_a_different_base_model_ends_the_run_before_any_engine(
        tiny_model, demo_challenge, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_model.path, models / "tiny-gemma4")
    shutil.copytree(tiny_model.path, models / "other-base")
    config = json.loads((models / "other-base" / "config.json").read_text())
    config["hidden_size"] = 2 * config["hidden_size"]  # another model altogether
    (models / "other-base" / "config.json").write_text(json.dumps(config))
    ch = dataclasses.replace(demo_challenge, local_models_dir=models)
    plain = submission(ch, PLAIN)
    other = dataclasses.replace(plain, model=dataclasses.replace(
        plain.model, id="./other-base", revision=folder_digest(models / "other-base")))

    def serve(spec: ServeSpec) -> Server:
        raise AssertionError("no engine may start when the other one cannot be measured")

    record = run_bench(BenchPlan(submission(ch, NGRAM), ch, [public(ch)],
                                 vs=OtherPlan(other)), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "error" and record.exit_code == 3
    [reason] = doc["reasons"]
    assert reason["check"] == "paired"
    assert reason["message"].startswith("the other submission arena-maintainers/plain (--vs) "
                                        "cannot be measured beside this one: ")
    assert "hidden_size" in reason["message"]
    assert "paired" not in doc
    # The candidate's own identity check passed; the other's is not among its checks.
    assert [c["status"] for c in doc["checks"] if c["name"] == "model_identity"] == ["pass"]


def test_on_a_gpu_each_engine_asks_for_half_its_memory(monkeypatch, tmp_path):
    from runner import sandbox
    from runner.paired import halved

    spec = ServeSpec(tmp_path, "vllm", "0.32.0", {"max_model_len": 1024}, {}, 1, tmp_path,
                     60.0, (), lambda _: None)
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: [])
    assert halved(spec) is spec  # a CPU: nothing to split
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: [Path("/dev/nvidia0")])
    assert halved(spec).engine_args == {"max_model_len": 1024, "gpu_memory_utilization": 0.45}
    mine = dataclasses.replace(spec, engine_args={"gpu_memory_utilization": 0.8})
    assert halved(mine).engine_args == {"gpu_memory_utilization": 0.4}
