#!/usr/bin/env python3
"""Benchmark: `arena validate` on 1,000 generated submission files, start-up included.

Generates a scratch repository (this repo's challenge.yaml and prompts, 1,000 submissions by
100 authors, a mix of valid and invalid files and parent chains), then times the real command
line (`python -m arena validate --json <folder>`) end to end, several times, and reports the
median. Target: under 3 s on a 2-core machine.

    python scripts/bench_validate.py [--files 1000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_repo(root: Path, files: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (root / "prompts").mkdir(parents=True)
    shutil.copy(REPO / "challenge.yaml", root / "challenge.yaml")
    shutil.copy(REPO / "prompts" / "public.jsonl", root / "prompts" / "public.jsonl")
    ids: list[str] = []
    for i in range(files):
        login = f"agent-{i % 100:03d}"
        name = f"sub-{i:04d}"
        parent = f"parent: {rng.choice(ids)}\n" if ids and rng.random() < 0.7 else ""
        revision = "".join(rng.choice("0123456789abcdef") for _ in range(40))
        bad = rng.random() < 0.1
        spec = ""
        if rng.random() < 0.5:
            spec = ("    speculative_config:\n      method: mtp\n"
                    "      model: google/gemma-4-E4B-it-assistant\n"
                    f"      revision: {revision}\n"
                    f"      num_speculative_tokens: {rng.randint(1, 8)}\n")
        text = (
            "# yaml-language-server: $schema=../schema.json\n"
            f"name: {name}\n"
            f"description: generated submission {i}, tuning batched tokens and drafts\n"
            f"{parent}"
            "tags: [quantization, speculative-decoding]\n"
            "model:\n  id: google/gemma-4-E4B-it-qat-w4a16-ct\n"
            f"  revision: {'main' if bad else revision}\n"
            "engine:\n  name: vllm\n  version: \"0.32.0\"\n  args:\n"
            f"    max_model_len: {rng.choice([2048, 4096, 8192])}\n"
            f"    max_num_batched_tokens: {rng.choice([256, 512])}\n"
            f"{spec}"
            f"claimed: {{tps: {rng.uniform(40, 500):.1f}, ppl: {rng.uniform(2.2, 2.4):.3f}}}\n"
        )
        path = root / "submissions" / login / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        ids.append(f"{login}/{name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "repo"
        make_repo(root, args.files)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "arena", "validate", "--json", "--challenge",
               str(root / "challenge.yaml"), str(root / "submissions")]
        times = []
        for i in range(args.runs):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if proc.returncode not in (0, 1):
                print(proc.stderr, file=sys.stderr)
                return 3
            doc = json.loads(proc.stdout)
            if not args.json:
                print(f"run {i + 1}/{args.runs}: {times[-1]:.2f} s", file=sys.stderr)
        n_valid = sum(f["valid"] for f in doc["files"])
        figures = {
            "format": "arena.bench-validate/1",
            "files": len(doc["files"]),
            "valid": n_valid,
            "invalid": len(doc["files"]) - n_valid,
            "runs": args.runs,
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "target_s": 3.0,
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"validated {figures['files']} files ({figures['valid']} valid, "
              f"{figures['invalid']} invalid) in {figures['median_s']:.2f} s median of "
              f"{args.runs} runs (min {figures['min_s']:.2f}, max {figures['max_s']:.2f}); "
              f"target < 3 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
