"""vLLM's facts about a model class, worked out once per vLLM release and handed to each engine.

On every start, vLLM inspects the served model's class (is it a text generator, does it support
pipeline parallelism, ...) in a fresh Python process, unless `$VLLM_CACHE_ROOT/modelinfos` holds
the answer, keyed by the hash of the model's module file. Each engine's cache root is a fresh
folder in its sandbox, so every start paid for that process: 7 s of a 30 s start of the tiny
model on the CPU build here.

The harness works the answer out once per (Python, vLLM release, architecture), with the stock
engine, in a sandbox made as an engine's, and keeps it in arena's cache folder
(`$XDG_CACHE_HOME/arena/vllm-modelinfo`, else `~/.cache/...`). `VllmServer` copies it into each
engine's fresh scratch at start (`SandboxSpec.files`). Nothing an engine writes comes back, so no
engine can hand anything to a later one. vLLM checks the module's hash before it trusts the copy:
a patch that changes the model's module gets vLLM's own inspection, as without the copy.

Best effort: when the answer cannot be had (no sandbox, an architecture vLLM lacks), the engine
inspects on its own, as before; the failure is kept too, so a start does not retry it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

from runner import sandbox as sbx

FORMAT = "arena.vllm-modelinfo/1"
CACHE_INSIDE = f"{sbx.SCRATCH}/vllm-cache"  # the engine's VLLM_CACHE_ROOT
INSPECT_TIMEOUT_S = 300.0
_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,200}\.json")

# Run in the sandbox by the runner's Python: stock vLLM inspects each architecture named on
# the command line, as at an engine's start, and the files it cached are printed as JSON.
_INSPECT = r'''
import json, os, pathlib, sys
os.environ["VLLM_CACHE_ROOT"] = "/scratch/modelinfo"
from vllm.model_executor.models.registry import ModelRegistry
for arch in sys.argv[1:]:
    ModelRegistry.models[arch].inspect_model_cls()
folder = pathlib.Path("/scratch/modelinfo/modelinfos")
print(json.dumps({p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}))
'''


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "arena" / "vllm-modelinfo"


def architectures(model_dir: Path) -> list[str]:
    """The architectures a checkpoint's config.json names ([] when it names none)."""
    try:
        arch = json.loads((Path(model_dir) / "config.json").read_text()).get("architectures")
    except (OSError, ValueError, AttributeError):
        return []
    return sorted({a for a in arch if isinstance(a, str)}) if isinstance(arch, list) else []


def sandbox_files(model_dirs: Sequence[Path], *, python: str, engine_version: str | None,
                  progress=None) -> dict[str, bytes]:
    """vLLM's cached model facts for the checkpoints' architectures, as files for an engine's
    sandbox ({path inside: content}); {} when there are none to give."""
    files: dict[str, bytes] = {}
    if not engine_version:
        return files
    for arch in sorted({a for d in model_dirs for a in architectures(d)}):
        for name, doc in facts(arch, python=python, engine_version=engine_version,
                               progress=progress).items():
            files[f"{CACHE_INSIDE}/modelinfos/{name}"] = json.dumps(doc, indent=2).encode()
    return files


def facts(arch: str, *, python: str, engine_version: str, progress=None) -> dict[str, Any]:
    """{vLLM's cache file name: its content} for one architecture, from arena's cache, worked
    out (once, under a lock: parallel runs wait for one another) when it is not there."""
    path = kept_path(arch, python=python, engine_version=engine_version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.stem}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            kept = _read(path)
            if kept is None:
                if progress:
                    progress(f"start-up: vLLM {engine_version} inspects {arch} once for this "
                             "runner (kept for later starts)")
                kept = _inspect(arch, python, engine_version)
                _write(path, kept)
    except OSError:
        return {}
    return kept.get("files", {})


def kept_path(arch: str, *, python: str, engine_version: str) -> Path:
    """Where arena's cache keeps the facts for one (Python, vLLM release, architecture)."""
    key = hashlib.sha256(json.dumps([python, engine_version, arch]).encode()).hexdigest()[:24]
    return cache_folder() / f"{key}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    return doc if _valid_files(doc.get("files")) else None


def _valid_files(files: Any) -> bool:
    return isinstance(files, dict) and all(
        isinstance(n, str) and _FILE_NAME.fullmatch(n) and isinstance(d, dict)
        and isinstance(d.get("hash"), str) and isinstance(d.get("modelinfo"), dict)
        for n, d in files.items())


def _inspect(arch: str, python: str, engine_version: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"format": FORMAT, "engine_version": engine_version,
                           "architecture": arch, "files": {}}
    with tempfile.TemporaryDirectory(prefix="arena-modelinfo-") as tmp:
        spec = sbx.SandboxSpec([python, "-c", _INSPECT, arch], env={"VLLM_PLUGINS": ""},
                               scratch_bytes=256 << 20)
        try:
            argv = sbx.bwrap_argv(spec, work=Path(tmp))
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=INSPECT_TIMEOUT_S,
                                  env={"PATH": os.environ.get("PATH", sbx.PATH)})
            files = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
                else None
        except (sbx.SandboxUnavailable, subprocess.TimeoutExpired, OSError, ValueError,
                IndexError):
            files = None
    if _valid_files(files):
        doc["files"] = files
    else:
        doc["failed"] = "vLLM could not inspect this architecture here"
    return doc


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
    os.replace(tmp, path)
