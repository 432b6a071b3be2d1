#!/usr/bin/env python3
"""Does `arena bench` measure what vLLM's own serving benchmark measures, and what does the rest
of a run cost?

Part 1, agreement. One vLLM server of a submission; after a warm-up, rounds alternate between
  - arena's TPS measurement (runner.measure.measure_tps: one pass, batch 1, greedy, exactly N
    tokens per request, EOS ignored, token-ID prompts, non-streaming), and
  - vLLM's `vllm bench serve` logic (vllm.benchmarks.serve.benchmark, the coroutine that
    command runs once it has its prompts; streaming completions, max concurrency 1, request
    rate inf, ignore_eos, temperature 0), fed the same token-ID prompts in the same order with
    the same output length.
Its output throughput (output tokens / benchmark duration) is compared with arena's pass TPS:
the ratio arena / vLLM, per round and as the median of the rounds (target: within 2%).

Part 2, overhead. One complete `arena bench` run (runner.bench.run_bench, exactly what the
command does) of the same submission, on the public set and, with --private, the private set.
Its wall-time breakdown says how much of the run is outside engine start-up and timed
generation (model preparation, warm-up, perplexity, stopping; target: under 15%).

Run from the repository root (CPU demo defaults; the tiny model is built if missing):

    .venv/bin/python scripts/bench_vs_vllm.py
    .venv/bin/python scripts/bench_vs_vllm.py --challenge challenge.yaml \
        --submission submissions/arena-maintainers/bf16-baseline.yaml --private /srv/private

`vllm bench serve` as a command, without the `vllm` console script (which fails on the CPU
build's package metadata), is its module's own parser and main:

    python -c 'import sys; from vllm.utils.argparse_utils import FlexibleArgumentParser; \
      from vllm.benchmarks.serve import add_cli_args, main; p = FlexibleArgumentParser(); \
      add_cli_args(p); main(p.parse_args(sys.argv[1:]))' --base-url http://127.0.0.1:PORT ...

That path samples its prompts from a dataset (the custom JSONL one needs pandas); this script
calls the same benchmark coroutine with arena's prompts instead, so both sides send the same
token IDs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from arena.challenge import load_challenge  # noqa: E402
from arena.commands import validate_paths  # noqa: E402
from runner.bench import BenchPlan, ServeSpec, merged_engine_args, run_bench, serve_with_vllm  # noqa: E402
from runner.client import EngineClient  # noqa: E402
from runner.encoding import ChatEncoder  # noqa: E402
from runner.measure import LengthAudit, measure_tps, pass_orders, warm_up  # noqa: E402
from runner.models import TOKENIZER_FILES, prepare_model  # noqa: E402
from runner.prompts import load_private_dir, load_prompt_file, warmup_prompts  # noqa: E402
from runner.report import ProgressPrinter  # noqa: E402


def vllm_bench_serve(base_url: str, model: str, tokenizer_dir: Path, prompts: list[list[int]],
                     output_tokens: int) -> dict:
    """vLLM's serving benchmark over exactly these token-ID prompts, batch 1."""
    from vllm.benchmarks.datasets import SampleRequest
    from vllm.benchmarks.serve import TaskType, benchmark
    from vllm.tokenizers import get_tokenizer

    requests = [SampleRequest(prompt=list(p), prompt_len=len(p),
                              expected_output_len=output_tokens) for p in prompts]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        result = asyncio.run(benchmark(
            task_type=TaskType.GENERATION, endpoint_type="vllm",
            api_url=base_url + "/v1/completions", base_url=base_url, model_id=model,
            model_name=model, tokenizer=get_tokenizer(str(tokenizer_dir)),
            input_requests=requests, logprobs=None, request_rate=float("inf"), burstiness=1.0,
            disable_tqdm=True, num_warmups=0, profile=False,
            selected_percentile_metrics=["ttft", "tpot", "itl"], selected_percentiles=[99.0],
            ignore_eos=True, goodput_config_dict={}, max_concurrency=1, lora_modules=None,
            extra_headers=None, extra_body={"temperature": 0}))
    result["_report"] = captured.getvalue()
    return result


def part1_agreement(args, challenge, sub, progress) -> dict:
    base = prepare_model(challenge.base_model, challenge=challenge, cache_dir=None,
                         files=TOKENIZER_FILES, what="base model")
    model = prepare_model(sub.model, challenge=challenge, cache_dir=None)
    encoder = ChatEncoder(base.path)
    pset = load_prompt_file(challenge.public_prompts)
    encoded = encoder.encode_set(pset)
    n = len(encoded.prompt_ids)
    out_tokens = args.output_tokens or challenge.output_tokens
    rounds = []
    with tempfile.TemporaryDirectory(prefix="arena-vs-vllm-") as work:
        spec = ServeSpec(model.path, sub.engine_name, sub.engine_version,
                         merged_engine_args(sub, challenge, None), challenge.engine_env,
                         challenge.seed, Path(work), challenge.startup_timeout_s, (), progress)
        server = serve_with_vllm(spec)
        try:
            client = EngineClient(server, request_timeout=challenge.request_timeout_s)
            warm_up(client, [encoder.prompt_ids(p) for p in warmup_prompts(4)], out_tokens,
                    LengthAudit(out_tokens), progress)
            for r in range(args.rounds):
                seed = challenge.seed + r
                tps = measure_tps(client, [encoded], output_tokens=out_tokens, repeats=1,
                                  seed=seed, audit=LengthAudit(out_tokens))["public"]
                arena_tps = tps.passes[0].tps
                order = pass_orders(n, 1, seed)[0]
                res = vllm_bench_serve(server.base_url, server.model, base.path,
                                       [list(encoded.prompt_ids[i]) for i in order], out_tokens)
                if res["completed"] != n or res["total_output_tokens"] != n * out_tokens:
                    raise SystemExit(f"vLLM's benchmark completed {res['completed']} requests "
                                     f"and {res['total_output_tokens']} tokens, expected {n} "
                                     f"and {n * out_tokens}:\n{res['_report']}")
                vllm_tps = res["output_throughput"]
                rounds.append({"arena_tps": arena_tps, "vllm_tps": vllm_tps,
                               "ratio": arena_tps / vllm_tps})
                progress(f"round {r + 1}/{args.rounds}: arena {arena_tps:.1f} tokens/s, vLLM "
                         f"bench serve {vllm_tps:.1f} tokens/s, ratio {arena_tps / vllm_tps:.4f}")
        finally:
            server.stop()
    ratios = [r["ratio"] for r in rounds]
    return {"prompts": n, "output_tokens": out_tokens, "rounds": rounds,
            "median_ratio": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
            # Both sides' tokens over both sides' time, all rounds pooled.
            "pooled_ratio": (statistics.fmean(1 / r["vllm_tps"] for r in rounds)
                             / statistics.fmean(1 / r["arena_tps"] for r in rounds))}


def part2_breakdown(args, challenge, sub, progress) -> dict:
    sets = [load_prompt_file(challenge.public_prompts)]
    if args.private:
        sets.append(load_private_dir(args.private))
    record = run_bench(BenchPlan(sub, challenge, sets), progress=progress)
    t = record.result["timings"]
    total = t["total_s"]
    core = t.get("startup_s", 0.0) + t.get("timed_s", 0.0)
    return {"verdict": record.verdict, "timings": t, "sets": [s.name for s in sets],
            "outside_startup_and_timed_s": total - core,
            "outside_share": (total - core) / total if total else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--challenge", type=Path, default=REPO / "demo" / "challenge.yaml")
    ap.add_argument("--submission", type=Path,
                    default=REPO / "demo" / "submissions" / "arena-maintainers" / "plain.yaml")
    ap.add_argument("--private", type=Path, default=None, metavar="DIR",
                    help="private prompt folder for part 2 (default: the demo's generated set "
                         "when the demo challenge is used, else none)")
    ap.add_argument("--rounds", type=int, default=8,
                    help="alternating arena / vLLM rounds (default 8; a shared machine's noise "
                         "needs several)")
    ap.add_argument("--output-tokens", type=int, default=None)
    ap.add_argument("--skip-breakdown", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = ap.parse_args()

    challenge = load_challenge(args.challenge)
    [report] = validate_paths([args.submission], challenge)
    if not report.valid or report.submission is None:
        for p in report.problems:
            print(p.format(), file=sys.stderr)
        return 1
    sub = report.submission
    if challenge.base_model.id.startswith("./"):
        from runner import tinymodel
        from runner.models import local_model_path

        tinymodel.ensure(local_model_path(challenge.base_model.id, challenge),
                         challenge.base_model.revision)
        if args.private is None and args.challenge.resolve() == (REPO / "demo" /
                                                                 "challenge.yaml"):
            from arena.demo import PRIVATE_PROMPTS, PRIVATE_SEED, write_private_prompts

            args.private = Path(tempfile.mkdtemp(prefix="arena-private-"))
            write_private_prompts(args.private / "prompts.jsonl", PRIVATE_PROMPTS,
                                  PRIVATE_SEED)
    progress = ProgressPrinter(sys.stderr)
    t0 = time.monotonic()
    agreement = part1_agreement(args, challenge, sub, progress)
    breakdown = None if args.skip_breakdown else part2_breakdown(args, challenge, sub, progress)
    doc = {"format": "arena.bench-vs-vllm/1", "challenge": challenge.id,
           "submission": sub.id, "agreement": agreement, "breakdown": breakdown,
           "seconds": round(time.monotonic() - t0, 1),
           "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    print(f"arena bench vs vLLM bench serve: {sub.id} on {challenge.id}, "
          f"{agreement['prompts']} prompts x {agreement['output_tokens']} tokens, batch 1")
    print(f"  {'round':<6} {'arena tok/s':>12} {'vLLM tok/s':>12} {'ratio':>8}")
    for i, r in enumerate(agreement["rounds"], 1):
        print(f"  {i:<6} {r['arena_tps']:>12.2f} {r['vllm_tps']:>12.2f} {r['ratio']:>8.4f}")
    dev = agreement["median_ratio"] - 1
    print(f"  median ratio {agreement['median_ratio']:.4f} ({dev:+.2%}; target within 2%: "
          f"{'met' if abs(dev) <= 0.02 else 'NOT met'}); pooled {agreement['pooled_ratio']:.4f}"
          f"; range {agreement['ratio_range'][0]:.4f}-{agreement['ratio_range'][1]:.4f}")
    print(f"  machine: {doc['cpus']} CPUs, load average {doc['load_average']} at the end")
    if breakdown:
        t = breakdown["timings"]
        print(f"full arena bench run ({', '.join(breakdown['sets'])}; verdict "
              f"{breakdown['verdict']}):")
        for k in ("prepare_s", "startup_s", "warmup_s", "timed_s", "ppl_s", "stop_s"):
            if k in t:
                print(f"  {k[:-2]:<8} {t[k]:>8.1f} s {t[k] / t['total_s']:>7.1%}")
        print(f"  {'total':<8} {t['total_s']:>8.1f} s")
        share = breakdown["outside_share"]
        print(f"  outside start-up and timed generation: "
              f"{breakdown['outside_startup_and_timed_s']:.1f} s = {share:.1%} of the run "
              f"(target under 15%: {'met' if share < 0.15 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
