"""The tiny model builder: deterministic, and the demo pins exactly what it builds."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from arena.challenge import Challenge
from runner import tinymodel
from tests.conftest import REGENERATE

REPO = Path(__file__).resolve().parents[2]


def test_builder_reproduces_the_pinned_digest(tmp_path: Path, demo_challenge: Challenge) -> None:
    built = tinymodel.build(tmp_path / "tiny-gemma4")
    assert built.digest == demo_challenge.base_model.revision, REGENERATE
    for f in sorted((REPO / "demo" / "submissions").glob("*/*.yaml")):
        doc = yaml.safe_load(f.read_text())
        assert doc["model"]["revision"] == built.digest, f"{f.name}: {REGENERATE}"


def test_tiny_model_is_a_gemma4_text_model_with_a_chat_template(tmp_path: Path) -> None:
    built = tinymodel.build(tmp_path / "m")
    config = json.loads((built.path / "config.json").read_text())
    assert config["architectures"] == ["Gemma4ForCausalLM"]
    assert config["model_type"] == "gemma4_text"
    assert config["head_dim"] in (32, 64) and config["vocab_size"] >= 512
    assert (built.path / "model.safetensors").is_file()
    assert not list(built.path.glob("*.py"))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(built.path))
    assert len(tok) == config["vocab_size"]
    text = tok.apply_chat_template([{"role": "user", "content": "Hi there"}],
                                   add_generation_prompt=True, tokenize=False)
    assert text == "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"


def test_rebuilding_over_an_existing_folder_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.bin").write_bytes(b"old")
    built = tinymodel.build(out)
    assert not (out / "stale.bin").exists()
    assert tinymodel.ensure(out, built.digest).digest == built.digest
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
