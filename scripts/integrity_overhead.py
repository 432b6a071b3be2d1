#!/usr/bin/env python3
"""How much wall time do the integrity checks add to a run?

Runs `arena bench` (the real command, public + private prompts) on each given submission and
reads the result's timings: `checks_s` is the time of the checks that need the engine
(scoring-path consistency, cache probe, greedy fidelity including the plain copy's start-up
when one is needed); the public/private gap costs nothing. Reported per run: the checks' share
of the whole run (checks_s / total_s; target under 30%) and what they add to a run without
them (checks_s / (total_s - checks_s)), with the per-check seconds from the checks' figures.

CPU demo (default: the demo's plain and n-gram samples; the tiny model is built if missing,
the private set is generated as `arena demo` does):

    .venv/bin/python scripts/integrity_overhead.py
    .venv/bin/python scripts/integrity_overhead.py --json

On a GPU runner, with the real challenge and its private set:

    .venv/bin/python scripts/integrity_overhead.py --challenge challenge.yaml \\
        --private /srv/private submissions/<login>/<name>.yaml ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEMO_SUBMISSIONS = [REPO / "demo" / "submissions" / "arena-maintainers" / f"{n}.yaml"
                    for n in ("plain", "ngram-k4")]


def bench(submission: Path, challenge: Path, private: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "arena", "bench", str(submission), "--challenge",
           str(challenge), "--private", str(private), "--out", str(out), "--json"]
    print("$ arena " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL)
    result = out / "result.json"
    if not result.is_file():
        raise SystemExit(f"arena bench wrote no result for {submission} (exit {proc.returncode})")
    return json.loads(result.read_text(encoding="utf-8"))


def row(doc: dict) -> dict:
    t = doc["timings"]
    # The checks' time: the probe against the submission's engine, and the referee (its
    # start-up, perplexity, scoring of every served token, greedy fidelity). Older results
    # have checks_s.
    checks = t.get("checks_s", 0.0) or (t.get("submission_checks_s", 0.0)
                                        + t.get("referee_startup_s", 0.0)
                                        + t.get("referee_s", 0.0))
    per_check = {c["name"]: c["figures"].get("seconds") for c in doc["checks"]
                 if "seconds" in c["figures"]}
    fidelity = next((c["figures"] for c in doc["checks"] if c["name"] == "greedy_fidelity"), {})
    return {
        "submission": doc["submission"]["id"], "verdict": doc["verdict"],
        "total_s": t["total_s"], "checks_s": checks,
        "share_of_run": round(checks / t["total_s"], 4) if t["total_s"] else None,
        "added_to_run": round(checks / (t["total_s"] - checks), 4)
        if t["total_s"] > checks else None,
        "check_seconds": per_check,
        "referee_startup_s": t.get("referee_startup_s", fidelity.get("reference_startup_s")),
        "timings": t,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("submissions", nargs="*", type=Path, default=DEMO_SUBMISSIONS)
    ap.add_argument("--challenge", type=Path, default=REPO / "demo" / "challenge.yaml")
    ap.add_argument("--private", type=Path, default=None,
                    help="private prompt folder (default: generated as `arena demo` does)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    from arena.challenge import load_challenge
    from workshop.demo import PRIVATE_PROMPTS, PRIVATE_SEED, write_private_prompts
    from runner import tinymodel
    from runner.models import local_model_path

    challenge = load_challenge(args.challenge)
    if challenge.base_model.id.startswith("./"):
        tinymodel.ensure(local_model_path(challenge.base_model.id, challenge),
                         challenge.base_model.revision)
    with tempfile.TemporaryDirectory(prefix="integrity-overhead-") as tmp:
        private = args.private
        if private is None:
            private = Path(tmp) / "private"
            write_private_prompts(private / "prompts.jsonl", PRIVATE_PROMPTS, PRIVATE_SEED)
        rows = [row(bench(s, args.challenge, private, Path(tmp) / f"run-{i}"))
                for i, s in enumerate(args.submissions)]
    if args.json:
        json.dump({"format": "arena.integrity-overhead/1", "challenge": challenge.id,
                   "target_share": 0.30, "runs": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'submission':<30} {'verdict':<9} {'run s':>7} {'checks s':>9} {'share':>6} "
          f"{'added':>6}  per check (s)")
    for r in rows:
        per = ", ".join(f"{k} {v:.1f}" for k, v in r["check_seconds"].items())
        print(f"{r['submission']:<30} {r['verdict']:<9} {r['total_s']:>7.1f} "
              f"{r['checks_s']:>9.1f} {r['share_of_run']:>6.1%} {r['added_to_run']:>6.1%}  {per}")
    total = sum(r["total_s"] for r in rows)
    checks = sum(r["checks_s"] for r in rows)
    print(f"{'all runs':<30} {'':<9} {total:>7.1f} {checks:>9.1f} {checks / total:>6.1%} "
          f"{checks / (total - checks):>6.1%}  (target: share under 30%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
