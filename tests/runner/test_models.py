"""Model preparation: content digests, local paths, Hub downloads, the identity check."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from arena.challenge import Challenge, ModelRef
from runner import models
from runner.models import (
    TOKENIZER_FILES,
    WEIGHT_FILES,
    ModelError,
    folder_digest,
    identity_differences,
    local_model_path,
    prepare_model,
)

GEMMA_LIKE = {
    "architectures": ["Gemma4ForConditionalGeneration"],
    "model_type": "gemma4",
    "torch_dtype": "bfloat16",
    "transformers_version": "5.19.0",
    "text_config": {"hidden_size": 2560, "num_hidden_layers": 42, "vocab_size": 262144,
                    "head_dim": 256, "layer_types": ["sliding_attention", "full_attention"]},
    "vision_config": {"hidden_size": 768},
}


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_digest_depends_on_names_and_bytes_only(tmp_path: Path) -> None:
    a = make_folder(tmp_path / "a", {"config.json": b"{}", "w/model.safetensors": b"123"})
    b = make_folder(tmp_path / "b", {"w/model.safetensors": b"123", "config.json": b"{}"})
    os.utime(b / "config.json", (1, 1))
    os.chmod(b / "config.json", 0o600)
    assert folder_digest(a) == folder_digest(b)
    assert len(folder_digest(a)) == 40 and int(folder_digest(a), 16) >= 0
    (b / "w" / "model.safetensors").write_bytes(b"124")
    assert folder_digest(a) != folder_digest(b)
    (b / "w" / "model.safetensors").write_bytes(b"123")
    (b / "w" / "model.safetensors").rename(b / "w" / "other.safetensors")
    assert folder_digest(a) != folder_digest(b)


def test_digest_refuses_symbolic_links(tmp_path: Path) -> None:
    a = make_folder(tmp_path / "a", {"config.json": b"{}"})
    (a / "weights.safetensors").symlink_to("/etc/hostname")
    with pytest.raises(ModelError, match="symbolic link"):
        folder_digest(a)


def local_challenge(challenge: Challenge, models_dir: Path) -> Challenge:
    return dataclasses.replace(challenge, local_models_dir=models_dir)


def test_local_model_is_pinned_by_its_digest(demo_challenge: Challenge, tmp_path: Path) -> None:
    ch = local_challenge(demo_challenge, tmp_path)
    folder = make_folder(tmp_path / "mine", {"config.json": b"{}"})
    good = prepare_model(ModelRef("./mine", folder_digest(folder)), challenge=ch, cache_dir=None)
    assert good.path == folder.resolve() and good.source == "local"
    with pytest.raises(ModelError) as e:
        prepare_model(ModelRef("./mine", "0" * 40), challenge=ch, cache_dir=None)
    assert e.value.verdict == "invalid" and e.value.check == "model_revision"
    assert folder_digest(folder) in e.value.message
    with pytest.raises(ModelError) as e:
        prepare_model(ModelRef("./absent", "0" * 40), challenge=ch, cache_dir=None)
    assert e.value.verdict == "error" and "not on this runner" in e.value.message


def test_local_paths_stay_inside_the_models_folder(demo_challenge: Challenge,
                                                   tmp_path: Path) -> None:
    ch = local_challenge(demo_challenge, tmp_path / "models")
    with pytest.raises(ModelError, match="outside"):
        local_model_path("./x/../../etc", ch)
    hub_only = dataclasses.replace(demo_challenge, allow_local_models=False)
    with pytest.raises(ModelError, match="only accepts Hugging Face Hub models"):
        local_model_path("./tiny", hub_only)


def test_hub_models_download_at_the_pinned_commit_without_code(
        demo_challenge: Challenge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_snapshot_download(**kw):  # the Hub is the boundary: no network here
        calls.append(kw)
        snap = make_folder(tmp_path / "snap", {"config.json": b"{}",
                                               "model.safetensors": b"x"})
        return str(snap)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    ref = ModelRef("google/gemma-4-E4B-it", "ee0ef6023621cff504d758262d4e04895a5af4a2")
    got = prepare_model(ref, challenge=demo_challenge, cache_dir=tmp_path / "cache")
    assert got.source == "hub" and got.path == tmp_path / "snap"
    kw = calls[0]
    assert kw["repo_id"] == ref.id and kw["revision"] == ref.revision
    assert kw["cache_dir"] == str(tmp_path / "cache")
    patterns = kw["allow_patterns"]
    assert patterns == list(WEIGHT_FILES)
    assert not any(p.endswith((".py", ".bin", ".pt", ".pth", ".pkl")) or p == "*"
                   for p in patterns)
    prepare_model(ref, challenge=demo_challenge, cache_dir=None, files=TOKENIZER_FILES)
    assert not any("safetensors" in p for p in calls[1]["allow_patterns"])


def test_hub_failures_are_classified(demo_challenge: Challenge,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub
    import requests
    from huggingface_hub.errors import RevisionNotFoundError

    def missing_revision(**kw):
        raise RevisionNotFoundError("no such revision", response=requests.Response())

    def offline(**kw):
        raise OSError("network is unreachable")

    def no_weights(**kw):
        return str(make_folder(tmp_path / "nw", {"config.json": b"{}",
                                                 "pytorch_model.bin": b"x"}))

    ref = ModelRef("someone/model", "a" * 40)
    for fake, verdict, words in [(missing_revision, "invalid", "has no commit"),
                                 (offline, "error", "downloading the model"),
                                 (no_weights, "invalid", "no safetensors weights")]:
        monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
        with pytest.raises(ModelError) as e:
            prepare_model(ref, challenge=demo_challenge, cache_dir=None)
        assert e.value.verdict == verdict and words in e.value.message


def test_identity_allows_quantization_and_dtype_only() -> None:
    quantized = json.loads(json.dumps(GEMMA_LIKE))
    quantized["quantization_config"] = {"quant_method": "compressed-tensors"}
    quantized["torch_dtype"] = "float16"
    quantized["transformers_version"] = "5.20.0"
    quantized["text_config"]["torch_dtype"] = "float16"
    assert identity_differences(GEMMA_LIKE, quantized) == []


@pytest.mark.parametrize("change,expected", [
    (lambda c: c["text_config"].update(vocab_size=200000),
     "text_config.vocab_size is 200000; the base model has 262144"),
    (lambda c: c.pop("vision_config"), "vision_config is missing"),
    (lambda c: c.update(auto_map={"AutoModel": "modeling.Custom"}), "auto_map is"),
    (lambda c: c["text_config"].update(layer_types=["full_attention"] * 2),
     "text_config.layer_types is"),
    (lambda c: c.update(architectures=["Gemma4ForCausalLM"]), "architectures is"),
])
def test_identity_catches_a_different_model(change, expected: str) -> None:
    other = json.loads(json.dumps(GEMMA_LIKE))
    change(other)
    diffs = identity_differences(GEMMA_LIKE, other)
    assert len(diffs) == 1 and expected in diffs[0]


def test_read_config_errors_are_invalid(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as e:
        models.read_config(tmp_path)
    assert e.value.verdict == "invalid" and "no config.json" in e.value.message
