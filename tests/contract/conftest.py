"""Fixtures for the submission contract: a scratch repository with a challenge and submissions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from arena.challenge import Challenge, load_challenge

REPO = Path(__file__).resolve().parents[2]
VALID_REVISION = "0123456789abcdef0123456789abcdef01234567"
DRAFTER_REVISION = "89abcdef0123456789abcdef0123456789abcdef"


def valid_submission(name: str = "int4-mtp") -> dict:
    return {
        "name": name,
        "description": "int4 body with an MTP drafter, 6 speculative tokens",
        "tags": ["quantization", "speculative-decoding"],
        "model": {"id": "google/gemma-4-E4B-it-qat-w4a16-ct", "revision": VALID_REVISION},
        "engine": {
            "name": "vllm",
            "version": "0.32.0",
            "args": {
                "max_model_len": 4096,
                "max_num_batched_tokens": 512,
                "speculative_config": {
                    "method": "mtp",
                    "model": "google/gemma-4-E4B-it-assistant",
                    "revision": DRAFTER_REVISION,
                    "num_speculative_tokens": 6,
                },
            },
        },
        "claimed": {"tps": 285.7, "ppl": 2.31},
    }


def dump(doc: dict) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


class Repo:
    """A scratch copy of the repository's challenge with its own submissions folder."""

    def __init__(self, root: Path):
        self.root = root
        self.challenge: Challenge = load_challenge(root / "challenge.yaml")

    def write(self, rel: str, content: bytes | str | dict) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = dump(content)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    shutil.copy(REPO / "challenge.yaml", root / "challenge.yaml")
    shutil.copy(REPO / "prompts" / "public.jsonl", root / "prompts" / "public.jsonl")
    (root / "submissions").mkdir()
    r = Repo(root)
    r.write("submissions/alice/base.yaml", {
        "name": "base", "description": "bf16 baseline",
        "model": {"id": "google/gemma-4-E4B-it", "revision": VALID_REVISION},
        "engine": {"name": "vllm", "version": "0.32.0"},
    })
    return r


@pytest.fixture(scope="session")
def challenge() -> Challenge:
    return load_challenge(REPO / "challenge.yaml")


@pytest.fixture(scope="session")
def demo_challenge() -> Challenge:
    return load_challenge(REPO / "demo" / "challenge.yaml")
