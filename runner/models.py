"""Getting the checkpoint a submission names onto the runner, pinned, and checking what it is.

- Hub models (`owner/name` + a full commit SHA) are downloaded with huggingface_hub at exactly
  that commit, safetensors weights, JSON configuration and tokenizer files only: never Python
  files, never pickled weights. The engine then loads the local snapshot with the Hub offline.
- Local models (`./name`, only where the challenge allows them) live under the challenge's
  models folder. Their `revision` is the folder's content digest (`folder_digest`), so a local
  model is pinned exactly as a Hub commit pins a repository.
- The model identity check compares the checkpoint's configuration with the base model's: the
  architecture and every dimension must be equal; only quantization and dtype may differ.
- Nothing big is downloaded before it is known to be worth it (`prepare_checked`): the Hub's
  file metadata at the pinned commit gives every file's size, the configuration alone is
  fetched and identity-checked first (a drafter's against what its method needs), the total is
  capped at the base model's size times the challenge's factor, and the download itself is held
  to the run's deadline.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from arena.challenge import Challenge, ModelRef

# What is downloaded from the Hub. Weights only as safetensors (pickled formats run code when
# loaded); configuration, tokenizer and chat template; never *.py.
WEIGHT_FILES = ("*.safetensors", "*.safetensors.index.json", "*.json", "*.jinja",
                "tokenizer.model", "*.tiktoken")
# For the base model the harness only needs its configuration and tokenizer.
TOKENIZER_FILES = ("config.json", "generation_config.json", "tokenizer.json",
                   "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "*.jinja", "preprocessor_config.json", "processor_config.json")

# Configuration keys that may differ between the base model and a submission's checkpoint:
# how the weights are stored, not what the model is.
IDENTITY_IGNORED_KEYS = frozenset({
    "quantization_config", "compression_config", "dtype", "torch_dtype", "transformers_version",
    "_name_or_path", "use_cache", "initializer_range", "output_attentions",
    "output_hidden_states", "return_dict", "_attn_implementation_autoset",
})


class ModelError(Exception):
    """The model cannot be used. `verdict` is "invalid" (the submission's fault: no such
    commit, wrong digest, not the challenge's model) or "error" (the runner's: network,
    access, disk). `check` names what failed."""

    def __init__(self, verdict: str, check: str, message: str):
        assert verdict in ("invalid", "error")
        self.verdict = verdict
        self.check = check
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class PreparedModel:
    ref: ModelRef
    path: Path  # a local folder the engine loads offline
    source: str  # "hub" | "local"


def folder_digest(folder: Path) -> str:
    """The content digest of a model folder: 40 hex digits, like a commit SHA.

    SHA-1 over one line per regular file, sorted by relative path:
    "<sha256 of the file's bytes> <relative path with forward slashes>\\n". Names and bytes
    count; timestamps and permissions do not. Symbolic links are refused (they could point
    anywhere)."""
    folder = Path(folder)
    lines = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in dirs + files:
            p = Path(root) / name
            if p.is_symlink():
                raise ModelError("invalid", "model_revision",
                                 f"{p.relative_to(folder).as_posix()} is a symbolic link; a "
                                 "local model folder must hold regular files only.")
        for name in files:
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            lines.append(f"{_sha256_file(p)} {rel}\n")
    lines.sort(key=lambda line: line.split(" ", 1)[1])
    h = hashlib.sha1()
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_local(model_id: str) -> bool:
    return model_id.startswith("./")


def local_model_path(model_id: str, challenge: Challenge) -> Path:
    """Where a local model (./name) lives: under the challenge's models folder, never outside."""
    if not challenge.allow_local_models or challenge.local_models_dir is None:
        raise ModelError("invalid", "model", f"{model_id} is a local path, but this challenge "
                                             "only accepts Hugging Face Hub models.")
    root = challenge.local_models_dir.resolve()
    path = (root / model_id[2:]).resolve()
    if root != path and root not in path.parents:
        raise ModelError("invalid", "model", f"{model_id} points outside the challenge's "
                                             "models folder.")
    return path


def prepare_model(ref: ModelRef, *, challenge: Challenge, cache_dir: Path | None,
                  files: tuple[str, ...] = WEIGHT_FILES, what: str = "model") -> PreparedModel:
    """Make `ref` available as a local folder, pinned to its revision."""
    if is_local(ref.id):
        path = local_model_path(ref.id, challenge)
        if not path.is_dir():
            hint = (" Run `arena tiny-model` to build it." if "tiny" in ref.id else "")
            raise ModelError("error", what, f"the local {what} {ref.id} is not on this runner "
                                            f"(looked in {path}).{hint}")
        digest = folder_digest(path)
        if digest != ref.revision:
            raise ModelError("invalid", "model_revision", (
                f"the {what} {ref.id} has content digest {digest}, but the submission pins "
                f"{ref.revision}. Pin the digest of the folder you tested "
                "(`arena tiny-model --digest DIR` prints it)."))
        return PreparedModel(ref, path, "local")
    return PreparedModel(ref, _download(ref, cache_dir, files, what), "hub")


def _download(ref: ModelRef, cache_dir: Path | None, files: tuple[str, ...], what: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        path = snapshot_download(repo_id=ref.id, revision=ref.revision, allow_patterns=list(files),
                                 cache_dir=str(cache_dir) if cache_dir else None)
    except GatedRepoError:
        raise ModelError("error", what, f"the {what} {ref.id} is gated and this runner has no "
                                        "access to it. A maintainer must grant the runner "
                                        "access.") from None
    except RevisionNotFoundError:
        raise ModelError("invalid", "model_revision", f"the {what} {ref.id} has no commit "
                                                      f"{ref.revision}. Pin a commit that "
                                                      "exists.") from None
    except RepositoryNotFoundError:
        raise ModelError("invalid", what, f"the {what} {ref.id} does not exist on the Hugging "
                                          "Face Hub (or is private).") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelError("error", what, f"downloading the {what} {ref.id} failed: "
                                        f"{type(exc).__name__}: {str(exc)[:300]}") from None
    p = Path(path)
    if files is WEIGHT_FILES and not any(p.glob("*.safetensors")):
        raise ModelError("invalid", what, f"the {what} {ref.id}@{ref.revision[:12]} has no "
                                          "safetensors weights; the harness loads safetensors "
                                          "only.")
    return p


def read_config(folder: Path) -> dict[str, Any]:
    try:
        doc = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("invalid", "model_identity",
                         f"{folder.name} has no config.json, so it cannot be identified.") from None
    except (OSError, ValueError) as exc:
        raise ModelError("invalid", "model_identity",
                         f"{folder.name}/config.json cannot be read: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelError("invalid", "model_identity", "config.json is not a JSON object.")
    return doc


def identity_differences(base: Mapping[str, Any], candidate: Mapping[str, Any],
                         prefix: str = "") -> list[str]:
    """Every configuration field where the candidate is not the base model, as readable lines.
    Quantization and storage dtype may differ; everything else must be equal (architecture,
    every dimension, vocabulary, attention layout, modalities, rope, soft-capping...)."""
    out = []
    for key in sorted(set(base) | set(candidate)):
        if key in IDENTITY_IGNORED_KEYS:
            continue
        where = f"{prefix}{key}"
        if key not in candidate:
            out.append(f"{where} is missing (the base model has {_short(base[key])})")
        elif key not in base:
            out.append(f"{where} is {_short(candidate[key])}, which the base model does not have")
        elif isinstance(base[key], dict) and isinstance(candidate[key], dict):
            out.extend(identity_differences(base[key], candidate[key], where + "."))
        elif base[key] != candidate[key]:
            out.append(f"{where} is {_short(candidate[key])}; the base model has "
                       f"{_short(base[key])}")
    return out


def _short(value: Any) -> str:
    s = json.dumps(value, sort_keys=True)
    return s if len(s) <= 80 else s[:77] + "..."


# -- checked before downloaded -------------------------------------------------------------------

def hub_files(ref: ModelRef, what: str) -> dict[str, int]:
    """Every file of a Hub repository at the pinned commit, with its size (the Hub's metadata;
    nothing is downloaded)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(ref.id, revision=ref.revision, files_metadata=True)
    except Exception as exc:  # noqa: BLE001 - classified below
        raise _hub_error(exc, ref, what) from None
    return {s.rfilename: int(s.size or 0) for s in (info.siblings or [])}


def fetch_config(ref: ModelRef, cache_dir: Path | None, what: str) -> dict[str, Any]:
    """The repository's config.json alone."""
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(ref.id, "config.json", revision=ref.revision,
                               cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # noqa: BLE001
        raise _hub_error(exc, ref, what, file="config.json") from None
    return read_config(Path(path).parent)


def _hub_error(exc: Exception, ref: ModelRef, what: str, file: str | None = None) -> ModelError:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return ModelError("error", what, f"the {what} {ref.id} is gated and this runner has no "
                                         "access to it. A maintainer must grant the runner access.")
    if isinstance(exc, RevisionNotFoundError):
        return ModelError("invalid", "model_revision", f"the {what} {ref.id} has no commit "
                                                       f"{ref.revision}. Pin a commit that exists.")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelError("invalid", what, f"the {what} {ref.id} does not exist on the Hugging "
                                           "Face Hub (or is private).")
    if isinstance(exc, EntryNotFoundError) and file:
        return ModelError("invalid", "model_identity", f"the {what} {ref.id} has no {file}, so "
                                                       "it cannot be identified.")
    return ModelError("error", what, f"asking the Hub about the {what} {ref.id} failed: "
                                     f"{type(exc).__name__}")


def weight_bytes(files: Mapping[str, int], patterns: tuple[str, ...] = WEIGHT_FILES) -> int:
    """The bytes a download of these patterns would fetch."""
    return sum(size for name, size in files.items()
               if any(fnmatch.fnmatch(name, p) for p in patterns))


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def check_size(total: int, cap: float, *, what: str, ref: ModelRef, factor: float) -> None:
    if total > cap:
        raise ModelError("invalid", "model_size", (
            f"the {what} {ref.id}@{ref.revision[:12]} is {_gb(total)} of weights and "
            f"configuration, over the cap of {_gb(cap)} ({factor:g} times the base model). "
            "Nothing was downloaded. Submit a checkpoint of the challenge's model."))


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _nested(cfg: Mapping[str, Any], key: str) -> Any:
    """A dimension of a model's configuration, also when it sits in its text configuration."""
    if key in cfg:
        return cfg[key]
    for sub in ("text_config", "language_config", "llm_config"):
        if isinstance(cfg.get(sub), Mapping) and key in cfg[sub]:
            return cfg[sub][key]
    return None


def drafter_problems(drafter: Mapping[str, Any], base: Mapping[str, Any], method: str) -> list[str]:
    """What makes a drafter unusable for its method with the base model: every method
    proposes token IDs the target verifies, so the vocabularies must be the same; EAGLE heads
    read the target's hidden states, so their width must match too."""
    out = []
    if _nested(drafter, "vocab_size") != _nested(base, "vocab_size"):
        out.append(f"its vocab_size is {_nested(drafter, 'vocab_size')}, the base model's "
                   f"{_nested(base, 'vocab_size')}: it cannot propose the target's tokens")
    if method in ("eagle", "eagle3") and \
            _nested(drafter, "hidden_size") != _nested(base, "hidden_size"):
        out.append(f"its hidden_size is {_nested(drafter, 'hidden_size')}, the base model's "
                   f"{_nested(base, 'hidden_size')}: an EAGLE head reads the target's hidden "
                   "states")
    return out


def download_by(deadline: float, ref: ModelRef, cache_dir: Path | None, files: tuple[str, ...],
                what: str) -> Path:
    """`_download`, held to the run's deadline (time.monotonic()): past it, the run ends in
    error instead of waiting on a slow or endless download."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["path"] = _download(ref, cache_dir, files, what)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True, name=f"download {ref.id}")
    t.start()
    t.join(max(0.0, deadline - time.monotonic()))
    if t.is_alive():
        raise ModelError("error", what, f"downloading the {what} {ref.id} did not finish within "
                                        "the run's time limit")
    if "error" in box:
        raise box["error"]
    return box["path"]
