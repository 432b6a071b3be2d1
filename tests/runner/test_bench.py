"""A run end to end on the real engine, and how each failure ends: the verdict, the reason, and
no process left behind.

Most tests measure the shared tiny vLLM server (through `ExternalServer`, or a proxy in front of
it): `run_bench`'s `serve` seam is how a run measures a server it did not start. Tests that must
kill an engine start their own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from arena.challenge import Challenge
from arena.commands import validate_paths
from arena.result import validate_result
from arena.submission import Submission
from runner.bench import BenchPlan, ServeSpec, run_bench, serve_with_vllm
from runner.client import EngineClient
from runner.measure import LengthAudit, measure_tps, teacher_forced_ppl
from runner.models import folder_digest
from runner.prompts import PromptSet, load_prompt_file
from runner.server import ExternalServer, Server
from tests.conftest import REPO, engine_processes
from tests.runner.standins import RewritingProxy, standin

PLAIN = REPO / "demo" / "submissions" / "arena-maintainers" / "plain.yaml"


def submission(challenge: Challenge, path: Path = PLAIN) -> Submission:
    [report] = validate_paths([path], challenge)
    assert report.valid, [p.format() for p in report.problems]
    assert report.submission is not None
    return report.submission


def public(challenge: Challenge, n: int | None = None) -> PromptSet:
    s = load_prompt_file(challenge.public_prompts)
    if n is not None:
        s = dataclasses.replace(s, prompts=s.prompts[:n])
    return s


def external(server: Server):
    """A serve function that puts `server` in every seat (the submission's and the
    referee's): right for a stock engine, which is what the referee is."""
    def serve(spec: ServeSpec) -> Server:
        return ExternalServer(server.base_url, uds=server.uds)
    return serve


# -- measurement on the real engine ----------------------------------------------------------

@pytest.mark.vllm
def test_every_timed_request_returns_exactly_the_asked_tokens(tiny_server, tiny_encoder,
                                                              demo_challenge) -> None:
    encoded = tiny_encoder.encode_set(public(demo_challenge, 4))
    with RewritingProxy(tiny_server) as proxy:
        client = EngineClient(ExternalServer(proxy.url), request_timeout=60)
        audit = LengthAudit(32)
        tps = measure_tps(client, [encoded], output_tokens=32, repeats=2, seed=1, audit=audit)
    # What the engine sent, counted at the wire, not by the harness.
    assert len(proxy.exchanges) == 8
    for body, answer in proxy.exchanges:
        assert body["max_tokens"] == 32 and body["ignore_eos"] is True
        assert body["temperature"] == 0 and body["return_token_ids"] is True
        assert len(answer["choices"][0]["token_ids"]) == 32
        assert answer["choices"][0]["finish_reason"] == "length"
    t = tps["public"]
    assert [p.tokens for p in t.passes] == [128, 128]
    assert all(p.seconds > 0 and p.tps == p.tokens / p.seconds for p in t.passes)
    assert (audit.requests, audit.shortest, audit.longest, audit.not_length) == (8, 32, 32, 0)
    # No request was sent twice, and none is a set's prompt verbatim: each is a fresh variant
    # of its prompt (one token of its middle third exchanged), recorded beside its output.
    sent = [tuple(b["prompt"]) for b, _ in proxy.exchanges]
    assert len(set(sent)) == 8 and not set(sent) & set(encoded.prompt_ids)

    def prompt_of(p: tuple[int, ...]) -> int:
        [i] = [i for i, q in enumerate(encoded.prompt_ids)
               if len(q) == len(p) and sum(a != b for a, b in zip(p, q)) == 1]
        return i

    for (body, answer) in proxy.exchanges:
        i = prompt_of(tuple(body["prompt"]))
        k = t.sent[i].index(tuple(body["prompt"]))
        assert t.outputs[i][k] == answer["choices"][0]["token_ids"]
    # The two passes visited the prompts in different, seeded orders.
    orders = [[prompt_of(s) for s in sent[k:k + 4]] for k in (0, 4)]
    assert sorted(orders[0]) == [0, 1, 2, 3] and orders[0] != orders[1]


@pytest.mark.vllm
def test_perplexity_equals_an_independent_forward_pass(tiny_server, tiny_model, tiny_encoder,
                                                       demo_challenge) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    encoded = tiny_encoder.encode_set(public(demo_challenge, 6))
    client = EngineClient(tiny_server, request_timeout=60)
    got = teacher_forced_ppl(client, encoded)

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model.path), dtype=torch.float32)
    nll, count = 0.0, 0
    with torch.no_grad():
        for ctx, target in encoded.references:
            ids = torch.tensor([list(ctx) + list(target)])
            logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
            for pos in range(len(ctx), ids.shape[1]):
                nll -= float(logp[pos - 1, ids[0, pos]])
            count += len(target)
    assert got.tokens == count == sum(len(t) for _, t in encoded.references)
    # vLLM computes in bfloat16, the reference pass in float32: close, not identical.
    assert got.value == pytest.approx(math.exp(nll / count), rel=0.03)


# -- runs and their verdicts ------------------------------------------------------------------

@pytest.mark.vllm
def test_a_run_against_a_server_it_did_not_start(tiny_server, demo_challenge) -> None:
    plan = BenchPlan(submission(demo_challenge), demo_challenge, [public(demo_challenge, 6)])
    record = run_bench(plan, serve=external(tiny_server))
    doc = validate_result(record.result)
    assert doc["verdict"] == "verified", doc["reasons"]
    # Every check of a run, in order; with the public set alone the gap has nothing to judge.
    assert {c["name"]: c["status"] for c in doc["checks"]} == {
        "model_identity": "pass", "output_length": "pass", "public_private_gap": "skip",
        "ppl_cap": "pass", "scoring_consistency": "pass", "cache_probe": "pass",
        "near_ties": "pass", "greedy_fidelity": "pass"}
    assert doc["stage"] == "verdict"
    assert doc["fingerprint"]["referee"]["stock"] is True
    assert doc["fingerprint"]["referee"]["engine_version"] == "0.32.0"
    assert doc["fingerprint"]["sandbox"]["kind"] == "bubblewrap"
    figures = doc["checks"][1]["figures"]
    expected = demo_challenge.warmup_requests + demo_challenge.repeats * 6
    assert figures["requests"] == expected
    assert figures["tokens"] == expected * demo_challenge.output_tokens
    t = doc["tps"]["public"]
    assert len(t["passes"]) == demo_challenge.repeats
    assert all(p["tokens"] == 6 * demo_challenge.output_tokens for p in t["passes"])
    assert t["ci95"][0] <= t["mean"] <= t["ci95"][1]
    assert doc["ppl"]["sets"]["public"]["prompts"] == 6
    assert doc["speculative"] is None and "log_tail" not in doc
    assert doc["fingerprint"]["engine_version"] == "0.32.0"
    assert doc["fingerprint"]["prompt_sets"]["public"] == plan.sets[0].sha256
    # Where the time goes: each public prompt's TPS, in the set's order.
    assert [p["id"] for p in doc["per_prompt"]] == [p.id for p in plan.sets[0].prompts]
    assert all(p["tps"] > 0 for p in doc["per_prompt"]) and "per_category" not in doc
    # The generated tokens stay in memory for later checks, never in the document.
    assert len(record.tps["public"].outputs) == 6
    assert "token_ids" not in json.dumps(doc)


def shortchange(mode: str, nth: int = 5):
    """A cheat: the nth full-length decode answer comes back one token short, or right-sized
    but claiming it stopped on its own."""
    seen = {"n": 0}

    def rewrite(path: str, body: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        if body.get("max_tokens", 0) > 2:  # full-length decodes (a length warm-up asks for 2)
            seen["n"] += 1
            if seen["n"] == nth:
                choice = doc["choices"][0]
                if mode == "short":
                    choice["token_ids"] = choice["token_ids"][:-1]
                else:
                    choice["finish_reason"] = "stop"
        return doc
    return rewrite


@pytest.mark.vllm
@pytest.mark.parametrize("mode", ["short", "stop"])
def test_fewer_tokens_than_asked_is_invalid(mode: str, tiny_server, demo_challenge) -> None:
    plan = BenchPlan(submission(demo_challenge), demo_challenge, [public(demo_challenge)])
    with RewritingProxy(tiny_server, shortchange(mode)) as proxy:
        record = run_bench(plan, serve=external(ExternalServer(proxy.url)))
    doc = validate_result(record.result)
    assert doc["verdict"] == "invalid" and record.exit_code == 1
    assert [r["check"] for r in doc["reasons"]] == ["output_length"]
    check = next(c for c in doc["checks"] if c["name"] == "output_length")
    assert check["status"] == "fail"
    asked = demo_challenge.output_tokens
    if mode == "short":
        assert f"returned {asked - 1} token IDs" in check["message"]
        assert check["figures"]["got"] == asked - 1
    else:
        assert "finished with reason 'stop'" in check["message"]
    assert "in timed pass 1" in check["message"]
    assert doc["tps"] == {}  # a pass with a short answer measures nothing


def test_a_hung_engine_is_an_error_and_is_killed(tiny_model, demo_challenge,
                                                 tmp_path: Path) -> None:
    # Long enough that a stalled CI machine cannot time out an answered request first.
    ch = dataclasses.replace(demo_challenge, request_timeout_s=10.0)
    started = []

    from runner.encoding import ChatEncoder

    lengths = {len(p) for p in ChatEncoder(tiny_model.path).encode_set(public(ch)).prompt_ids}

    def serve(spec: ServeSpec) -> Server:
        # Answers the two warm-up decodes and one warm-up request per prompt length, then
        # hangs.
        s = standin(spec.workdir, "--hang-after", str(2 + len(lengths)))
        s.start()
        s.wait_ready(60)
        started.append(s)
        return s

    record = run_bench(BenchPlan(submission(ch), ch, [public(ch)]), serve=serve,
                       keep_logs=tmp_path / "logs")
    doc = validate_result(record.result)
    assert doc["verdict"] == "error" and record.exit_code == 3
    [reason] = doc["reasons"]
    assert reason["check"] == "engine"
    assert reason["message"] == ("a request got no answer within 10 s (timed pass 1 of 3 "
                                 "(public), request 1 of 24): the engine hung")
    # The engine's log is kept for maintainers, never in the result.
    assert "log_tail" not in doc and "standin" not in json.dumps(doc)
    assert "standin: hanging now" in record.engine_logs["submission"].read_text()
    [server] = started
    assert server.leftovers() == [] and not server.alive()


@pytest.mark.vllm
def test_an_engine_that_dies_mid_run_is_an_error(tiny_model, demo_challenge,
                                                 tmp_path: Path) -> None:
    started: list[Any] = []

    def serve(spec: ServeSpec) -> Server:
        s = serve_with_vllm(spec)
        started.append(s)
        return s

    def progress(message: str) -> None:
        if message.startswith("timed pass 1/3"):
            # The engine core dies (as under the OOM killer); its API server notices.
            core = [p for p in psutil.Process(started[0].pid).children(recursive=True)
                    if "EngineCore" in p.name() or "EngineCore" in " ".join(p.cmdline())]
            assert core, "no EngineCore process found"
            for p in core:
                p.send_signal(signal.SIGKILL)

    work = tmp_path / "work"
    record = run_bench(BenchPlan(submission(demo_challenge), demo_challenge,
                                 [public(demo_challenge, 8)]),
                       serve=serve, progress=progress, workdir=work)
    doc = validate_result(record.result)
    assert doc["verdict"] == "error", doc["reasons"]
    [reason] = doc["reasons"]
    assert reason["check"] == "engine"
    assert "timed pass 2 of 3 (public)" in reason["message"]
    assert "log_tail" not in doc and (work / "submission" / "engine.log").stat().st_size > 0
    assert started[0].leftovers() == []
    assert engine_processes(work) == []


def test_a_checkpoint_that_is_not_the_base_model_is_invalid(tiny_model, demo_challenge,
                                                            tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_model.path, models / "tiny-gemma4")
    shutil.copytree(tiny_model.path, models / "pruned")
    config = json.loads((models / "pruned" / "config.json").read_text())
    config["vocab_size"] = 512  # an output layer pruned to the tokens the prompts use
    (models / "pruned" / "config.json").write_text(json.dumps(config))
    ch = dataclasses.replace(demo_challenge, local_models_dir=models)
    sub = dataclasses.replace(submission(ch), model=dataclasses.replace(
        submission(ch).model, id="./pruned", revision=folder_digest(models / "pruned")))

    def serve(spec: ServeSpec) -> Server:
        raise AssertionError("a checkpoint that is not the challenge's model must not be served")

    record = run_bench(BenchPlan(sub, ch, [public(ch)]), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "invalid"
    check, *unreached = doc["checks"]
    assert check["name"] == "model_identity" and check["status"] == "fail"
    assert unreached and all(c["status"] == "skip" for c in unreached)
    assert "vocab_size is 512; the base model has 1024" in check["message"]


@pytest.mark.vllm
def test_start_up_crash_through_the_command_line(tiny_model, tmp_path: Path) -> None:
    bad = tmp_path / "too-long.yaml"
    bad.write_text(PLAIN.read_text().replace("name: plain", "name: too-long")
                   + "  args:\n    max_model_len: 4096\n")  # the model has 2048 positions
    out, logs = tmp_path / "out", tmp_path / "engine-logs"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "arena", "bench", str(bad), "--challenge",
                           str(REPO / "demo" / "challenge.yaml"), "--out", str(out), "--json",
                           "--engine-logs", str(logs)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert proc.returncode == 3, proc.stderr
    doc = validate_result(json.loads((out / "result.json").read_text()))
    assert json.loads(proc.stdout) == doc
    assert doc["verdict"] == "error" and doc["submission"]["id"] == "local/too-long"
    [reason] = doc["reasons"]
    assert reason["check"] == "engine"
    assert reason["message"].startswith("the engine exited with code ")
    assert reason["message"].endswith(" during start-up")
    # What the engine said is for maintainers: on this machine, not in the result or --out.
    assert "log_tail" not in doc and "max_model_len" in (logs / "submission.log").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "stage.json"]
    assert json.loads((out / "stage.json").read_text())["stage"] == "verdict"
    assert doc["stage"] == "time"
    assert "ERROR: the engine exited with code" in proc.stderr
    assert engine_processes(tmp_path) == []


def test_bench_command_line_errors(tmp_path: Path, demo_challenge) -> None:
    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "arena", "bench", *args, "--challenge",
                               str(REPO / "demo" / "challenge.yaml")],
                              capture_output=True, text=True, cwd=REPO,
                              env={k: v for k, v in os.environ.items()
                                   if k != demo_challenge.private_prompts_env})

    broken = tmp_path / "broken.yaml"
    broken.write_text(PLAIN.read_text().replace("name: plain", "name: broken")
                      + "  args:\n    trust_remote_code: true\n")
    p = bench(str(broken))
    assert p.returncode == 1 and "trust_remote_code" in p.stderr and "is not allowed" in p.stderr
    p = bench(str(PLAIN), "--prompts", "private")
    assert p.returncode == 2 and "--private DIR or set ARENA_DEMO_PRIVATE_PROMPTS" in p.stderr
    p = bench(str(PLAIN), "--private", str(tmp_path / "missing"))
    assert p.returncode == 2 and "does not exist" in p.stderr
    p = bench(str(tmp_path / "absent.yaml"))
    assert p.returncode == 2 and "no such file" in p.stderr
    p = bench(str(PLAIN), "--commit", "abc")
    assert p.returncode == 2 and "full 40-character" in p.stderr
    assert not list(tmp_path.glob("**/result.json"))


@pytest.mark.vllm
def test_a_cancelled_run_stops_its_engine(tiny_model, tmp_path: Path) -> None:
    """CI cancels a job with SIGTERM: the run must unwind and stop the engine it started."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "arena", "bench", str(PLAIN), "--challenge",
                             str(REPO / "demo" / "challenge.yaml"), "--out",
                             str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env)
    assert proc.stderr is not None
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(proc.stderr or []), daemon=True)
    reader.start()
    # Wait until the engine has started its own processes (API server, engine core, ...).
    deadline = time.monotonic() + 180
    while len(engine_processes(tmp_path)) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "".join(seen)
        time.sleep(0.5)
    assert len(engine_processes(tmp_path)) >= 2, "".join(seen)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130, "".join(seen)
    reader.join(timeout=10)
    assert "arena: interrupted" in "".join(seen)
    assert engine_processes(tmp_path) == []
    assert not (tmp_path / "out" / "result.json").exists()


def test_engine_checks_run_against_the_live_engine(tiny_model, demo_challenge) -> None:
    """The extension point for integrity checks: they see the live engine and the timed
    outputs (in memory), and a failing one makes the run invalid."""
    from runner.checks import Check

    started: list[Any] = []

    def serve(spec: ServeSpec) -> Server:
        s = standin(spec.workdir)
        s.start()
        s.wait_ready(60)
        started.append(s)
        return s

    def repeat_probe(ctx) -> list[Check]:
        outputs = ctx.tps["public"].outputs
        first = list(ctx.encoded["public"].prompt_ids[0])
        again = ctx.client.generate(first, 8)
        assert ctx.server.alive() and len(outputs) == 4
        return [Check("probe", "fail", "the probe disagreed",
                      {"outputs_seen": len(outputs), "tokens": len(again.token_ids)})]

    plan = BenchPlan(submission(demo_challenge), demo_challenge, [public(demo_challenge, 4)])
    # The stand-in is the referee too (its scoring says every token is its top-1); greedy
    # fidelity needs a referee that decodes with log-probabilities, so none runs here.
    record = run_bench(plan, serve=serve, engine_checks=[repeat_probe], referee_checks=[])
    doc = validate_result(record.result)
    assert doc["verdict"] == "invalid"
    assert doc["reasons"] == [{"check": "probe", "message": "the probe disagreed"}]
    assert doc["checks"][-1]["figures"] == {"outputs_seen": 4, "tokens": 8}
    assert "submission_checks_s" in doc["timings"]
    assert started[0].leftovers() == []
