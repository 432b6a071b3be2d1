"""challenge.yaml is itself validated on load, with the same kind of messages as submissions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from arena.challenge import FORBIDDEN_ARGS, ChallengeError, load_challenge

from .conftest import REPO


def test_the_fast_gemma_challenge_loads_with_the_issue_values(challenge):
    assert challenge.base_model.id == "google/gemma-4-E4B-it"
    assert len(challenge.base_model.revision) == 40
    assert challenge.hardware == "a10g"
    assert (challenge.output_tokens, challenge.warmup_requests, challenge.repeats,
            challenge.concurrency) == (512, 4, 3, 1)
    assert challenge.ppl_reference == 2.30
    assert challenge.ppl_cap == pytest.approx(2.415)
    assert challenge.integrity.public_private_tolerance == 0.05
    assert challenge.quota_runs_per_day == 5
    assert challenge.engines["vllm"].allows("0.32.0")
    assert not challenge.engines["vllm"].allows("0.31.9")
    assert challenge.engines["vllm"].allows("0.33.1")
    assert challenge.noise.sigma > 0 and 0.5 <= challenge.noise.confidence < 1
    assert challenge.startup_timeout_s and challenge.request_timeout_s and challenge.run_timeout_s
    expected_args = {"dtype", "quantization", "kv_cache_dtype", "max_model_len",
                     "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
                     "enforce_eager", "async_scheduling", "compilation_config",
                     "speculative_config"}
    assert expected_args <= set(challenge.engine_args)
    assert set(challenge.engine_args["compilation_config"].fields) == {
        "mode", "cudagraph_mode", "cudagraph_capture_sizes", "max_cudagraph_capture_size"}
    assert {"mtp", "ngram", "draft_model", "eagle"} <= set(
        challenge.engine_args["speculative_config"].methods)
    assert challenge.maintainers and challenge.tags


def test_the_demo_challenge_loads_and_allows_local_models(demo_challenge):
    assert demo_challenge.allow_local_models
    assert demo_challenge.local_models_dir is not None
    assert demo_challenge.base_model.id.startswith("./")


def _broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((REPO / "challenge.yaml").read_text())
    change(data)
    (tmp_path / "prompts").mkdir(exist_ok=True)
    shutil.copy(REPO / "prompts" / "public.jsonl", tmp_path / "prompts" / "public.jsonl")
    path = tmp_path / "challenge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


BROKEN = [
    ("missing hardware", lambda d: d.pop("hardware"), "", "'hardware' is missing"),
    ("branch revision", lambda d: d["base_model"].update(revision="main"), "base_model.revision",
     "full 40-character commit SHA"),
    ("zero repeats", lambda d: d["measurement"].update(repeats=0), "measurement.repeats",
     "out of range"),
    ("concurrency above one", lambda d: d["measurement"].update(concurrency=4),
     "measurement.concurrency", "out of range"),
    ("negative ppl", lambda d: d["ppl"].update(reference=-1), "ppl.reference", "greater than 0"),
    ("unknown action", lambda d: d["integrity"].update(public_private_action="ban"),
     "integrity.public_private_action", "invalid or warn"),
    ("missing prompts file", lambda d: d["prompts"].update(public="nope.jsonl"), "prompts.public",
     "does not exist"),
    ("unknown engine", lambda d: d["engines"].update(tgi={"min_version": "1.0"}), "engines.tgi",
     "not an engine this harness can run"),
    ("bad version", lambda d: d["engines"]["vllm"].update(min_version="new"),
     "engines.vllm.min_version", "not a version number"),
    ("bad arg type", lambda d: d["engine_args"].update(x={"type": "string"}),
     "engine_args.x.type", "not an argument type"),
    ("min above max", lambda d: d["engine_args"].update(x={"type": "int", "min": 5, "max": 1}),
     "engine_args.x.min", "not be greater than max"),
    ("allowing suffix decoding", lambda d: d["engine_args"]["speculative_config"]["methods"]
     .append("suffix"), "engine_args.speculative_config.methods[6]", "can never be allowed"),
    ("default not allowed", lambda d: d.update(engine_defaults={"swap_space": 4}),
     "engine_defaults.swap_space", "allowed engine_args"),
    ("harness env var", lambda d: d.update(engine_env={"VLLM_PLUGINS": "evil"}),
     "engine_env.VLLM_PLUGINS", "set by the harness"),
    ("harness env var for the referee", lambda d: d.update(referee_env={"VLLM_PLUGINS": "x"}),
     "referee_env.VLLM_PLUGINS", "set by the harness"),
    ("referee env not a mapping", lambda d: d.update(referee_env=["TORCH_COMPILE_DISABLE"]),
     "referee_env", "mapping"),
    ("bad referee env name", lambda d: d.update(referee_env={"lower": "1"}),
     "referee_env.lower", "environment variable name"),
    ("bad maintainer", lambda d: d["maintainers"].append("not a login!"), "maintainers[1]",
     "not a GitHub login"),
    ("unknown top-level", lambda d: d.update(leaderboard="x"), "leaderboard", "unknown field"),
    ("old tie threshold", lambda d: d.update(ranking={"tie_tps": 3.5}), "ranking.tie_tps",
     "matches sigma_tps of about 1.3 at confidence 0.95"),
    ("both sigmas", lambda d: d["ranking"]["noise"].update(sigma_relative=0.004),
     "ranking.noise", "exactly one of sigma_tps"),
    ("no sigma", lambda d: d["ranking"]["noise"].pop("sigma_tps"), "ranking.noise",
     "has neither"),
    ("noise without a source", lambda d: d["ranking"]["noise"].pop("source"), "ranking.noise",
     "'source' is missing"),
    ("confidence of one", lambda d: d["ranking"].update(confidence=1), "ranking.confidence",
     "out of range"),
    ("negative sigma", lambda d: d["ranking"]["noise"].update(sigma_tps=-1),
     "ranking.noise.sigma_tps", "greater than 0"),
]


@pytest.mark.parametrize("case,change,field,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_challenge_files_are_reported(tmp_path, case, change, field, message):
    with pytest.raises(ChallengeError) as info:
        load_challenge(_broken(tmp_path, change))
    problems = info.value.problems
    assert any(p.field == field and message in p.message for p in problems), \
        "\n".join(p.format() for p in problems)


@pytest.mark.parametrize("arg", ["trust_remote_code", "hf_overrides", "enable_prefix_caching"])
def test_a_challenge_can_never_allow_a_dangerous_argument(tmp_path, arg):
    assert arg in FORBIDDEN_ARGS
    with pytest.raises(ChallengeError) as info:
        load_challenge(_broken(tmp_path, lambda d: d["engine_args"].update({arg: {"type": "bool"}})))
    assert any("can never be allowed" in p.message for p in info.value.problems)


def test_a_missing_challenge_file_says_so(tmp_path):
    with pytest.raises(ChallengeError) as info:
        load_challenge(tmp_path / "nope.yaml")
    assert "cannot read the challenge file" in info.value.problems[0].message


def test_an_old_tie_threshold_beside_the_new_noise_is_still_refused(tmp_path):
    def change(d):
        d["ranking"]["tie_tps"] = 3.5
    with pytest.raises(ChallengeError) as info:
        load_challenge(_broken(tmp_path, change))
    (p,) = info.value.problems
    assert p.field == "ranking.tie_tps" and p.line > 1
    assert "no longer read" in p.message and "noise: {sigma_tps" in p.message


def test_the_noise_calibration_is_read_with_its_source(challenge, demo_challenge):
    n = challenge.noise
    assert (n.sigma, n.relative, n.confidence) == (1.2, False, 0.99)
    assert "1.2 tokens/s" in n.source and n.degrees_of_freedom >= 1
    assert n.sigma_at(300.0) == 1.2
    d = demo_challenge.noise
    assert d.relative and d.sigma_at(100.0) == pytest.approx(100.0 * d.sigma)
