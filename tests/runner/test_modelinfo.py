"""vLLM's facts about the model's class, worked out once and copied into each engine's fresh
cache (runner.modelinfo): the running engine holds a copy vLLM accepts, and nothing an engine
does to its copy reaches arena's cache or a later engine."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from runner import modelinfo
from runner import sandbox as sbx
from runner.fingerprint import installed_engine_version

GEMMA = "Gemma4ForCausalLM"


def _vllm_module_hash(module: str) -> str:
    """The hash vLLM keys its cached facts by (registry._get_modelinfo_module_hash) for the
    stock module file: a copy carrying any other hash is one vLLM ignores."""
    root = Path(importlib.util.find_spec("vllm").origin).parent
    path = root / "model_executor" / "models" / f"{module}.py"
    h = hashlib.md5(usedforsecurity=False)
    for part in (path.name.encode(), b"\0", path.read_bytes(), b"\0"):
        h.update(part)
    return h.hexdigest()


def test_the_engine_starts_with_facts_vllm_accepts(tiny_server) -> None:
    inside = Path(f"/proc/{tiny_server.child_pid}/root{modelinfo.CACHE_INSIDE}/modelinfos")
    [copy] = inside.glob("*.json")
    doc = json.loads(copy.read_text())
    assert doc["modelinfo"]["architecture"] == GEMMA
    assert doc["modelinfo"]["is_text_generation_model"] is True
    assert doc["hash"] == _vllm_module_hash("gemma4")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return modelinfo.cache_folder()


def _checkpoint(tmp_path: Path, arch: str) -> Path:
    model = tmp_path / f"model-{arch}"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": [arch]}))
    return model


def _keep(arch: str, files: dict) -> None:
    """Put facts for `arch` in arena's cache, as a first inspection would have."""
    version = installed_engine_version()
    kept = modelinfo.kept_path(arch, python=sbx.python(), engine_version=version)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps({"format": modelinfo.FORMAT, "engine_version": version,
                                "architecture": arch, "files": files}))


def test_what_an_engine_writes_to_its_copy_never_comes_back(tmp_path: Path, own_cache) -> None:
    arch = "NoSuchModelForCausalLM"
    name = "vllm-model_executor-models-nosuch-NoSuchModelForCausalLM.json"
    _keep(arch, {name: {"hash": "h", "modelinfo": {"architecture": arch}}})
    model = _checkpoint(tmp_path, arch)
    files = modelinfo.sandbox_files([model], python=sbx.python(),
                                    engine_version=installed_engine_version())
    inside = f"{modelinfo.CACHE_INSIDE}/modelinfos/{name}"
    assert list(files) == [inside]

    # An engine overwrites its copy with facts of its own choosing...
    spec = sbx.SandboxSpec(["/bin/sh", "-c", f"cat {inside} && echo poisoned > {inside}"],
                           files=files)
    fds = sbx.file_descriptors(spec)
    try:
        argv = sbx.bwrap_argv(spec, work=tmp_path, file_fds=fds)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              pass_fds=tuple(fds.values()))
    finally:
        for fd in fds.values():
            os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hash"] == "h"
    # ...and the next engine is given arena's facts, not those.
    again = modelinfo.sandbox_files([model], python=sbx.python(),
                                    engine_version=installed_engine_version())
    assert again == files


def test_an_architecture_vllm_lacks_is_tried_once(tmp_path: Path, own_cache,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = _checkpoint(tmp_path, "NoSuchModelForCausalLM")
    version = installed_engine_version()
    assert modelinfo.sandbox_files([model], python=sbx.python(), engine_version=version) == {}
    [kept] = own_cache.glob("*.json")
    assert "could not inspect" in json.loads(kept.read_text())["failed"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("inspected a second time")

    monkeypatch.setattr(modelinfo, "_inspect", must_not_run)
    assert modelinfo.sandbox_files([model], python=sbx.python(), engine_version=version) == {}


def test_a_kept_entry_that_names_a_path_outside_the_cache_is_not_used(
        tmp_path: Path, own_cache) -> None:
    arch = "NoSuchModelForCausalLM"
    _keep(arch, {"../../../etc/passwd": {"hash": "h", "modelinfo": {}}})
    model = _checkpoint(tmp_path, arch)
    # The entry is worked out again (vLLM lacks this architecture: nothing to give).
    assert modelinfo.sandbox_files([model], python=sbx.python(),
                                   engine_version=installed_engine_version()) == {}


@pytest.mark.parametrize("inside", ["/etc/passwd", "/scratch/../etc/passwd", "scratch/x",
                                    "/scratch"])
def test_a_sandbox_file_outside_the_scratch_folder_is_refused(inside: str) -> None:
    with pytest.raises(ValueError, match="must lie under /scratch"):
        sbx.file_descriptors(sbx.SandboxSpec(["true"], files={inside: b"x"}))


def test_a_checkpoint_without_architectures_gets_no_facts(tmp_path: Path, own_cache) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": "not a list"}')
    assert modelinfo.architectures(model) == []
    assert modelinfo.architectures(tmp_path / "missing") == []
    assert modelinfo.sandbox_files([model], python=sbx.python(), engine_version="0.32.0") == {}
    assert not own_cache.exists()
