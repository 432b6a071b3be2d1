#!/usr/bin/env python3
"""What the sandbox and the referee cost, measured on this machine in one run.

1. Start-up: the tiny vLLM server started in its bubblewrap sandbox (on its Unix socket),
   started without one (TCP, the same arguments, the same fresh cache), and started in its
   sandbox without vLLM's model facts (`runner.modelinfo`), in turns, `--starts` times each;
   the ratios of the medians: sandboxed / unsandboxed (target: the sandbox adds nothing that
   matters, close to 1) and with the facts / without (what handing them over saves).
2. One whole `run_bench` of the demo's plain submission (public and private sets, every engine
   sandboxed): the referee's share of the run (its start-up and its work), and an A10G
   estimate of that share from the token counts this run measured (scored tokens at an
   assumed prefill rate, re-decoded tokens at the baseline's decode rate, the challenge's
   output length and set sizes).
3. The harness's overhead: arena's TPS over the timed passes divided by the TPS from the
   engine's own server-side timing of the same requests (vLLM's /metrics
   `vllm:e2e_request_latency_seconds` sum); target at least 0.99.

    .venv/bin/python scripts/bench_sandbox.py [--starts 2] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# A10G assumptions for the estimate (stated, not measured here: no GPU on this machine).
A10G_DECODE_TPS = 44.0  # the bf16 vLLM baseline of the original challenge (CHALLENGE.md)
A10G_PREFILL_TPS = 4000.0  # teacher forcing is prefill: an assumed rate for a 4B-class model
A10G_STARTUP_S = 120.0  # vLLM start-up of the real model, assumed
A10G_TIMED_TPS = 150.0  # a typical competitive submission's decode speed, assumed
GEMMA = {"output_tokens": 512, "repeats": 3, "public": 128, "private": 128,
         "fidelity_prompts": 16, "prompt_tokens": 200}


def start_once(model: Path, args: dict, challenge, work: Path, kind: str) -> float:
    from _engines import tcp_server
    from runner.server import VllmServer

    if kind != "unsandboxed":
        server = VllmServer.build(model, args, workdir=work, seed=challenge.seed,
                                  engine_env=challenge.engine_env)
        if kind == "sandboxed-without-facts":
            server.sandbox = dataclasses.replace(server.sandbox, files={})
    else:  # the same engine command, unsandboxed, on TCP (for comparison only)
        server = tcp_server(model, args, seed=challenge.seed, engine_env=challenge.engine_env,
                            work=work)
    t0 = time.monotonic()
    server.start()
    try:
        server.wait_ready(challenge.startup_timeout_s)
        return time.monotonic() - t0
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    from arena.challenge import load_challenge
    from arena.commands import validate_paths
    from workshop.demo import PRIVATE_PROMPTS, PRIVATE_SEED, write_private_prompts
    from runner import tinymodel
    from runner.bench import BenchPlan, run_bench
    from runner.models import local_model_path
    from runner.prompts import load_private_dir, load_prompt_file

    ch = load_challenge(REPO / "demo" / "challenge.yaml")
    model = local_model_path(ch.base_model.id, ch)
    tinymodel.ensure(model, ch.base_model.revision)
    engine_args = dict(ch.engine_defaults)
    out: dict = {"format": "arena.bench-sandbox/1"}
    with tempfile.TemporaryDirectory(prefix="arena-bench-sandbox-") as tmp:
        kinds = ("unsandboxed", "sandboxed", "sandboxed-without-facts")
        starts: dict[str, list[float]] = {k: [] for k in kinds}
        for k in range(args.starts):
            for kind in kinds if k % 2 == 0 else kinds[::-1]:
                s = start_once(model, engine_args, ch, Path(tmp) / f"{kind}-{k}", kind)
                starts[kind].append(s)
                print(f"start-up {kind}: {s:.1f} s", file=sys.stderr)
        med = {k: statistics.median(v) for k, v in starts.items()}
        out["startup"] = {"seconds": starts, "median_s": med,
                          "ratio": med["sandboxed"] / med["unsandboxed"],
                          "facts_ratio": med["sandboxed"] / med["sandboxed-without-facts"]}

        [report] = validate_paths([REPO / "demo/submissions/arena-maintainers/plain.yaml"], ch)
        private = Path(tmp) / "private"
        write_private_prompts(private / "prompts.jsonl", PRIVATE_PROMPTS, PRIVATE_SEED)
        sets = [load_prompt_file(ch.public_prompts, name="public"), load_private_dir(private)]
        record = run_bench(BenchPlan(report.submission, ch, sets),
                           progress=lambda m: print(m, file=sys.stderr))
        doc = record.result
        t = doc["timings"]
        referee_s = t.get("referee_startup_s", 0) + t.get("referee_s", 0)
        out["run"] = {"verdict": doc["verdict"], "timings": t,
                      "referee_share": referee_s / t["total_s"]}
        scoring = next(c for c in doc["checks"] if c["name"] == "scoring_consistency")
        fidelity = next(c for c in doc["checks"] if c["name"] == "greedy_fidelity")
        out["run"]["scored_tokens"] = scoring["figures"].get("tokens")
        out["run"]["redecoded_tokens"] = fidelity["figures"].get("tokens_compared")
        requests = sum(len(v["passes"]) * v["prompts"] for v in doc["tps"].values())
        per_request = ((t["timed_s"] - t["engine_busy_s"]) / requests
                       if t.get("engine_busy_s") and requests else None)
        out["overhead"] = {"arena_over_engine_tps": t.get("engine_busy_s", 0) / t["timed_s"]
                           if t.get("engine_busy_s") else None,
                           "harness_ms_per_request": per_request * 1000 if per_request else None}
    g = GEMMA
    requests = g["repeats"] * (g["public"] + g["private"])
    timed = requests * g["output_tokens"] / A10G_TIMED_TPS
    scoring_tokens = requests * (g["prompt_tokens"] + g["output_tokens"])
    referee = (A10G_STARTUP_S + scoring_tokens / A10G_PREFILL_TPS
               + g["fidelity_prompts"] * g["output_tokens"] / A10G_DECODE_TPS)
    whole = A10G_STARTUP_S + timed + referee
    a10g_request_s = g["output_tokens"] / A10G_TIMED_TPS
    per_request_s = (out["overhead"]["harness_ms_per_request"] or 0) / 1000
    out["a10g_estimate"] = {"overhead_ratio": a10g_request_s / (a10g_request_s + per_request_s),
                            "assumptions": {"decode_tps": A10G_DECODE_TPS,
                                            "prefill_tps": A10G_PREFILL_TPS,
                                            "startup_s": A10G_STARTUP_S,
                                            "submission_tps": A10G_TIMED_TPS, **g},
                            "referee_s": referee, "run_s": whole,
                            "referee_share": referee / whole}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        s = out["startup"]
        m = s["median_s"]
        print(f"start-up, median of {args.starts}: sandboxed {m['sandboxed']:.1f} s, "
              f"unsandboxed {m['unsandboxed']:.1f} s: ratio {s['ratio']:.3f}; without vLLM's "
              f"model facts {m['sandboxed-without-facts']:.1f} s: with / without "
              f"{s['facts_ratio']:.3f}")
        r = out["run"]
        print(f"one run (plain, public + private): {r['verdict']}, {t['total_s']:.1f} s; the "
              f"referee {referee_s:.1f} s = {r['referee_share']:.1%} of it ({r['scored_tokens']} "
              f"tokens scored, {r['redecoded_tokens']} decoded again)")
        o = out["overhead"]["arena_over_engine_tps"]
        e = out["a10g_estimate"]
        print("harness overhead: arena TPS / engine server-side TPS = "
              + ("n/a" if o is None else f"{o:.4f}") + " here (target >= 0.99); "
              f"{out['overhead']['harness_ms_per_request'] or 0:.1f} ms a request, which on an "
              f"A10G request of {g['output_tokens']} tokens is {e['overhead_ratio']:.4f}")
        print(f"A10G estimate: the referee {e['referee_s']:.0f} s of a {e['run_s']:.0f} s run "
              f"= {e['referee_share']:.1%} (assumptions in --json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
