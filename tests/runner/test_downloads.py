"""Nothing big is downloaded before it is known to be worth it (runner/prepare.py): the Hub's
file metadata and the configuration alone decide, then the size cap, then the weights, held to
the run's deadline. The Hub is a local stand-in (tests/runner/fakehub.py) that answers
huggingface_hub's real requests; what it sent is recorded, so a test sees what was fetched."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

import pytest

from arena.challenge import ModelRef
from runner.context import Invalid, Run
from runner.models import ModelError
from runner.prepare import prepare
from tests.runner.fakehub import FakeHub
from tests.runner.test_bench import public, submission

BASE, CAND, DRAFT = "google/tiny-base", "someone/tiny-int4", "someone/tiny-drafter"
SHA = {BASE: "b" * 40, CAND: "c" * 40, DRAFT: "d" * 40}


@pytest.fixture
def hub(tiny_model, monkeypatch: pytest.MonkeyPatch):
    from huggingface_hub import constants

    files = {p.name: p.read_bytes() for p in tiny_model.path.iterdir() if p.is_file()}
    with FakeHub() as h:
        h.add(BASE, sha=SHA[BASE], files=files)
        monkeypatch.setattr(constants, "ENDPOINT", h.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            h.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        h.tiny = files  # type: ignore[attr-defined]
        yield h


def run_for(demo_challenge, tmp_path: Path, model: str, *, args: dict | None = None,
            seconds: float = 600) -> Run:
    ch = dataclasses.replace(demo_challenge, base_model=ModelRef(BASE, SHA[BASE]),
                             allow_local_models=False, local_models_dir=None)
    sub = dataclasses.replace(submission(demo_challenge), model=ModelRef(model, SHA[model]),
                              engine_args=args or {})
    from runner.context import BenchPlan

    t0 = time.monotonic()
    return Run(BenchPlan(sub, ch, [public(demo_challenge, 2)], model_cache=tmp_path / "cache"),
               "r1", tmp_path / "work", lambda _: None, lambda spec: None,
               dt.datetime.now(dt.timezone.utc), t0, t0 + seconds)


def weights_fetched(hub: FakeHub, repo: str) -> list[str]:
    return [n for r, n in hub.downloads if r == repo and not n.endswith(".json")
            and not n.endswith(".jinja")]


def test_a_checkpoint_of_the_base_model_is_identified_then_downloaded(hub, demo_challenge,
                                                                      tmp_path: Path) -> None:
    hub.add(CAND, sha=SHA[CAND], files=hub.tiny)
    run = run_for(demo_challenge, tmp_path, CAND)
    prepare(run)
    assert run.model is not None and (run.model.path / "model.safetensors").is_file()
    assert [c.name for c in run.checks] == ["model_identity"]
    # The configuration came first, alone; the weights only after it was checked.
    names = [n for r, n in hub.downloads if r == CAND]
    assert names[0] == "config.json" and "model.safetensors" in names


def test_a_huge_checkpoint_is_refused_from_its_metadata_before_any_weight(
        hub, demo_challenge, tmp_path: Path) -> None:
    """A 700 GB repository at a valid commit, configured like the base model."""
    hub.add(CAND, sha=SHA[CAND], files={"config.json": hub.tiny["config.json"]},
            sizes={f"model-{i:05d}-of-00070.safetensors": 10 * 10**9 for i in range(70)})
    with pytest.raises(ModelError) as e:
        prepare(run_for(demo_challenge, tmp_path, CAND))
    assert e.value.verdict == "invalid" and e.value.check == "model_size"
    assert "700.00 GB" in e.value.message and "Nothing was downloaded" in e.value.message
    assert weights_fetched(hub, CAND) == []


def test_junk_named_like_a_quant_is_refused_by_its_configuration_before_any_weight(
        hub, demo_challenge, tmp_path: Path) -> None:
    config = json.loads(hub.tiny["config.json"])
    config["num_hidden_layers"] = 1
    hub.add(CAND, sha=SHA[CAND], files={"config.json": json.dumps(config).encode()},
            sizes={"model.safetensors": 10 * 10**9})
    with pytest.raises(Invalid) as e:
        prepare(run_for(demo_challenge, tmp_path, CAND))
    assert e.value.check == "model_identity" and "num_hidden_layers" in e.value.message
    assert weights_fetched(hub, CAND) == []


def prepare_with_drafter(hub, demo_challenge, tmp_path: Path, config: bytes,
                         weights: int) -> ModelError:
    """Prepare the candidate with a drafter of this configuration and weight size; the
    refusal it ends in."""
    hub.add(CAND, sha=SHA[CAND], files=hub.tiny)
    hub.add(DRAFT, sha=SHA[DRAFT], files={"config.json": config},
            sizes={"model.safetensors": weights})
    spec = {"speculative_config": {"method": "draft_model", "model": DRAFT,
                                   "revision": SHA[DRAFT], "num_speculative_tokens": 2}}
    with pytest.raises(ModelError) as e:
        prepare(run_for(demo_challenge, tmp_path, CAND, args=spec))
    return e.value


def test_a_drafter_that_cannot_serve_its_method_is_refused_before_its_weights(
        hub, demo_challenge, tmp_path: Path) -> None:
    config = json.loads(hub.tiny["config.json"])
    config["vocab_size"] = 32000
    e = prepare_with_drafter(hub, demo_challenge, tmp_path, json.dumps(config).encode(), 1000)
    assert e.check == "drafter_identity" and "vocab_size is 32000" in e.message
    assert weights_fetched(hub, DRAFT) == []


def test_a_drafter_larger_than_its_cap_is_refused(hub, demo_challenge, tmp_path: Path) -> None:
    e = prepare_with_drafter(hub, demo_challenge, tmp_path, hub.tiny["config.json"], 10**9)
    assert e.check == "model_size" and "drafter" in e.message
    assert weights_fetched(hub, DRAFT) == []


def test_a_download_is_held_to_the_runs_deadline(hub, demo_challenge, tmp_path: Path) -> None:
    hub.add(CAND, sha=SHA[CAND], files=hub.tiny)
    hub.slow[CAND] = 30.0  # every weight file of the checkpoint takes half a minute
    run = run_for(demo_challenge, tmp_path, CAND, seconds=3)
    t0 = time.monotonic()
    with pytest.raises(ModelError) as e:
        prepare(run)
    assert e.value.verdict == "error" and "did not finish within the run's time limit" in \
        e.value.message
    assert time.monotonic() - t0 < 20
