"""The engine process: arguments, start-up failures, stopping for good, publishable logs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from runner.server import (
    ExternalServer,
    ManagedServer,
    ServerError,
    VllmServer,
    describe_pids,
    engine_argv,
    free_port,
    scrub_log,
)
from tests.runner.standins import standin


def test_engine_arguments_become_vllm_flags() -> None:
    argv = engine_argv({
        "max_model_len": 4096,
        "enforce_eager": True,
        "async_scheduling": False,
        "speculative_config": {"method": "ngram", "num_speculative_tokens": 4},
        "compilation_config": {"cudagraph_capture_sizes": [1, 2, 4]},
        "kv_cache_dtype": "fp8",
    })
    assert argv == [
        "--no-async-scheduling",
        "--compilation-config", '{"cudagraph_capture_sizes":[1,2,4]}',
        "--enforce-eager",
        "--kv-cache-dtype", "fp8",
        "--max-model-len", "4096",
        "--speculative-config", '{"method":"ngram","num_speculative_tokens":4}',
    ]


def test_vllm_command_is_the_harness_s_own(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("VLLM_USE_PRECOMPILED", "1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    server = VllmServer.build(tmp_path / "model", {"max_model_len": 1024}, workdir=tmp_path,
                              seed=1, engine_env={"VLLM_CPU_KVCACHE_SPACE": "1",
                                                  "VLLM_PLUGINS": "evil"},
                              drafter_path=tmp_path / "drafter")
    argv = server.argv
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    for flag in ("--no-enable-prefix-caching", "--no-enable-log-requests"):
        assert flag in argv
    # Reached only through its Unix socket, inside the sandbox's scratch folder.
    assert argv[argv.index("--uds") + 1] == "/scratch/engine.sock"
    assert "--host" not in argv and "--port" not in argv
    assert argv[argv.index("--model") + 1] == "/model"
    assert argv[argv.index("--generation-config") + 1] == "vllm"
    assert "--disable-log-stats" not in argv and "--trust-remote-code" not in argv
    # The environment inside starts empty: only what the engine needs, never the runner's.
    env = server.env
    assert env["VLLM_PLUGINS"] == "" and env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert env["VLLM_CACHE_ROOT"] == "/scratch/vllm-cache"
    assert not {"HF_TOKEN", "GITHUB_TOKEN", "VLLM_USE_PRECOMPILED", "HTTPS_PROXY",
                "PATH", "HOME"} & set(env)
    # The model and the drafter are bound read-only at fixed paths; nothing else of theirs.
    assert server.sandbox is not None
    assert [(str(b.host), b.inside) for b in server.sandbox.binds] == [
        (str(tmp_path / "model"), "/model"), (str(tmp_path / "drafter"), "/drafter")]


def test_a_process_that_exits_during_start_up_is_an_error_with_its_log(tmp_path: Path) -> None:
    server = standin(tmp_path, "--no-such-option")
    server.start()
    with pytest.raises(ServerError) as e:
        server.wait_ready(60)
    assert "exited with code 2 during start-up" in e.value.message
    assert "unrecognized arguments: --no-such-option" in (e.value.log_tail or "")
    assert server.leftovers() == []


def test_start_up_timeout_kills_the_server(tmp_path: Path) -> None:
    server = ManagedServer([sys.executable, "-c", "import time; time.sleep(600)"],
                           port=free_port(), log_path=tmp_path / "log")
    server.start()
    with pytest.raises(ServerError, match=r"did not become ready within 1\.5 s"):
        server.wait_ready(1.5)
    assert server.leftovers() == [] and not _running(server.pid)


def test_stop_escalates_and_finds_escaped_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "escapee.pid"
    server = standin(tmp_path, "--ignore-sigterm", "--escapee", str(pidfile))
    server.start()
    server.wait_ready(60)
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    escapee = int(pidfile.read_text())
    assert os.getsid(escapee) != os.getsid(server.pid)  # really outside the group
    server._remember_tree()  # the runner snapshots the tree while the server runs
    assert escapee in server.leftovers()
    # What a run's reason would say, were it to survive: each process by name and state.
    assert f"pid {escapee} (python" in describe_pids(server.leftovers())
    assert "killed but not yet exited" not in describe_pids([escapee])
    t0 = time.monotonic()
    server.stop(grace=1.0)
    assert time.monotonic() - t0 < 15
    assert server.leftovers() == []
    assert not _running(escapee) and not _running(server.pid)
    assert not server.alive() and server.exit_reason() == "was killed by SIGKILL"
    server.stop()  # twice is fine


def _running(pid: int | None) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_external_server_is_measured_but_never_stopped(tmp_path: Path) -> None:
    owner = standin(tmp_path)
    owner.start()
    try:
        owner.wait_ready(60)
        ext = ExternalServer(owner.base_url + "/")
        assert ext.base_url == owner.base_url and ext.alive()
        ext.stop()
        assert owner.alive() and requests.get(owner.base_url + "/health").ok
        assert ext.uds is None
        assert ext.log_tail() is None and ext.exit_reason() is None
    finally:
        owner.stop()
    assert not ExternalServer(owner.base_url).alive()


def test_log_tails_never_carry_prompts_or_token_ids() -> None:
    log = "\n".join([
        "INFO engine started",
        "INFO Received request cmpl-1: prompt: 'What is the capital of France?'",
        "ERROR failed on tokens [2, 4, 90, 88, 265, 204, 337, 289, 311, 16, 23]",
        "ERROR while handling: the secret private question about zebras, and more",
        "WARNING \x1b[31mred\x1b[0m",
        "(APIServer) INFO Route: /v1/completions, Methods: POST",
    ])
    out = scrub_log(log, secrets=["the secret private question about zebras"])
    assert "capital of France" not in out and "zebras" not in out
    assert "265, 204" not in out and "[token ids removed]" in out
    assert "\x1b" not in out and "Route:" not in out
    assert out.count("[line removed: it may contain prompt text]") == 2
    assert out.splitlines()[0] == "INFO engine started"
