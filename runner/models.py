"""Getting the checkpoint a submission names onto the runner, pinned, and checking what it is.

- Hub models (`owner/name` + a full commit SHA) are downloaded with huggingface_hub at exactly
  that commit, safetensors weights, JSON configuration and tokenizer files only: never Python
  files, never pickled weights. The engine then loads the local snapshot with the Hub offline.
- Local models (`./name`, only where the challenge allows them) live under the challenge's
  models folder. Their `revision` is the folder's content digest (`folder_digest`), so a local
  model is pinned exactly as a Hub commit pins a repository.
- The model identity check compares the checkpoint's configuration with the base model's: the
  architecture and every dimension must be equal; only quantization and dtype may differ.
"""

from __future__ import annotations

import hashlib
import json
import os
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
