"""A submission's engine patch, served from a per-run, read-only copy of the installed vLLM.

A patch (`engine.patch`, validated as data by `arena.patch`) is a `git diff --full-index` of
vLLM's Python code against the release the challenge pins. On the runner:

1. the base is proven: each file's pre-image blob hash in the diff must equal the git blob hash
   of the installed release's file (a new file must not exist there). A patch made against
   another base is refused: rebase it on the release;
2. the installed `vllm` package is copied into the run's folder: Python files copied, compiled
   and data files hard-linked (or copied where linking is impossible), `__pycache__` left out.
   The installed package is never written to;
3. the patch is applied to the copy with `git apply` (as a patch tool: no repository), only to
   `vllm/**.py`; then each patched file's blob hash must equal the diff's post-image hash, and
   each must parse (`ast.parse`: nothing is imported or run here);
4. the copy is made read-only. The submission's sandbox gets it at `/engine`, first on
   `PYTHONPATH`; the referee serves the installed release.

The overlay's digest (the release's version, then each patched file's post-image hash) goes in
the fingerprint beside the patch's SHA-256.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

PACKAGE = "vllm"


class OverlayError(Exception):
    """The patch cannot be served. `verdict` is "invalid" (the submission's: another base, a
    patch that does not apply or does not parse) or "error" (the runner's)."""

    def __init__(self, verdict: str, message: str):
        self.verdict, self.message = verdict, message
        super().__init__(message)


@dataclass(frozen=True)
class Overlay:
    root: Path  # holds vllm/ (the patched copy); bound at /engine in the sandbox
    patch_sha256: str
    digest: str  # sha256 over the release and every patched file's post-image blob
    files: int

    def fingerprint(self) -> dict[str, Any]:
        return {"sha256": self.patch_sha256, "overlay_sha256": self.digest, "files": self.files}


def git_blob_sha1(data: bytes) -> str:
    """The object id git gives a file's bytes (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def installed_package(name: str = PACKAGE) -> Path:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise OverlayError("error", f"{name} is not installed on this runner")
    return Path(list(spec.submodule_search_locations)[0])


def prove_base(files: Sequence[Any], installed: Path) -> None:
    """Each pre-image in the diff must be the installed release's file, byte for byte."""
    root = installed.parent
    for f in files:
        if not f.path.startswith(PACKAGE + "/") or not f.path.endswith(".py"):
            raise OverlayError("invalid", f"the patch touches {f.path}: only {PACKAGE}/**.py "
                                          "may be patched")
        target = root / f.path
        if f.new_file:
            if target.exists():
                raise OverlayError("invalid", f"the patch creates {f.path}, which the "
                                              "installed release already has: rebase the "
                                              "patch on the release the challenge pins")
            continue
        try:
            have = git_blob_sha1(target.read_bytes())
        except OSError:
            raise OverlayError("invalid", f"the patch changes {f.path}, which the installed "
                                          "release does not have: rebase the patch on the "
                                          "release the challenge pins") from None
        if have != f.old_blob:
            raise OverlayError("invalid", (
                f"the patch's base of {f.path} is blob {f.old_blob[:12]}, but the installed "
                f"release has {have[:12]}: the patch was not made against this release. Rebase "
                "it on the release commit the challenge pins (git diff --full-index "
                "<release>.. -- vllm/)."))


def copy_package(installed: Path, dest: Path) -> Path:
    """A copy of the package at dest/<name>: .py files copied, everything else hard-linked
    (copied across file systems), no __pycache__."""
    target = dest / installed.name
    for root, dirs, files in os.walk(installed):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = Path(root).relative_to(installed)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = Path(root) / name, target / rel / name
            if src.is_symlink():
                continue  # nothing of the release is a link; a link could point anywhere
            if name.endswith(".py"):
                shutil.copyfile(src, dst)
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    return target


def build_overlay(patch_text: str, parsed: Any, work: Path, *,
                  installed: Path | None = None) -> Overlay:
    """The patched, read-only copy of the installed engine for one run (see the module)."""
    installed = installed or installed_package()
    files = list(parsed.files)
    prove_base(files, installed)
    root = Path(work) / "overlay"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    copy_package(installed, root)
    patch_file = Path(work) / "engine.patch"
    patch_file.write_text(patch_text, encoding="utf-8")
    git = shutil.which("git")
    if git is None:
        raise OverlayError("error", "git is not installed on this runner (it applies patches)")
    for step in (["--check"], []):
        proc = subprocess.run([git, "apply", *step, "--whitespace=nowarn",
                               "--include=vllm/*", str(patch_file)], cwd=root,
                              capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                   "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(work),
                                   # never a repository around the run folder
                                   "GIT_CEILING_DIRECTORIES": str(root.parent)})
        if proc.returncode != 0:
            raise OverlayError("invalid", "the patch does not apply to the installed release "
                                          "(git apply refused it): rebase it on the release "
                                          "the challenge pins")
    lines = [f"{PACKAGE}=={_version(installed)}"]
    for f in sorted(files, key=lambda f: f.path):
        target = root / f.path
        if f.deleted:
            if target.exists():
                raise OverlayError("invalid", f"the patch deletes {f.path}, but it is still "
                                              "there after applying it")
            lines.append(f"{f.path} deleted")
            continue
        data = target.read_bytes()
        if git_blob_sha1(data) != f.new_blob:
            raise OverlayError("invalid", f"{f.path} after the patch is not the post-image the "
                                          "patch names (its index line): the diff was edited "
                                          "by hand; make it with git diff --full-index")
        try:
            ast.parse(data, filename=f.path)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            raise OverlayError("invalid", f"{f.path} does not parse after the patch"
                                          + (f" (line {line})" if line else "")) from None
        lines.append(f"{f.path} {f.new_blob}")
    make_read_only(root)
    digest = hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()
    return Overlay(root, hashlib.sha256(patch_text.encode("utf-8")).hexdigest(), digest,
                   len(files))


def make_read_only(root: Path) -> None:
    for r, dirs, files in os.walk(root):
        for name in files:
            p = Path(r) / name
            if not p.is_symlink() and p.suffix == ".py":
                p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _version(installed: Path) -> str:
    from runner.fingerprint import installed_engine_version

    return installed_engine_version() or "unknown"
