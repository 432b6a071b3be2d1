#!/usr/bin/env python3
"""Does `arena bench` measure what vLLM's own serving benchmark measures, and what does the rest
of a run cost?

Part 1, agreement. One vLLM server of a submission; after a warm-up, the same prompts (token
IDs, same order, same output length, batch 1) are measured three ways, alternating every few
prompts (--chunk) so that a shared machine's load changes hit all three alike:
  - arena: runner.measure.measure_tps, exactly what `arena bench` times (non-streaming
    requests, tokens received / pass wall time);
  - vLLM bench serve: vllm.benchmarks.serve.benchmark, the coroutine `vllm bench serve` runs
    once it has its prompts (streaming completions, max concurrency 1, request rate inf,
    ignore_eos, temperature 0); its output throughput = output tokens / benchmark duration;
  - arena streamed: arena's pass timing with the requests streamed as vLLM's benchmark streams
    them, which separates the two measurements' logic from the cost of streaming itself.
Reported: arena / vLLM (target: within 2%), arena streamed / vLLM, and arena / arena streamed.

Part 2, overhead. One complete `arena bench` run (runner.bench.run_bench, exactly what the
command does) of the same submission, on the public set and, with --private, the private set.
Its wall-time breakdown says how much of the run is outside engine start-up, timed generation
and the integrity checks (model preparation, warm-up, perplexity, stopping; target: under 15%);
the checks' own share is reported beside it (scripts/integrity_overhead.py measures it).

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
import dataclasses
import functools
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


@functools.lru_cache(maxsize=None)
def _vllm_tokenizer(path: str):  # type: ignore[no-untyped-def]
    from vllm.tokenizers import get_tokenizer

    return get_tokenizer(path)


def vllm_bench_serve(base_url: str, model: str, tokenizer_dir: Path, prompts: list[list[int]],
                     output_tokens: int) -> dict:
    """vLLM's serving benchmark over exactly these token-ID prompts, batch 1."""
    from vllm.benchmarks.datasets import SampleRequest
    from vllm.benchmarks.serve import TaskType, benchmark

    requests = [SampleRequest(prompt=list(p), prompt_len=len(p),
                              expected_output_len=output_tokens) for p in prompts]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        result = asyncio.run(benchmark(
            task_type=TaskType.GENERATION, endpoint_type="vllm",
            api_url=base_url + "/v1/completions", base_url=base_url, model_id=model,
            model_name=model, tokenizer=_vllm_tokenizer(str(tokenizer_dir)),
            input_requests=requests, logprobs=None, request_rate=float("inf"), burstiness=1.0,
            disable_tqdm=True, num_warmups=0, profile=False,
            selected_percentile_metrics=["ttft", "tpot", "itl"], selected_percentiles=[99.0],
            ignore_eos=True, goodput_config_dict={}, max_concurrency=1, lora_modules=None,
            extra_headers=None, extra_body={"temperature": 0}))
    result["_report"] = captured.getvalue()
    return result


def streamed_pass(base_url: str, model: str, prompts: list[list[int]],
                  output_tokens: int) -> float:
    """arena's pass timing (sequential requests, tokens / wall time), with the requests
    streamed as vLLM's benchmark streams them. Returns the pass's seconds."""
    import requests

    with requests.Session() as session:
        t0 = time.perf_counter()
        for ids in prompts:
            r = session.post(base_url + "/v1/completions", stream=True, timeout=300, json={
                "model": model, "prompt": ids, "max_tokens": output_tokens, "temperature": 0,
                "ignore_eos": True, "return_token_ids": True, "stream": True,
                "stream_options": {"include_usage": True}})
            got = 0
            for line in r.iter_lines():
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    for choice in json.loads(line[6:]).get("choices") or []:
                        got += len(choice.get("token_ids") or [])
            if got != output_tokens:
                raise SystemExit(f"a streamed request returned {got} tokens, not {output_tokens}")
        return time.perf_counter() - t0


SIDES = ("arena", "arena_streamed", "vllm")


def tcp_twin(spec):  # type: ignore[no-untyped-def]
    from _engines import tcp_server

    server = tcp_server(spec.model_path, spec.engine_args, seed=spec.seed,
                        engine_env=spec.engine_env, work=spec.workdir)
    server.start()
    server.wait_ready(spec.startup_timeout)
    return server


def part1_agreement(args, challenge, sub, progress) -> dict:
    base = prepare_model(challenge.base_model, challenge=challenge, cache_dir=None,
                         files=TOKENIZER_FILES, what="base model")
    model = prepare_model(sub.model, challenge=challenge, cache_dir=None)
    encoder = ChatEncoder(base.path)
    encoded = encoder.encode_set(load_prompt_file(challenge.public_prompts))
    n = len(encoded.prompt_ids)
    out_tokens = args.output_tokens or challenge.output_tokens
    chunks_done: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="arena-vs-vllm-") as work:
        spec = ServeSpec(model.path, sub.engine_name, sub.engine_version,
                         merged_engine_args(sub, challenge, None), challenge.engine_env,
                         challenge.seed, Path(work), challenge.startup_timeout_s, (), progress)
        # vLLM's own benchmark client speaks TCP: this comparison starts the same engine
        # command outside the sandbox, on a port (benchmark only; a run never does).
        server = tcp_twin(spec)
        try:
            client = EngineClient(server, request_timeout=challenge.request_timeout_s)
            warm_up(client, [encoder.prompt_ids(p) for p in warmup_prompts(4)], out_tokens,
                    LengthAudit(out_tokens), progress)
            for r in range(args.rounds):
                order = pass_orders(n, 1, challenge.seed + r)[0]
                for c, start in enumerate(range(0, n, args.chunk)):
                    chunk = order[start:start + args.chunk]
                    prompts = [list(encoded.prompt_ids[i]) for i in chunk]
                    seconds = {}
                    cpu = {}
                    # Rotate which side goes first, so that none always follows another.
                    for side in SIDES[c % 3:] + SIDES[:c % 3]:
                        cpu0 = time.process_time()
                        if side == "arena":
                            sub_set = dataclasses.replace(
                                encoded, prompt_ids=tuple(tuple(p) for p in prompts),
                                references=())
                            t = measure_tps(client, [sub_set], output_tokens=out_tokens,
                                            repeats=1, seed=r, audit=LengthAudit(out_tokens))
                            seconds[side] = t["public"].passes[0].seconds
                        elif side == "arena_streamed":
                            seconds[side] = streamed_pass(server.base_url, server.model,
                                                          prompts, out_tokens)
                        else:
                            res = vllm_bench_serve(server.base_url, server.model, base.path,
                                                   prompts, out_tokens)
                            want = len(chunk) * out_tokens
                            if (res["completed"] != len(chunk)
                                    or res["total_output_tokens"] != want):
                                raise SystemExit(
                                    f"vLLM's benchmark completed {res['completed']} requests "
                                    f"and {res['total_output_tokens']} tokens, expected "
                                    f"{len(chunk)} and {want}:\n{res['_report']}")
                            seconds[side] = res["duration"]
                        cpu[side] = time.process_time() - cpu0
                    chunks_done.append({"round": r, "tokens": len(chunk) * out_tokens,
                                        "requests": len(chunk), **seconds,
                                        **{f"{k}_client_cpu": v for k, v in cpu.items()}})
                line = _round_tps([x for x in chunks_done if x["round"] == r])
                progress(f"round {r + 1}/{args.rounds}: " + ", ".join(
                    f"{k} {v:.1f} tokens/s" for k, v in line.items()))
        finally:
            server.stop()
    rounds = [_round_tps([x for x in chunks_done if x["round"] == r])
              for r in range(args.rounds)]
    total = _round_tps(chunks_done)

    def spread(a: str, b: str) -> list[float]:
        ratios = [x[b] / x[a] for x in chunks_done]  # same tokens: TPS ratio = inverse times
        return [min(ratios), statistics.median(ratios), max(ratios)]

    return {"prompts": n, "output_tokens": out_tokens, "chunk": args.chunk,
            "alternations": len(chunks_done), "rounds": rounds, "tps": total,
            "ratio_arena_vs_vllm": total["arena"] / total["vllm"],
            "ratio_streamed_vs_vllm": total["arena_streamed"] / total["vllm"],
            "ratio_arena_vs_streamed": total["arena"] / total["arena_streamed"],
            "per_alternation_arena_vs_vllm": spread("arena", "vllm"),
            "per_alternation_streamed_vs_vllm": spread("arena_streamed", "vllm"),
            # The benchmarking client's own CPU time per request (vLLM's includes its untimed
            # set-up: event loop, session, the initial test request, metrics scrapes). On a
            # machine with few cores, client CPU competes with the engine for the same cores.
            "client_cpu_ms_per_request": {
                side: 1000 * sum(x[f"{side}_client_cpu"] for x in chunks_done)
                / sum(x["requests"] for x in chunks_done) for side in SIDES}}


def _round_tps(chunks: list[dict]) -> dict[str, float]:
    tokens = sum(x["tokens"] for x in chunks)
    return {side: tokens / sum(x[side] for x in chunks) for side in SIDES}


def part2_breakdown(args, challenge, sub, progress) -> dict:
    sets = [load_prompt_file(challenge.public_prompts)]
    if args.private:
        sets.append(load_private_dir(args.private))
    record = run_bench(BenchPlan(sub, challenge, sets), progress=progress)
    t = record.result["timings"]
    total = t["total_s"]
    # The integrity checks are measured on their own (scripts/integrity_overhead.py, target
    # under 30%); this share is the rest of the harness.
    checks = t.get("submission_checks_s", 0.0) + t.get("referee_startup_s", 0.0) + \
        t.get("referee_s", 0.0)
    core = t.get("startup_s", 0.0) + t.get("timed_s", 0.0) + checks
    return {"verdict": record.verdict, "timings": t, "sets": [s.name for s in sets],
            "outside_startup_and_timed_s": total - core,
            "outside_share": (total - core) / total if total else None,
            "checks_share": checks / total if total else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--challenge", type=Path, default=REPO / "demo" / "challenge.yaml")
    ap.add_argument("--submission", type=Path,
                    default=REPO / "demo" / "submissions" / "arena-maintainers" / "plain.yaml")
    ap.add_argument("--private", type=Path, default=None, metavar="DIR",
                    help="private prompt folder for part 2 (default: the demo's generated set "
                         "when the demo challenge is used, else none)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="passes over the public set (default 3)")
    ap.add_argument("--chunk", type=int, default=2,
                    help="prompts per alternation: each chunk is measured by arena, then by "
                         "vLLM (or the other way round), so that a shared machine's load "
                         "changes hit both sides alike (default 4)")
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
            from workshop.demo import PRIVATE_PROMPTS, PRIVATE_SEED, write_private_prompts

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
    a = agreement
    print(f"arena bench vs vLLM bench serve: {sub.id} on {challenge.id}, {a['prompts']} "
          f"prompts x {a['output_tokens']} tokens, batch 1, alternating every {a['chunk']} "
          f"prompt(s), {a['alternations']} alternations")
    print(f"  {'round':<6} {'arena':>10} {'arena streamed':>15} {'vLLM bench serve':>17}  "
          "(tokens/s)")
    for i, r in enumerate(a["rounds"], 1):
        print(f"  {i:<6} {r['arena']:>10.2f} {r['arena_streamed']:>15.2f} {r['vllm']:>17.2f}")
    t = a["tps"]
    print(f"  {'all':<6} {t['arena']:>10.2f} {t['arena_streamed']:>15.2f} {t['vllm']:>17.2f}")
    for key, label in (("ratio_arena_vs_vllm", "arena / vLLM bench serve"),
                       ("ratio_streamed_vs_vllm", "arena streamed / vLLM bench serve"),
                       ("ratio_arena_vs_streamed", "arena / arena streamed (streaming's cost)")):
        dev = a[key] - 1
        target = (f"; target within 2%: {'met' if abs(dev) <= 0.02 else 'NOT met'}"
                  if key != "ratio_arena_vs_streamed" else "")
        print(f"  {label:<44} {a[key]:.4f} ({dev:+.2%}{target})")
    lo, med, hi = a["per_alternation_arena_vs_vllm"]
    print(f"  per alternation, arena / vLLM: median {med:.4f}, range {lo:.4f}-{hi:.4f}")
    cpu = a["client_cpu_ms_per_request"]
    print("  client CPU per request: " + ", ".join(f"{k} {v:.1f} ms" for k, v in cpu.items()))
    print(f"  machine: {doc['cpus']} CPUs, load average {doc['load_average']} at the end")
    if breakdown:
        t = breakdown["timings"]
        print(f"full arena bench run ({', '.join(breakdown['sets'])}; verdict "
              f"{breakdown['verdict']}):")
        for k in ("prepare_s", "startup_s", "warmup_s", "timed_s", "submission_checks_s",
                  "referee_startup_s", "ppl_s", "referee_s",
                  "stop_s"):
            if k in t:
                print(f"  {k[:-2]:<8} {t[k]:>8.1f} s {t[k] / t['total_s']:>7.1%}")
        print(f"  {'total':<8} {t['total_s']:>8.1f} s")
        share = breakdown["outside_share"]
        print(f"  outside start-up, timed generation and checks: "
              f"{breakdown['outside_startup_and_timed_s']:.1f} s = {share:.1%} of the run "
              f"(target under 15%: {'met' if share < 0.15 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
