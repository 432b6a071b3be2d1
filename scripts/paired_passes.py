#!/usr/bin/env python3
"""A paired run on this machine, and what the pairing buys: the interval of the TPS difference
from the pairs (Student's t on the pair differences) against the same passes read as two
separate runs (Welch), on real vLLM (CPU build) with the tiny model.

It runs `arena bench`'s paired run (runner.bench.run_bench with a `vs` plan, exactly what
`arena bench demo/submissions/arena-maintainers/ngram-k4.yaml --vs .../plain.yaml` does, every
engine sandboxed) with `--pairs` pairs of passes over the public and private sets. The cache
probe and the referee's token checks are left out (they do not touch the timed passes; the
referee still measures perplexity).

    .venv/bin/python scripts/paired_passes.py [--pairs 8] [--order request|pass] [--json]
        [--record FILE]

`--record FILE` writes both engines' per-pass TPS (the data tests/runner/test_paired_recorded.py
reads: tests/runner/data/paired_passes.json was written this way).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SUBS = REPO / "demo" / "submissions" / "arena-maintainers"


def widths(cand: list[float], other: list[float]) -> dict:
    from arena.stats import diff_interval, paired_interval

    p, w = paired_interval(cand, other), diff_interval(cand, other)
    assert p is not None and w is not None
    return {"diff": sum(cand) / len(cand) - sum(other) / len(other), "paired_ci": list(p),
            "unpaired_ci": list(w), "paired_width": p[1] - p[0], "unpaired_width": w[1] - w[0],
            "ratio": (p[1] - p[0]) / (w[1] - w[0]) if w[1] > w[0] else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--record", type=Path, default=None, metavar="FILE")
    ap.add_argument("--order", choices=("request", "pass"), default="request",
                    help="interleave request by request (the recorded data) or pass by pass "
                         "(arena bench's default)")
    args = ap.parse_args()

    from arena.challenge import load_challenge
    from arena.commands import validate_paths
    from arena.demo import PRIVATE_PROMPTS, PRIVATE_SEED, write_private_prompts
    from runner import tinymodel
    from runner.bench import BenchPlan, run_bench
    from runner.context import OtherPlan
    from runner.models import local_model_path
    from runner.paired import abba
    from runner.prompts import load_private_dir, load_prompt_file

    ch = load_challenge(REPO / "demo" / "challenge.yaml")
    ch = dataclasses.replace(ch, repeats=args.pairs)
    tinymodel.ensure(local_model_path(ch.base_model.id, ch), ch.base_model.revision)
    [cand, other] = validate_paths([SUBS / "ngram-k4.yaml", SUBS / "plain.yaml"], ch)
    with tempfile.TemporaryDirectory(prefix="arena-paired-") as tmp:
        private = Path(tmp) / "private"
        write_private_prompts(private / "prompts.jsonl", PRIVATE_PROMPTS, PRIVATE_SEED)
        sets = [load_prompt_file(ch.public_prompts, name="public"), load_private_dir(private)]
        record = run_bench(BenchPlan(cand.submission, ch, sets,
                                     vs=OtherPlan(other.submission, order=args.order)),
                           progress=lambda m: print(m, file=sys.stderr), engine_checks=[],
                           referee_checks=[])
    if "paired" not in record.result:
        print(f"the paired run did not finish: {record.result['reasons']}", file=sys.stderr)
        return 1
    data = {"format": "arena.paired-passes/1",
            "recorded": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
            "how": f".venv/bin/python scripts/paired_passes.py --pairs {args.pairs} --order "
                   f"{args.order} --record "
                   "FILE: arena bench's paired run of the demo's ngram-k4 against plain, vLLM "
                   "CPU build, tiny Gemma-4, every engine sandboxed, on "
                   f"{platform.machine()} with {len(__import__('os').sched_getaffinity(0))} "
                   "cores shared with other jobs",
            "candidate": cand.submission.id, "other": other.submission.id,
            "interleaved": args.order, "order": [list(p) for p in abba(args.pairs)],
            "sets": {}}
    for name in record.tps:
        c = [p.tps for p in record.tps[name].passes]
        o = [p.tps for p in record.other_tps[name].passes]
        data["sets"][name] = {"candidate": [round(x, 4) for x in c],
                              "other": [round(x, 4) for x in o], **widths(c, o)}
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(data, indent=1) + "\n")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"paired run: {data['candidate']} against {data['other']}, {args.pairs} pairs "
          f"(ABBA), interleaved by {args.order}, one job")
    for name, s in data["sets"].items():
        print(f"  {name:8} diff {s['diff']:+.2f} tok/s; 95% CI from the pairs "
              f"[{s['paired_ci'][0]:+.2f}, {s['paired_ci'][1]:+.2f}] (width "
              f"{s['paired_width']:.2f}); as two separate runs (Welch) "
              f"[{s['unpaired_ci'][0]:+.2f}, {s['unpaired_ci'][1]:+.2f}] (width "
              f"{s['unpaired_width']:.2f}); paired/unpaired width {s['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
