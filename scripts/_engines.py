"""Benchmark scripts only: the runner's own vLLM command, started outside the sandbox on a TCP
port, to compare with (vLLM's benchmark client speaks TCP; the sandbox's start-up is measured
against it). A run never starts an engine like this."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping


def tcp_server(model: Path, engine_args: Mapping[str, Any], *, seed: int,
               engine_env: Mapping[str, str], work: Path):  # type: ignore[no-untyped-def]
    """An unstarted ManagedServer: VllmServer's command with --host/--port for --uds."""
    from runner.modelinfo import CACHE_INSIDE
    from runner.server import ManagedServer, VllmServer, free_port

    built = VllmServer.build(model, engine_args, workdir=work, seed=seed, engine_env=engine_env)
    port = free_port()
    argv = list(built.argv)
    i = argv.index("--uds")
    argv[i:i + 2] = ["--host", "127.0.0.1", "--port", str(port)]
    argv[argv.index("--model") + 1] = str(model)
    env = dict(built.env, VLLM_CACHE_ROOT=str(work / "vllm-cache"), PATH="/usr/bin:/bin",
               HOME=str(work))
    for inside, data in built.sandbox.files.items():  # the facts a sandboxed start is given
        path = work / "vllm-cache" / Path(inside).relative_to(CACHE_INSIDE)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return ManagedServer(argv, port=port, log_path=work / "engine.log", env=env)
