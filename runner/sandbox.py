"""The sandbox every engine runs in: bubblewrap, a private loopback, nothing of the runner's.

Every engine is untrusted (the submission's above all, but the referee too: it loads the
submission's checkpoint, which is untrusted data). Each engine process tree runs in its own
bubblewrap sandbox:

- namespaces: user, PID, network, IPC, UTS, cgroup and mount; no nested user namespaces
  (`--disable-userns`); the engine runs as uid/gid 65534 inside, with no capabilities and
  NoNewPrivs; a kill of the sandbox's first process ends every process in its PID namespace;
- network: a private loopback only (vLLM's CPU worker needs `lo` for gloo); no route out, and
  the runner's own loopback services (its egress proxy, anything else) are out of reach;
- files: `/usr`, the Python installation and the virtual environment read-only; the model (and
  a drafter, and a patched engine's overlay) read-only at fixed paths (`/model`, `/drafter`,
  `/engine`); `/proc`, `/dev` (plus GPU device nodes when the host has them) and `/sys`
  read-only; a generated `/etc` (passwd, group, hosts) holding nothing of the runner's; one
  size-capped scratch tmpfs (`/scratch`: HOME, caches, the socket, and copies of the files the
  harness hands the engine, `SandboxSpec.files`) plus capped `/tmp` and
  `/dev/shm`. Not visible: the private prompts, the checkout, the result folder, the runner's
  home and environment;
- environment: cleared, then only what the engine needs (`--clearenv`);
- the harness reaches the engine only through its Unix socket, `/scratch/engine.sock`, which it
  opens from outside as `/proc/<sandbox pid>/root/scratch/engine.sock`: nothing on the runner's
  own disk is writable from inside.

Where a sandbox cannot be made (no bubblewrap, namespaces refused), starting an engine fails
with `SandboxUnavailable` and the run ends `error` with the reason: never an unsandboxed
fallback.

`python -m runner.sandbox --self-check` starts a probe in a sandbox and prints one JSON line
saying whether every property above holds (the GPU runner's job-started hook runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

SANDBOX_UID = 65534
SCRATCH = "/scratch"
SOCKET = f"{SCRATCH}/engine.sock"
MODEL_DIR = "/model"
DRAFTER_DIR = "/drafter"
ENGINE_DIR = "/engine"  # a patched copy of the engine package, first on PYTHONPATH
DEFAULT_SCRATCH_BYTES = 4 << 30
GPU_DEVICE_GLOBS = ("nvidia[0-9]*", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                    "nvidia-modeset", "nvidia-caps/*", "dri/*")
# Set inside every sandbox (the engine's own variables come on top).
PATH = "/usr/local/bin:/usr/bin:/bin"

_PASSWD = f"root:x:0:0::/:/usr/sbin/nologin\nengine:x:{SANDBOX_UID}:{SANDBOX_UID}::{SCRATCH}:/usr/sbin/nologin\n"
_GROUP = f"root:x:0:\nengine:x:{SANDBOX_UID}:\n"
_HOSTS = "127.0.0.1 localhost sandbox\n::1 localhost\n"


class SandboxUnavailable(Exception):
    """No sandbox can be made on this machine: the run cannot start an engine."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Bind:
    host: Path
    inside: str


@dataclass(frozen=True)
class SandboxSpec:
    """One sandboxed process: what it runs, what it sees read-only, its environment."""

    argv: Sequence[str]
    binds: Sequence[Bind] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    scratch_bytes: int = DEFAULT_SCRATCH_BYTES
    devices: bool = True  # bind the host's GPU device nodes when it has them
    # Files made in the scratch folder at start, {path inside: content}: the engine's own
    # copies, writable, gone with the sandbox (bubblewrap copies each from a descriptor).
    files: Mapping[str, bytes] = field(default_factory=dict)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def python_roots() -> list[Path]:
    """The Python installation and the virtual environment the engine runs from."""
    roots = []
    for p in (sys.base_prefix, sys.prefix, sysconfig.get_paths().get("stdlib", "")):
        if not p:
            continue
        path = Path(p).resolve()
        if str(path).startswith("/usr/") or path == Path("/usr"):
            continue  # under /usr, which is bound anyway
        if not any(path == r or r in path.parents for r in roots):
            roots = [r for r in roots if path not in r.parents] + [path]
    return roots


def python() -> str:
    """The Python to run inside a sandbox: this virtual environment's interpreter by its
    resolved path (a venv reached through a symbolic link is bound at its real location)."""
    exe = Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name
    return str(exe) if exe.exists() else sys.executable


def gpu_devices(dev: Path = Path("/dev")) -> list[Path]:
    out: list[Path] = []
    for pattern in GPU_DEVICE_GLOBS:
        out += sorted(p for p in dev.glob(pattern) if p.exists())
    return out


def etc_folder(work: Path) -> Path:
    """A minimal /etc for the sandbox, written to the run's own folder (nothing of the host's)."""
    etc = Path(work) / "sandbox-etc"
    etc.mkdir(parents=True, exist_ok=True)
    for name, text in (("passwd", _PASSWD), ("group", _GROUP), ("hosts", _HOSTS),
                       ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n")):
        (etc / name).write_text(text, encoding="ascii")
    return etc


def bwrap_argv(spec: SandboxSpec, *, work: Path, status_fd: int | None = None,
               file_fds: Mapping[str, int] | None = None) -> list[str]:
    """The bubblewrap command line for `spec`. `work` is a host folder of the harness's own
    (only the generated /etc is taken from it, read-only). `file_fds` are the descriptors
    `file_descriptors(spec)` opened, to be passed to bubblewrap."""
    if set(spec.files) != set(file_fds or {}):
        raise ValueError("bwrap_argv: every file of the spec needs its descriptor")
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed on this runner; engines "
                                 "run only in a sandbox. Install Debian's bubblewrap package.")
    etc = etc_folder(work)
    size = str(int(spec.scratch_bytes))
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = Path("/") / top
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            argv += ["--ro-bind", str(p), str(p)]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--ro-bind-try", "/etc/alternatives", "/etc/alternatives"]
    for name in ("passwd", "group", "hosts", "nsswitch.conf"):
        argv += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys"]
    if spec.devices:
        for d in gpu_devices():
            argv += ["--dev-bind", str(d), str(d)]
    # The capped tmpfs mounts first: a Python installation, a virtual environment or a model
    # that lives under /tmp on the host is then bound on top of the sandbox's own /tmp, not
    # hidden by it.
    argv += ["--size", size, "--tmpfs", SCRATCH,
             "--size", size, "--tmpfs", "/tmp",
             "--size", size, "--tmpfs", "/dev/shm"]
    made: set[str] = set()
    for inside, fd in sorted((file_fds or {}).items()):
        for parent in reversed(Path(inside).parents):
            if Path(SCRATCH) in parent.parents and str(parent) not in made:
                argv += ["--dir", str(parent)]
                made.add(str(parent))
        argv += ["--perms", "0644", "--file", str(fd), inside]
    for root in python_roots():
        argv += ["--ro-bind", str(root), str(root)]
    for b in spec.binds:
        argv += ["--ro-bind", str(b.host), b.inside]
    argv += ["--chdir", SCRATCH, "--clearenv"]
    env = {"PATH": PATH, "HOME": SCRATCH, "TMPDIR": "/tmp", "XDG_CACHE_HOME": f"{SCRATCH}/.cache",
           "LANG": "C.UTF-8"}
    env.update(spec.env)
    for k in sorted(env):
        argv += ["--setenv", k, env[k]]
    if status_fd is not None:
        argv += ["--json-status-fd", str(status_fd)]
    return argv + ["--", *spec.argv]


def file_descriptors(spec: SandboxSpec) -> dict[str, int]:
    """One readable descriptor per file of `spec` (an anonymous in-memory file holding its
    content), for `bwrap_argv`; the caller closes them once bubblewrap has started. Only
    paths under the scratch folder are accepted: nothing else in the sandbox is writable."""
    fds: dict[str, int] = {}
    try:
        for inside, data in spec.files.items():
            path = Path(inside)
            if not path.is_absolute() or Path(SCRATCH) not in path.parents or ".." in path.parts:
                raise ValueError(f"a sandbox file must lie under {SCRATCH}: {inside!r}")
            fd = os.memfd_create("arena-sandbox-file")
            fds[inside] = fd
            with open(fd, "wb", closefd=False) as f:
                f.write(data)
            os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    return fds


def read_child_pid(fd: int, timeout: float = 30.0) -> int:
    """The host PID of the sandbox's first process, from bwrap's JSON status (its first line)."""
    deadline = time.monotonic() + timeout
    buf = b""
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            break
        buf += chunk
        if b"\n" in buf or buf.rstrip().endswith(b"}"):
            try:
                return int(json.loads(buf.split(b"\n", 1)[0])["child-pid"])
            except (ValueError, KeyError, TypeError):
                if b"\n" in buf:
                    break
    raise SandboxUnavailable("bubblewrap did not report its sandbox (namespaces refused?)")


def socket_path(child_pid: int) -> str:
    """The engine's socket as the harness opens it: through the sandbox's own root."""
    return f"/proc/{child_pid}/root{SOCKET}"


# -- the self-check ---------------------------------------------------------------------------

_PROBE = r'''
import json, os, socket, sys
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "allowed"
    except Exception as exc:
        out[name] = type(exc).__name__ + ": " + str(exc)[:120]
def udp_route():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("192.0.2.1", 9))  # a route lookup only: UDP connect sends nothing
def host_loopback():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
def read_secret():
    open(sys.argv[2]).read()
def write_outside():
    open(sys.argv[3], "w").write("x")
def write_usr():
    open("/usr/arena-probe", "w").write("x")
def nested_userns():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
attempt("outside_route", udp_route)
attempt("host_loopback", host_loopback)
attempt("read_private", read_secret)
attempt("write_outside_scratch", write_outside)
attempt("write_usr", write_usr)
attempt("nested_userns", nested_userns)
attempt("write_scratch", lambda: open("/scratch/probe", "w").write("x"))
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
out["cap_eff"] = status["CapEff"].strip()
out["no_new_privs"] = status["NoNewPrivs"].strip()
out["uid"] = os.getuid()
out["interfaces"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
out["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["environment"] = sorted(os.environ)
print(json.dumps(out))
'''


def self_check(scratch_bytes: int = 64 << 20, timeout: float = 60.0) -> dict[str, object]:
    """Start a probe in a sandbox made exactly as an engine's, and judge what it could do."""
    result: dict[str, object] = {"format": "arena.sandbox-check/1", "ok": False}
    with tempfile.TemporaryDirectory(prefix="arena-sandbox-check-") as tmp:
        tmpd = Path(tmp)
        secret = tmpd / "private" / "secret.jsonl"
        secret.parent.mkdir()
        secret.write_text("private prompt\n")
        target = tmpd / "written-from-inside"
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        try:
            argv = bwrap_argv(SandboxSpec([python(), "-c", _PROBE, str(port), str(secret),
                                           str(target)], scratch_bytes=scratch_bytes),
                              work=tmpd)
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env={"PATH": os.environ.get("PATH", PATH),
                                       "ARENA_SELF_CHECK_SECRET": "must-not-leak"})
        except SandboxUnavailable as exc:
            result["reason"] = exc.message
            return result
        except subprocess.TimeoutExpired:
            result["reason"] = f"the sandbox probe did not finish within {timeout:g} s"
            return result
        finally:
            listener.close()
        if proc.returncode != 0:
            result["reason"] = ("a sandbox could not be started (bubblewrap exited with "
                                f"code {proc.returncode}): {proc.stderr.strip()[-300:]}")
            return result
        try:
            seen = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            result["reason"] = "the sandbox probe printed no report"
            return result
        problems = judge(seen, wrote_outside=target.exists())
    result.update(ok=not problems, problems=problems, seen=seen)
    if problems:
        result["reason"] = "; ".join(problems)
    return result


def judge(seen: Mapping[str, object], *, wrote_outside: bool) -> list[str]:
    """What a sandbox probe's report says is wrong with the sandbox (nothing, when it holds)."""
    problems = []
    for key in ("outside_route", "host_loopback", "read_private", "write_outside_scratch",
                "write_usr", "nested_userns"):
        if seen.get(key) == "allowed":
            problems.append(f"{key.replace('_', ' ')} was possible")
    if wrote_outside:
        problems.append("a file outside scratch was written")
    if seen.get("write_scratch") != "allowed":
        problems.append("scratch is not writable")
    if seen.get("cap_eff") != "0000000000000000":
        problems.append(f"capabilities left: {seen.get('cap_eff')}")
    if seen.get("no_new_privs") != "1":
        problems.append("NoNewPrivs is not set")
    if seen.get("uid") != SANDBOX_UID:
        problems.append(f"runs as uid {seen.get('uid')}, not {SANDBOX_UID}")
    if seen.get("interfaces") != ["lo"]:
        problems.append(f"network interfaces {seen.get('interfaces')}, not only lo")
    procs = seen.get("processes")
    if not isinstance(procs, list) or len(procs) > 3:
        problems.append("the runner's processes are visible")
    env = seen.get("environment")
    if not isinstance(env, list) or "ARENA_SELF_CHECK_SECRET" in env:
        problems.append("the runner's environment is visible")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runner.sandbox",
                                 description="Check that an engine sandbox can be made here.")
    ap.add_argument("--self-check", action="store_true", required=True,
                    help="start a probe in a sandbox; print one JSON line (ok, problems)")
    ap.parse_args(argv)
    result = self_check()
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
