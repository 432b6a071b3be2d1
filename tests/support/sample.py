"""Test helpers (they live with the tests): synthetic results, submissions and boards.

The site's tests, its benchmark (`scripts/bench_site.py`) and its screenshot script need
challenges of every shape — empty, one run, thousands of submissions, hostile text — without a
GPU. Every result made here passes `arena.result.validate_result` and every submission file
passes `arena.submission.validate_file`, so the site is exercised on the same contracts as real
data. Nothing here is used by the site itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from arena.result import validate_result
from arena.store import ResultsStore
from arena.submission import sha256_json
from arena.stats import summarize
from runner.integrity import CHECK_ORDER

# The runner's checks, in the order it reports them.
CHECK_NAMES = CHECK_ORDER
BASE_REVISION = "ee0ef6023621cff504d758262d4e04895a5af4a2"


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tps_set(passes: Sequence[float], *, prompts: int = 32, output_tokens: int = 512,
            ) -> dict[str, Any]:
    """One prompt set's TPS block from per-pass TPS figures, with the statistics the runner
    reports (median, mean, sample stdev, Student-t 95% CI of the mean), from the runner's own
    `summarize`."""
    tokens = prompts * output_tokens
    s = summarize(passes)
    mean, sd = s.mean, s.stdev
    return {
        "prompts": prompts,
        "output_tokens": output_tokens,
        "passes": [{"tokens": tokens, "seconds": round(tokens / p, 4), "tps": round(p, 3)}
                   for p in passes],
        "median": round(s.median, 3),
        "mean": round(mean, 3),
        "stdev": round(sd, 3),
        "ci95": [round(s.ci95[0], 3), round(s.ci95[1], 3)],
    }


def passes_around(centre: float, spread: float, n: int = 3, rng: random.Random | None = None,
                  ) -> list[float]:
    """n pass figures near `centre`, deterministic for a given rng."""
    rng = rng or random.Random(int(centre * 1000))
    return [max(0.1, centre + rng.gauss(0, spread)) for _ in range(n)]


def config(model_id: str = "google/gemma-4-E4B-it", revision: str = BASE_REVISION,
           args: Mapping[str, Any] | None = None, version: str = "0.32.0") -> dict[str, Any]:
    return {"model": {"id": model_id, "revision": revision},
            "engine": {"name": "vllm", "version": version,
                       "args": {k: args[k] for k in sorted(args or {})}}}


def make_result(
    submission_id: str,
    *,
    started_at: dt.datetime | str = "2026-11-02T10:00:00Z",
    run_id: str | None = None,
    verdict: str = "verified",
    reasons: Sequence[tuple[str, str]] = (),
    private: Sequence[float] | None = (200.0, 201.0, 202.0),
    public: Sequence[float] | None = (204.0, 205.0, 206.0),
    ppl: float | None = 2.31,
    ppl_reference: float = 2.30,
    ppl_cap: float = 2.415,
    hardware: str = "a10g",
    fingerprint_hardware: str | None = None,
    challenge_id: str = "fast-gemma",
    cfg: Mapping[str, Any] | None = None,
    checks: Sequence[Mapping[str, Any]] | None = None,
    speculative: Mapping[str, Any] | None = None,
    log_tail: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    accelerator: str = "NVIDIA A10G",
    commit: str | None = None,
    track: str | None = None,
) -> dict[str, Any]:
    """A result document that validates against the result schema.

    `private`/`public` are per-pass TPS figures (None: that set was not measured). `reasons`
    are (check, message) pairs; an `error` run usually has no TPS at all."""
    if isinstance(started_at, str):
        start = dt.datetime.fromisoformat(started_at)
    else:
        start = started_at
    login, name = submission_id.split("/", 1)
    cfg = dict(cfg or config())
    rid = run_id or f"{start.strftime('%Y%m%dT%H%M%SZ')}-" + hashlib.sha256(
        f"{submission_id}{start}".encode()).hexdigest()[:8]
    tps: dict[str, Any] = {}
    if private is not None:
        tps["private"] = tps_set(private)
    if public is not None:
        tps["public"] = tps_set(public)
    sets = {s: {"value": ppl, "tokens": 9000, "prompts": 32} for s in tps} if ppl else {}
    if checks is None:
        checks = default_checks(verdict, reasons)
    doc: dict[str, Any] = {
        "schema_version": 1,
        "run_id": rid,
        "submission": {
            "id": submission_id,
            "path": f"submissions/{login}/{name}.yaml",
            "commit": commit if commit is not None else hashlib.sha1(
                f"{submission_id}{rid}".encode()).hexdigest(),
            "config": cfg,
            "config_sha256": sha256_json(cfg),
        },
        "challenge": {"id": challenge_id, "hardware": hardware,
                      **({"track": track} if track is not None else {})},
        "started_at": iso(start),
        "finished_at": iso(start + dt.timedelta(minutes=23)),
        "verdict": verdict,
        "reasons": [{"check": c, "message": m} for c, m in reasons],
        "tps": tps,
        "ppl": {"reference": ppl_reference, "cap": ppl_cap, "sets": sets},
        "checks": [dict(c) for c in checks],
        "speculative": dict(speculative) if speculative is not None else None,
        "timings": {"startup_s": 95.2, "warmup_s": 12.0, "timed_s": 240.5, "ppl_s": 40.1,
                    "checks_s": 60.3, "total_s": 448.1},
        "fingerprint": {
            "hardware": fingerprint_hardware or hardware,
            "accelerator": accelerator,
            "driver": "550.54.15",
            "cuda": "12.4",
            "cpu": None,
            "engine": "vllm",
            "engine_version": cfg["engine"]["version"],
            "harness_version": "0.1.0",
            "python": "3.11.9",
            "torch": "2.13.0",
            "prompt_sets": {"public": "1" * 64, "private": "2" * 64},
            "submission_sha256": sha256_json(cfg),
        },
    }
    if log_tail is not None:
        doc["log_tail"] = log_tail
    if provenance is not None:
        doc["provenance"] = dict(provenance)
    return validate_result(doc)


def default_checks(verdict: str, reasons: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """The integrity checks a run reports; those named in `reasons` failed."""
    failed = {c: m for c, m in reasons}
    if verdict == "error":
        return [{"name": "output_length", "status": "skip",
                 "message": "not reached: the engine did not finish starting", "figures": {}}]
    figures = {
        "output_length": {"requests": 96, "short_requests": 0},
        "model_identity": {"architecture": "Gemma4ForConditionalGeneration", "layers": 42},
        "greedy_fidelity": {"prompts": 16, "match_rate": 1.0, "violations": 0,
                            "first_divergence": None},
        "scoring_consistency": {"tokens": 49152, "violations": 0, "served_nll": 0.412},
        "near_ties": {"tokens": 49152, "non_top1": 3, "rate": 6.1e-05, "allowed": 12,
                      "calibrated_rate": 4e-05, "calibrated_tokens": 200000,
                      "largest_lead": 0.0009, "largest_rank": 2,
                      "calibration": "honest runs on the demo model"},
        "public_private_gap": {"public_tps": 205.0, "private_tps": 201.0, "gap": 0.0195,
                               "tolerance": 0.05},
        "cache_probe": {"repeats": 3, "speedup": 1.01, "max_speedup": 1.15},
        "ppl_cap": {"ppl": 2.38, "cap": 2.415},
    }
    out = []
    for name in CHECK_NAMES:
        if name in failed:
            out.append({"name": name, "status": "fail", "message": failed[name],
                        "figures": figures[name]})
        else:
            out.append({"name": name, "status": "pass", "message": "passed",
                        "figures": figures[name]})
    return out


def submission_yaml(name: str, *, description: str, parent: str | None = None,
                    tags: Sequence[str] = (), model_id: str = "google/gemma-4-E4B-it",
                    revision: str = BASE_REVISION, args: Mapping[str, Any] | None = None,
                    claimed: Mapping[str, float] | None = None, comment: str = "",
                    tracks: Sequence[str] | None = None) -> str:
    """The text of a submission file (YAML written as JSON flow values, which is valid YAML
    and escapes any text)."""
    lines = ["# yaml-language-server: $schema=../schema.json"]
    if comment:
        lines.extend("# " + c for c in comment.splitlines())
    lines.append(f"name: {name}")
    lines.append(f"description: {json.dumps(description, ensure_ascii=False)}")
    if parent:
        lines.append(f"parent: {parent}")
    if tags:
        lines.append(f"tags: {json.dumps(list(tags))}")
    lines += ["model:", f"  id: {model_id}", f"  revision: \"{revision}\"",
              "engine:", "  name: vllm", "  version: \"0.32.0\""]
    if args:
        lines.append("  args:")
        for k in sorted(args):
            lines.append(f"    {k}: {json.dumps(args[k])}")
    if claimed:
        lines.append(f"claimed: {json.dumps(dict(claimed))}")
    if tracks is not None:
        lines.append(f"tracks: {json.dumps(list(tracks))}")
    return "\n".join(lines) + "\n"


def challenge_folder(root: Path, *, source: Path | None = None) -> Path:
    """A copy of a challenge file in `root`, with its public prompt set beside it and an empty
    submissions folder, ready for `arena.challenge.load_challenge`. Returns the file's path."""
    repo = Path(__file__).resolve().parents[2]
    source = source or repo / "challenge.yaml"
    root.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    (root / "prompts").mkdir(exist_ok=True)
    shutil.copyfile(repo / "prompts" / "public.jsonl", root / "prompts" / "public.jsonl")
    # A test challenge under tests/ names the repository's prompt set by a relative path.
    text = text.replace("public: ../../prompts/public.jsonl", "public: prompts/public.jsonl")
    out = root / "challenge.yaml"
    out.write_text(text, encoding="utf-8")
    (root / "submissions").mkdir(exist_ok=True)
    return out


# A two-track challenge (a10g and l4, each its own quota and noise), for the tracks tests.
TWO_TRACKS = Path(__file__).resolve().parents[1] / "tracks" / "challenge.yaml"


def write_submission(challenge_root: Path, login: str, name: str, **kw: Any) -> Path:
    path = challenge_root / "submissions" / login / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(submission_yaml(name, **kw), encoding="utf-8")
    return path


_IDEAS = [
    ("int4", ["quantization"], {"quantization": "compressed-tensors"}),
    ("fp8-kv", ["kv-cache"], {"kv_cache_dtype": "fp8"}),
    ("mtp", ["speculative-decoding"], {"speculative_config": {
        "method": "mtp", "model": "google/gemma-4-E4B-it-assistant",
        "revision": "89abcdef0123456789abcdef0123456789abcdef", "num_speculative_tokens": 4}}),
    ("ngram", ["speculative-decoding"], {"speculative_config": {
        "method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 4,
        "prompt_lookup_min": 2}}),
    ("graphs", ["cuda-graphs"], {"compilation_config": {"cudagraph_mode": "FULL_DECODE_ONLY"}}),
    ("sched", ["scheduling"], {"max_num_batched_tokens": 1024, "async_scheduling": True}),
    ("eager", ["compilation"], {"enforce_eager": False}),
]


def synthetic_history(root: Path, *, submissions: int, runs_per_submission: int = 3,
                      seed: int = 7, authors: int | None = None,
                      start: dt.datetime | None = None) -> Path:
    """A whole challenge in `root`: challenge.yaml, `submissions` files in lineages, their runs
    in a results store at root/store (mostly verified, some invalid or error, a few pending
    submissions without runs, some on other hardware), and a few maintainer verdicts.
    Returns the challenge file's path. Deterministic for a seed."""
    rng = random.Random(seed)
    challenge_path = challenge_folder(root)
    store = ResultsStore(root / "store")
    n_authors = authors or max(1, min(submissions // 4, 2000))
    logins = [f"agent-{i:04d}" if i % 3 else f"dev{i}" for i in range(n_authors)]
    t0 = start or dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.timezone.utc)
    ids: list[str] = []
    strength: dict[str, float] = {}
    span_s = 60 * 86400
    for i in range(submissions):
        login = logins[rng.randrange(n_authors)] if i else "arena-maintainers"
        idea, tags, args = _IDEAS[rng.randrange(len(_IDEAS))]
        name = f"{idea}-{i}" if i else "bf16-baseline"
        sid = f"{login}/{name}"
        parent = None
        if ids:
            # Builds mostly on recent strong entries, sometimes on anything.
            pool = ids[-50:] if rng.random() < 0.8 else ids
            parent = max(rng.sample(pool, min(3, len(pool))), key=lambda p: strength[p])
        base_tps = strength[parent] if parent else 100.0
        # Gains get harder near the hardware's ceiling; most ideas do not pan out.
        ceiling = 320.0
        mine = max(40.0, base_tps + (ceiling - base_tps) * rng.uniform(-0.25, 0.2))
        strength[sid] = mine
        ids.append(sid)
        # Each submission its own configuration (a different context length): runs of one
        # configuration are repeated measurements of one thing, and the tie rule pools them.
        own = {"max_model_len": 4096 + i, **args}
        write_submission(root, login, name, description=f"{idea} on top of {parent or 'bf16'}: "
                         f"try {i}.", parent=parent, tags=tags, args=own)
        when = t0 + dt.timedelta(seconds=span_s * i / max(1, submissions))
        if i and rng.random() < 0.04:
            continue  # pending: no run yet
        cfg = config(args=own)
        for k in range(runs_per_submission):
            roll = rng.random()
            at = when + dt.timedelta(hours=k * 3 + rng.random())
            hw = "l4" if roll > 0.985 else "a10g"
            spread = max(0.4, mine * 0.006)
            if roll < 0.07:
                doc = make_result(sid, started_at=at, verdict="error", private=None, public=None,
                                  ppl=None, reasons=[("engine", "the engine exited with "
                                                     "code 1 during start-up")], cfg=cfg,
                                  log_tail="RuntimeError: CUDA out of memory", hardware=hw,
                                  provenance={"pr": 100 + i, "head_sha": "a" * 40,
                                              "run_url": None, "requested_by": login})
            elif roll < 0.14:
                gap = rng.uniform(0.07, 0.15)
                doc = make_result(sid, started_at=at, verdict="invalid", hardware=hw, cfg=cfg,
                                  public=passes_around(mine, spread, rng=rng),
                                  private=passes_around(mine * (1 - gap), spread, rng=rng),
                                  reasons=[("public_private_gap", f"private TPS is {gap:.0%} "
                                            "below public (tolerance 5%)")],
                                  provenance={"pr": 100 + i, "head_sha": "a" * 40,
                                              "run_url": None, "requested_by": login})
            else:
                ppl = round(2.30 * (1 + rng.uniform(0.0, 0.045)), 4)
                doc = make_result(sid, started_at=at, hardware=hw, cfg=cfg, ppl=ppl,
                                  public=passes_around(mine * 1.01, spread, rng=rng),
                                  private=passes_around(mine, spread, rng=rng),
                                  provenance={"pr": 100 + i, "head_sha": "a" * 40,
                                              "run_url": None, "requested_by": login})
            store.append_result(doc)
    # A few maintainer decisions on early submissions.
    if submissions > 10:
        store.append_verdict(submission=ids[3], action="invalidate", by="arena-maintainers",
                             reason="drafter trained on the public prompts",
                             at=t0 + dt.timedelta(days=61))
        store.append_verdict(submission=ids[5], action="withdraw", by=ids[5].split("/")[0],
                             reason="superseded by a later submission",
                             at=t0 + dt.timedelta(days=61, hours=1))
    return challenge_path
