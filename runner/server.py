"""The engine as a server the runner measures: starting it, watching it, stopping it for good.

`Server` is the seam between measuring and serving. The measurement code only needs a way to
reach the server (`base_url`, and `uds` when it listens on a Unix socket), the served model's
name, whether the server is still alive, and how its process ended. The normal implementation
is `VllmServer`: vLLM's OpenAI-compatible server started by the runner inside its own sandbox
(`runner.sandbox`: bubblewrap, private loopback, read-only model and engine, a capped scratch
folder) and reached only through its Unix socket, with a fresh cache (holding only vLLM's
facts about the model's class, `runner.modelinfo`), plugins disabled, prefix
caching off, request logging off, the Hub offline, and only the validated engine arguments.
`ManagedServer` is the process handling underneath it, usable with any command (tests start
stand-in servers with it, sandboxed or not); `ExternalServer` is a server someone else started
(a proxy in front of an engine).

Stopping kills the whole process group (SIGTERM, then SIGKILL), then every process that was ever
seen descending from the server, and checks that none is left. For a sandboxed server, the
death of bubblewrap takes the sandbox's PID namespace, and every process in it, with it.

The engine's log (everything it wrote) is the engine's own text: untrusted, and possibly
carrying encoded private prompts. It is kept in a capped file for maintainers
(`runner.enginelog`); nothing from it is published.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import httpx

from arena.text import for_terminal
from runner import modelinfo
from runner import sandbox as sbx
from runner.fingerprint import installed_engine_version

SERVED_MODEL_NAME = "submission"
LOG_TAIL_LINES = 60
LOG_TAIL_CHARS = 8000
LOG_CAP_BYTES = 64 << 20  # an engine cannot fill the runner's disk through its log
DYING_GRACE_S = 60.0  # how long stop() waits for killed processes that have not exited yet
UDS_BASE_URL = "http://engine"


class ServerError(Exception):
    """The engine failed (did not start, crashed, hung). The run's verdict is `error`."""

    def __init__(self, message: str, *, log_tail: str | None = None):
        self.message = message
        self.log_tail = log_tail
        super().__init__(message)


class Server(Protocol):
    """An OpenAI-compatible engine server being measured."""

    base_url: str  # http://host:port, no trailing slash (UDS_BASE_URL on a Unix socket)
    uds: str | None  # the Unix socket to connect to, or None for TCP
    model: str  # the served model name to put in requests

    def alive(self) -> bool:
        """False once the server is known to be gone (its process exited)."""

    def exit_reason(self) -> str | None:
        """How the server's process ended ("exited with code 1"), or None if alive/unknown."""

    def log_tail(self) -> str | None:
        """The scrubbed tail of the server's log (for maintainers only, never published), or
        None when the runner has no log."""

    def stop(self) -> None:
        """Stop the server and everything it started. Safe to call twice."""


class ExternalServer:
    """A server the runner did not start: it is only measured, never stopped."""

    def __init__(self, base_url: str, model: str = SERVED_MODEL_NAME, *,
                 uds: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.uds = uds
        self.model = model

    def alive(self) -> bool:
        try:
            with http_client(self, 5.0) as c:
                return c.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def exit_reason(self) -> str | None:
        return None

    def log_tail(self) -> str | None:
        return None

    def stop(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"ExternalServer({self.base_url!r})"


def http_client(server: Any, timeout: float, *, connect: float | None = None) -> httpx.Client:
    """An HTTP client for `server`: over its Unix socket when it has one, else over TCP."""
    transport = httpx.HTTPTransport(uds=server.uds) if getattr(server, "uds", None) else None
    return httpx.Client(base_url=server.base_url, transport=transport,
                        timeout=httpx.Timeout(timeout, connect=connect or min(10.0, timeout)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedServer:
    """A server process the runner owns: its own session and process group, its log in a
    capped file. With `sandbox`, the process runs inside a bubblewrap sandbox
    (`runner.sandbox`) and is reached through its Unix socket; `argv` and `env` are then what
    runs inside."""

    def __init__(self, argv: Sequence[str], *, log_path: Path, port: int | None = None,
                 env: Mapping[str, str] | None = None, model: str = SERVED_MODEL_NAME,
                 scrub_secrets: Sequence[str] = (), cwd: Path | None = None,
                 sandbox: sbx.SandboxSpec | None = None, log_cap: int = LOG_CAP_BYTES):
        self.argv = list(argv)
        self.port = port
        self.sandbox = sandbox
        self.uds: str | None = None
        self.base_url = UDS_BASE_URL if sandbox else f"http://127.0.0.1:{port}"
        self.model = model
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else dict(os.environ)
        self.scrub_secrets = list(scrub_secrets)
        self.cwd = cwd
        self.log_cap = log_cap
        self.child_pid: int | None = None  # the sandbox's first process (host PID)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._status_fd: int | None = None
        self._pgid: int | None = None
        self._seen: dict[int, float] = {}  # pid -> create time of every process seen in the tree
        self._stopped = False

    # -- starting --------------------------------------------------------------------------

    def start(self) -> "ManagedServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv, env, pass_fds = self.argv, self.env, ()
        status_r = status_w = None
        if self.sandbox is not None:
            status_r, status_w = os.pipe()
            spec = dataclasses.replace(self.sandbox, argv=self.argv, env=self.env)
            file_fds = sbx.file_descriptors(spec)
            try:
                argv = sbx.bwrap_argv(spec, work=self.log_path.parent, status_fd=status_w,
                                      file_fds=file_fds)
            except sbx.SandboxUnavailable as exc:
                for fd in (status_r, status_w, *file_fds.values()):
                    os.close(fd)
                raise ServerError("the engine's sandbox could not be made: " + exc.message
                                  + " Engines never run outside a sandbox.") from None
            env = {"PATH": os.environ.get("PATH", sbx.PATH)}
            pass_fds = (status_w, *file_fds.values())
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env, cwd=self.cwd, start_new_session=True, close_fds=True,
                pass_fds=pass_fds)
        finally:
            for fd in pass_fds:
                os.close(fd)
        self._pgid = self._proc.pid  # leader of its own new session and process group
        log = open(self.log_path, "ab")  # exists from now on; the pump writes it
        self._pump = threading.Thread(target=_pump_log, args=(self._proc.stdout, log,
                                                              self.log_cap), daemon=True)
        self._pump.start()
        if status_r is not None:
            # Kept open until the end: bubblewrap writes the exit status there last, and a
            # closed pipe would kill it with SIGPIPE instead.
            self._status_fd = status_r
            try:
                self.child_pid = sbx.read_child_pid(status_r)
                self.uds = sbx.socket_path(self.child_pid)
            except sbx.SandboxUnavailable as exc:
                code = self._proc.poll()
                self.stop()
                raise ServerError("the engine's sandbox could not be made: " + exc.message
                                  + (f" (bubblewrap {describe_exit(code)})" if code is not None
                                     else ""), log_tail=self.log_tail()) from None
        self._remember_tree()
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def wait_ready(self, timeout: float, *, path: str = "/v1/models",
                   on_wait: Callable[[float], None] | None = None, poll: float = 0.25) -> float:
        """Block until GET `path` answers 200. Returns the seconds waited. Raises ServerError
        (after stopping the server) when the process exits or `timeout` passes first."""
        assert self._proc is not None, "start() first"
        t0 = time.monotonic()
        last_note = t0
        client = http_client(self, min(5.0, poll * 8))
        try:
            while True:
                code = self._proc.poll()
                if code is not None:
                    self.stop()
                    raise ServerError(f"the engine {describe_exit(code)} during start-up",
                                      log_tail=self.log_tail())
                try:
                    if client.get(path).status_code == 200:
                        self._remember_tree()
                        return time.monotonic() - t0
                except httpx.HTTPError:
                    pass
                now = time.monotonic()
                if now - t0 > timeout:
                    self.stop()
                    raise ServerError(f"the engine did not become ready within {timeout:g} s "
                                      "(start-up timeout)", log_tail=self.log_tail())
                if on_wait and now - last_note >= 15:
                    on_wait(now - t0)
                    last_note = now
                self._remember_tree()
                time.sleep(poll)
        finally:
            client.close()

    # -- watching --------------------------------------------------------------------------

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_reason(self) -> str | None:
        if self._proc is None:
            return None
        code = self._proc.poll()
        return None if code is None else describe_exit(code)

    def log_tail(self) -> str | None:
        return read_log_tail(self.log_path, secrets=self.scrub_secrets)

    # -- stopping --------------------------------------------------------------------------

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the process group, then kill it, then every descendant ever seen."""
        if self._proc is None or self._stopped:
            return
        self._remember_tree()
        pgid = self._pgid
        assert pgid is not None
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._group_alive():
            try:
                self._proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(pgid, signal.SIGKILL)
        for pid in self._living_seen():
            _kill_pid(pid)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while self.leftovers() and time.monotonic() < deadline:
            for pid in self.leftovers():
                _kill_pid(pid)
            time.sleep(0.1)
        # A killed process can take a while to exit: a GPU driver releasing a large context,
        # or (seen on a busy 2-core machine) threads pinned to a saturated core. Wait longer
        # for those whose kill is pending; anything else that is left is reported as it is.
        deadline = time.monotonic() + DYING_GRACE_S
        while (left := self.leftovers()) and all(map(_kill_pending, left)) and \
                time.monotonic() < deadline:
            time.sleep(0.25)
        self._stopped = True
        if self._pump is not None:
            self._pump.join(timeout=5)  # the pipe closes once every writer is gone
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None

    def leftovers(self) -> list[int]:
        """Processes of this server still running (not zombies): none after stop()."""
        out = set(self._living_seen())
        if self._pgid is not None:
            out.update(_group_members(self._pgid))
        return sorted(out)

    def _group_alive(self) -> bool:
        return bool(self._pgid is not None and _group_members(self._pgid))

    def _remember_tree(self) -> None:
        import psutil

        if self._proc is None:
            return
        try:
            root = psutil.Process(self._proc.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return
        for p in procs:
            try:
                self._seen.setdefault(p.pid, p.create_time())
            except psutil.Error:
                pass

    def _living_seen(self) -> list[int]:
        import psutil

        out = []
        for pid, created in self._seen.items():
            try:
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.Error:
                pass
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pid={self.pid}, {self.base_url})"


def _group_members(pgid: int) -> list[int]:
    import psutil

    out = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except (OSError, psutil.Error):
            pass
    return out


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def describe_pids(pids: Sequence[int], limit: int = 10) -> str:
    """`pid 12 (VLLM::Worker, running, killed but not yet exited), ...`: what is left, for a
    reason a maintainer can act on."""
    import psutil

    out = []
    for pid in list(pids)[:limit]:
        try:
            p = psutil.Process(pid)
            dying = ", killed but not yet exited" if _kill_pending(pid) else ""
            out.append(f"pid {pid} ({p.name()}, {p.status()}{dying})")
        except psutil.Error:
            out.append(f"pid {pid} (gone)")
    more = len(pids) - limit
    return ", ".join(out) + (f" and {more} more" if more > 0 else "")


def _kill_pending(pid: int) -> bool:
    """Whether a SIGKILL is pending for the process (it can no longer run its own code)."""
    bit = 1 << (signal.SIGKILL - 1)
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return any(int(line.split()[1], 16) & bit for line in f
                       if line.startswith(("SigPnd:", "ShdPnd:")))
    except (OSError, ValueError, IndexError):
        return False


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pump_log(stream: Any, log: Any, cap: int) -> None:
    """Copy the engine's output to its log file, up to `cap` bytes; the rest is read and
    dropped (a full pipe would stall the engine), and the file says so."""
    written = 0
    with log:
        for chunk in iter(lambda: stream.read1(65536), b""):
            if written < cap:
                part = chunk[:cap - written]
                log.write(part)
                log.flush()
                written += len(part)
                if written >= cap:
                    log.write(b"\n[arena: the log reached its cap; the rest was dropped]\n")
                    log.flush()
    stream.close()


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


# -- vLLM ----------------------------------------------------------------------------------------

def engine_argv(args: Mapping[str, Any]) -> list[str]:
    """Validated engine arguments as vLLM command-line flags: booleans as --x / --no-x,
    mappings and lists as JSON, everything else as its string form."""
    out: list[str] = []
    for key in sorted(args):
        value = args[key]
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, (dict, list)):
            out += [flag, json.dumps(value, sort_keys=True, separators=(",", ":"))]
        elif value is None:
            continue
        else:
            out += [flag, str(value)]
    return out


# Set by the harness on every run; a challenge's engine_env cannot override them.
HARNESS_ENV = {
    "VLLM_PLUGINS": "",  # no plugin entry points: nothing installed beside vLLM runs
    "HF_HUB_OFFLINE": "1",  # the model was downloaded before; serving never fetches
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "PYTHONUNBUFFERED": "1",  # the log tail is current when the engine dies
}


class VllmServer(ManagedServer):
    """vLLM's OpenAI-compatible server for one checkpoint, as the runner starts it: in its
    own sandbox, listening on a Unix socket in the sandbox's scratch folder."""

    @classmethod
    def build(cls, model_path: Path, engine_args: Mapping[str, Any], *, workdir: Path,
              seed: int, engine_env: Mapping[str, str] | None = None,
              python: str | None = None, scrub_secrets: Sequence[str] = (),
              drafter_path: Path | None = None, overlay: Path | None = None,
              scratch_bytes: int = sbx.DEFAULT_SCRATCH_BYTES,
              log_cap: int = LOG_CAP_BYTES, progress: Callable[[str], None] | None = None,
              ) -> "VllmServer":
        """A server ready to start(). `engine_args` are the validated submission arguments
        (with the challenge's defaults merged in; a drafter named by `sandbox.DRAFTER_DIR`,
        served from `drafter_path`). `overlay` is a folder holding a patched `vllm` package
        (`runner.overlay`), put first on the engine's import path. The engine's fresh vLLM
        cache starts with vLLM's facts about the model's class (`runner.modelinfo`)."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        binds = [sbx.Bind(Path(model_path), sbx.MODEL_DIR)]
        if drafter_path is not None:
            binds.append(sbx.Bind(Path(drafter_path), sbx.DRAFTER_DIR))
        # Inside the sandbox the environment starts empty: the challenge's engine_env, then
        # the harness's own settings (which engine_env cannot override).
        env = dict(engine_env or {})
        env.update(HARNESS_ENV)
        env["VLLM_CACHE_ROOT"] = f"{sbx.SCRATCH}/vllm-cache"  # fresh per run: nothing reused
        if overlay is not None:
            binds.append(sbx.Bind(Path(overlay), sbx.ENGINE_DIR))
            env["PYTHONPATH"] = sbx.ENGINE_DIR
        python = python or sbx.python()
        files = modelinfo.sandbox_files([p for p in (model_path, drafter_path) if p],
                                        python=python, engine_version=installed_engine_version(),
                                        progress=progress)
        argv = [
            python, "-m", "vllm.entrypoints.openai.api_server",
            "--model", sbx.MODEL_DIR,
            "--served-model-name", SERVED_MODEL_NAME,
            "--uds", sbx.SOCKET,
            "--seed", str(seed),
            "--no-enable-prefix-caching",
            "--no-enable-log-requests",
            "--disable-uvicorn-access-log",
            # Decoding defaults come from vLLM, not from the checkpoint's generation_config.json;
            # every request sets its own decoding parameters anyway.
            "--generation-config", "vllm",
            *engine_argv(engine_args),
        ]
        return cls(argv, log_path=workdir / "engine.log", env=env, scrub_secrets=scrub_secrets,
                   sandbox=sbx.SandboxSpec(argv, binds, env, scratch_bytes, files=files),
                   log_cap=log_cap)


# -- log tails -------------------------------------------------------------------------------

_TOKEN_LIST = re.compile(r"\[\s*-?\d+(?:\s*,\s*-?\d+){7,}[^\]]*\]?")
_NOISE = re.compile(r"Route: /|GET /health|GET /v1/models|DeprecationWarning|warnings\.warn")
_PROMPTISH = re.compile(r"prompt", re.IGNORECASE)


def scrub_log(text: str, secrets: Sequence[str] = ()) -> str:
    """Make engine log lines safe to publish: no prompt text, no token-ID lists, no terminal
    control characters. Lines that mention prompts are dropped whole; so is any line holding
    a fragment of a private prompt or reference."""
    fragments = [s[:40] for s in secrets if len(s.strip()) >= 12]
    fragments += [s for s in secrets if 0 < len(s.strip()) < 12]
    out = []
    for line in text.splitlines():
        if _NOISE.search(line):
            continue
        if _PROMPTISH.search(line) or any(f in line for f in fragments):
            out.append("[line removed: it may contain prompt text]")
            continue
        out.append(for_terminal(_TOKEN_LIST.sub("[token ids removed]", line), 500))
    return "\n".join(out)


def read_log_tail(path: Path, *, secrets: Sequence[str] = (), lines: int = LOG_TAIL_LINES,
                  chars: int = LOG_TAIL_CHARS) -> str | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 512 * 1024))
            raw = f.read()
    except OSError:
        return None
    text = scrub_log(raw.decode("utf-8", errors="replace"), secrets)
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-chars:] if tail else None
