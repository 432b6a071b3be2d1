"""The sandbox every engine runs in (runner.sandbox): what it lets an engine do, what it does
not, and how a run ends when something in the engine's seat tries to get out.

The probe and the stand-in run in real bubblewrap sandboxes, made exactly as the runner makes
them for vLLM. Nothing here sends a packet off this machine: the "outside address" attempt is
a UDP connect, which only looks up a route.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from arena.result import validate_result
from runner import sandbox as sbx
from runner.bench import REFEREE, BenchPlan, ServeSpec, run_bench
from runner.server import ExternalServer, ManagedServer, Server, ServerError, http_client
from tests.conftest import REPO, engine_processes
from tests.runner.standins import standin
from tests.runner.test_bench import public, submission


def test_the_self_check_finds_every_property_holding_here() -> None:
    proc = subprocess.run([sys.executable, "-m", "runner.sandbox", "--self-check"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["ok"] is True, doc
    seen = doc["seen"]
    assert seen["interfaces"] == ["lo"] and seen["uid"] == sbx.SANDBOX_UID
    assert seen["cap_eff"] == "0000000000000000" and seen["no_new_privs"] == "1"
    assert "Network is unreachable" in seen["outside_route"]
    assert "Connection refused" in seen["host_loopback"]  # the runner's loopback is not there
    assert "No such file" in seen["read_private"]
    assert "Read-only file system" in seen["write_usr"]
    assert seen["write_scratch"] == "allowed"
    assert "ARENA_SELF_CHECK_SECRET" not in seen["environment"]


GOOD = {"outside_route": "OSError: [Errno 101] Network is unreachable",
        "host_loopback": "ConnectionRefusedError", "read_private": "FileNotFoundError",
        "write_outside_scratch": "FileNotFoundError", "write_usr": "OSError: read-only",
        "nested_userns": "OSError: no space", "write_scratch": "allowed",
        "cap_eff": "0000000000000000", "no_new_privs": "1", "uid": sbx.SANDBOX_UID,
        "interfaces": ["lo"], "processes": [1, 2], "environment": ["HOME", "PATH"]}


@pytest.mark.parametrize("change, problem", [
    ({"outside_route": "allowed"}, "outside route was possible"),
    ({"host_loopback": "allowed"}, "host loopback was possible"),
    ({"read_private": "allowed"}, "read private was possible"),
    ({"nested_userns": "allowed"}, "nested userns was possible"),
    ({"cap_eff": "00000000a80425fb"}, "capabilities left"),
    ({"no_new_privs": "0"}, "NoNewPrivs is not set"),
    ({"uid": 0}, "runs as uid 0"),
    ({"interfaces": ["eth0", "lo"]}, "not only lo"),
    ({"processes": list(range(1, 200))}, "the runner's processes are visible"),
    ({"environment": ["ARENA_SELF_CHECK_SECRET", "PATH"]}, "environment is visible"),
    ({"write_scratch": "OSError"}, "scratch is not writable"),
])
def test_the_self_check_names_what_is_wrong(change, problem) -> None:
    assert sbx.judge(GOOD, wrote_outside=False) == []
    problems = sbx.judge({**GOOD, **change}, wrote_outside=False)
    assert len(problems) == 1 and problem in problems[0]
    assert sbx.judge(GOOD, wrote_outside=True) == ["a file outside scratch was written"]


def test_the_sandbox_sees_nothing_of_the_runner(tmp_path: Path) -> None:
    argv = sbx.bwrap_argv(sbx.SandboxSpec(["/bin/true"]), work=tmp_path)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind",
                                                              "--dev-bind")]
    for hidden in (str(REPO), str(Path.home()), "/etc", "/home", "/work", "/var", "/run"):
        assert hidden not in binds, hidden
    assert "--bind" not in argv  # nothing of the host is writable
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--clearenv"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"


def test_a_model_or_environment_under_tmp_is_not_hidden_by_the_sandboxs_own_tmp(
        tmp_path: Path) -> None:
    """A checkout (its .venv, its .arena/models) may live under /tmp on the host: the binds
    come after the sandbox's own /tmp, so they are mounted on it, not hidden by it."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    argv = sbx.bwrap_argv(sbx.SandboxSpec([sbx.python(), "-c", "import sys, json; "
                                            "print(open('/model/config.json').read())"],
                                           [sbx.Bind(model, "/model"),
                                            sbx.Bind(tmp_path, str(tmp_path))]), work=tmp_path)
    assert argv.index("/tmp") < argv.index(str(tmp_path))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "{}", proc.stderr


def test_an_engine_log_is_capped(tmp_path: Path) -> None:
    server = ManagedServer([sys.executable, "-c", "import sys\nfor _ in range(4000): "
                            "sys.stdout.write('x' * 1000 + '\\n')\nimport time; time.sleep(30)"],
                           log_path=tmp_path / "engine.log", port=1, log_cap=100_000)
    server.start()
    try:
        import time

        deadline = time.monotonic() + 30
        while (tmp_path / "engine.log").stat().st_size < 100_000 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    text = (tmp_path / "engine.log").read_text()
    assert 100_000 <= len(text) < 101_000 and text.endswith("the rest was dropped]\n")


def test_without_bubblewrap_a_run_ends_in_error_never_unsandboxed(
        demo_challenge, tiny_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no bwrap to be found
    started: list[Server] = []

    def serve(spec: ServeSpec) -> Server:
        s = standin(spec.workdir, sandboxed=True)
        started.append(s)
        s.start()
        s.wait_ready(60)
        return s

    record = run_bench(BenchPlan(submission(demo_challenge), demo_challenge,
                                 [public(demo_challenge, 2)]), serve=serve)
    doc = validate_result(record.result)
    assert doc["verdict"] == "error" and doc["stage"] == "time"
    [reason] = doc["reasons"]
    assert reason["check"] == "engine"
    assert "sandbox could not be made" in reason["message"] and "bubblewrap" in reason["message"]
    assert "never run outside a sandbox" in reason["message"]
    assert not started[0].alive()


@pytest.mark.vllm
def test_an_engine_that_tries_to_get_out_gets_nothing_and_the_run_ends_with_a_verdict(
        tiny_server, demo_challenge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in in the submission's seat, in the sandbox exactly as vLLM would be, tries to
    reach out, read the private prompts, read the runner's environment and write outside its
    scratch. Each attempt fails; the run goes on to its verdict (the stand-in's tokens are not
    the model's), and nothing is left running."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "prompts.jsonl").write_text('{"id": "p1", "secret": "the private prompt"}\n')
    target = tmp_path / "written-from-inside"
    monkeypatch.setenv("ARENA_RUNNER_SECRET", "ghs_must_not_leak")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    targets = {"host_port": listener.getsockname()[1], "private": str(private),
               "write": str(target), "env": "ARENA_RUNNER_SECRET"}
    seen: dict = {}
    work = tmp_path / "work"

    def serve(spec: ServeSpec) -> Server:
        if spec.role == REFEREE:
            return ExternalServer(tiny_server.base_url, uds=tiny_server.uds)
        s = standin(spec.workdir, "--attack", json.dumps(targets), sandboxed=True)
        s.start()
        s.wait_ready(60)
        with http_client(s, 10) as c:
            seen.update(c.get("/attack").json())
        return s

    try:
        record = run_bench(BenchPlan(submission(demo_challenge), demo_challenge,
                                     [public(demo_challenge, 2)]), serve=serve, workdir=work)
    finally:
        listener.close()
    assert "Network is unreachable" in seen["outside_address"]
    assert "Connection refused" in seen["runner_loopback"]
    assert "FileNotFoundError" in seen["read_private"]
    assert "FileNotFoundError" in seen["write_outside_scratch"] and not target.exists()
    assert "Read-only file system" in seen["write_system"]
    assert seen["runner_environment"] == "not visible"
    assert not {"ARENA_RUNNER_SECRET", "HF_TOKEN", "GITHUB_TOKEN"} & set(seen["environment_names"])
    assert seen["write_scratch"] == "allowed"
    doc = validate_result(record.result)
    assert doc["verdict"] == "invalid" and doc["stage"] == "verdict"
    assert "scoring_consistency" in [r["check"] for r in doc["reasons"]]
    assert engine_processes(work) == []
    assert os.environ["ARENA_RUNNER_SECRET"] not in json.dumps(doc)
