"""`arena demo`: the whole pipeline on this machine, with no GPU and no download.

1. builds the tiny Gemma-4 model the demo challenge pins (`arena tiny-model`),
2. validates the demo challenge's sample submissions (`arena validate`),
3. writes a private prompt set for the run (generated, outside the repository),
4. benchmarks each sample on real vLLM (CPU build) with `arena bench`, public + private
   (ngram-k4 paired with its parent plain, `--vs`: both engines in one run, interleaved),
5. appends each result to a local results store,
6. prints the ranking (the same function the bot and the site use) and where everything is,
7. builds the leaderboard site from that store.

Everything it writes is under .arena/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.text import for_terminal

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CHALLENGE = REPO_ROOT / "demo" / "challenge.yaml"
DEMO_DIR = REPO_ROOT / ".arena" / "demo"
PRIVATE_PROMPTS = 12
PRIVATE_SEED = 7
PAIRED_WITH_PARENT = ("ngram-k4",)  # benched with `--vs` its parent, in one run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the whole pipeline locally on a tiny model (CPU, a few minutes)",
        description="Build the tiny Gemma-4 model, validate the demo submissions, benchmark "
                    "each on vLLM (CPU build) with public and private prompts, store the "
                    "results, print the ranking and build the site. Everything goes under "
                    ".arena/. Exit 0: done (every run verified); 1: a sample submission is "
                    "invalid or a run was not verified; 3: the machine failed.")
    add_challenge_option(p, default=DEMO_CHALLENGE,
                         help="demo challenge file (default: demo/challenge.yaml)")
    p.add_argument("--dir", type=Path, default=DEMO_DIR, metavar="DIR",
                   help="where the demo writes its store, runs, private prompts and site "
                        "(default: .arena/demo)")
    p.set_defaults(func=cmd_demo)


def say(message: str = "") -> None:
    print(message, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit, validate_paths
    from arena.store import ResultsStore
    from runner import tinymodel
    from runner.models import local_model_path

    from runner.commands import stop_on_sigterm

    stop_on_sigterm()
    t0 = time.monotonic()
    challenge = load_challenge_or_exit(args.challenge)
    if not challenge.base_model.id.startswith("./"):
        print("arena demo: the demo needs a challenge whose base model is local (./name).",
              file=sys.stderr)
        return exitcodes.USAGE
    work: Path = args.dir
    say(f"== arena demo: {for_terminal(challenge.title)}")

    # 1. The model.
    model_dir = local_model_path(challenge.base_model.id, challenge)
    say(f"== 1/6 tiny model: {model_dir}")
    model = tinymodel.ensure(model_dir, challenge.base_model.revision)
    if model.digest != challenge.base_model.revision:
        print(f"arena demo: the tiny-model builder made content digest {model.digest}, but "
              f"{args.challenge} pins {challenge.base_model.revision}. A torch, transformers "
              "or tokenizers upgrade changed the model's bytes: run `arena tiny-model "
              "--print-digest` and put the new digest in demo/challenge.yaml and the demo "
              "submissions.", file=sys.stderr)
        return exitcodes.INFRA
    say(f"   revision (content digest) {model.digest}: matches the challenge")

    # 2. The sample submissions.
    say(f"== 2/6 validating {challenge.submissions_dir}")
    # Baselines (no parent) first, so later entries read as changes to them.
    reports = sorted(validate_paths([challenge.submissions_dir], challenge),
                     key=lambda r: (bool(r.submission and r.submission.parent), r.path))
    for r in reports:
        if r.valid and r.submission is not None:
            say(f"   valid: {for_terminal(r.submission.id)} ({for_terminal(r.path)})")
        else:
            for prob in r.problems:
                print("   " + prob.format(), file=sys.stderr)
    if not reports or not all(r.valid for r in reports):
        print("arena demo: the sample submissions must all be valid.", file=sys.stderr)
        return exitcodes.INVALID

    # 3. A private prompt set, generated for this machine; never printed.
    private = work / "private"
    write_private_prompts(private / "prompts.jsonl", PRIVATE_PROMPTS, PRIVATE_SEED)
    say(f"== 3/6 private prompt set: {PRIVATE_PROMPTS} generated prompts in {private} "
        "(only its SHA-256 appears in results)")

    # 4. Benchmarks, each exactly as a maintainer would run it, judged by one shared referee.
    store = ResultsStore(work / "store")
    say(f"== 4/6 benchmarking {len(reports)} submissions on vLLM (CPU build), every engine in "
        "its sandbox; each start-up takes about a minute")
    referee = start_referee(challenge, model_dir, work / "referee", say)
    worst = exitcodes.OK
    ran: list[dict[str, Any]] = []
    try:
        worst = bench_all(reports, args, private, work, store, referee, ran)
    finally:
        referee.stop()
        say("   the referee stopped")
    if worst < 0:
        return -worst

    # 5. The ranking.
    say("== 5/6 ranking (verified runs, best per submission, ties shared)")
    print_ranking(challenge, store, say)

    # 6. The site.
    say("== 6/6 site")
    site = build_site(challenge, store.root, work / "site", say)

    say("")
    say("where things are:")
    say(f"   model           {model_dir}")
    say(f"   results store   {store.root}")
    for doc in ran:
        say(f"   run             {work / 'runs' / doc['submission']['id'].split('/')[1]}"
            "/result.json")
    say(f"   private prompts {private}")
    say(f"   engine logs     {work / 'engine-logs'}  (maintainers only: never published)")
    say(f"   site            {site / 'index.html'}  (preview: arena site --serve --store {store.root})")
    say(f"done in {time.monotonic() - t0:.0f} s")
    return worst


def start_referee(challenge: Any, model_dir: Path, work: Path, say: Callable[[str], None]) -> Any:
    """The demo's referee: stock vLLM on the tiny model with the challenge's defaults, in its
    sandbox, started once and shared by every run whose referee would be the same (each run
    would otherwise start its own, as on the GPU runner)."""
    from runner.bench import REFEREE, ServeSpec, serve_with_vllm
    from runner.fingerprint import installed_engine_version

    say("   starting the referee (stock vLLM, the challenge's defaults, its own sandbox), "
        "shared by every run below")
    spec = ServeSpec(model_dir, "vllm", installed_engine_version() or "",
                     referee_args(challenge, {}),
                     challenge.referee_engine_env, challenge.seed, work,
                     challenge.startup_timeout_s, (), lambda m: say(f"   {m}"), role=REFEREE,
                     scratch_bytes=challenge.sandbox.scratch_mib << 20)
    return serve_with_vllm(spec)


def referee_args(challenge: Any, engine_args: dict[str, Any]) -> dict[str, Any]:
    args = dict(challenge.engine_defaults)
    args.update(engine_args)
    args.pop("speculative_config", None)
    return args


def bench_all(reports: list[Any], args: argparse.Namespace, private: Path, work: Path,
              store: Any, referee: Any, ran: list[dict[str, Any]]) -> int:
    """`arena bench` for each sample, in order; returns the worst exit code (negative: stop)."""
    from arena.commands import load_challenge_or_exit

    challenge = load_challenge_or_exit(args.challenge)
    shared = referee_args(challenge, {})
    worst = exitcodes.OK
    paths = {r.submission.id: Path(r.path) for r in reports if r.submission is not None}
    for r in reports:
        assert r.submission is not None
        out = work / "runs" / r.submission.name
        cmd = [sys.executable, "-m", "arena", "bench", _rel(Path(r.path)),
               "--challenge", _rel(args.challenge), "--private", _rel(private),
               "--out", _rel(out), "--engine-logs", _rel(work / "engine-logs" /
                                                         r.submission.name), "--json"]
        if r.submission.name in PAIRED_WITH_PARENT and r.submission.parent in paths:
            cmd += ["--vs", _rel(paths[r.submission.parent])]
        if referee_args(challenge, dict(r.submission.engine_args)) == shared:
            cmd += ["--referee-socket", referee.uds]
        say("   $ arena " + " ".join(for_terminal(c) for c in cmd[3:]))
        returncode = run_child(cmd)
        result_file = out / "result.json"
        if not result_file.is_file():
            print(f"arena demo: `arena bench` wrote no result for {r.submission.id} (exit "
                  f"{returncode}).", file=sys.stderr)
            return -(returncode or exitcodes.INFRA)
        doc = json.loads(result_file.read_text(encoding="utf-8"))
        path = store.append_result(doc)
        ran.append(doc)
        say(f"   {for_terminal(r.submission.id)}: {doc['verdict']}, stored as "
            f"{path.relative_to(work)}")
        if returncode != exitcodes.OK:
            worst = max(worst, returncode)
    return worst


def run_child(cmd: list[str]) -> int:
    """Run `arena bench` (its JSON on stdout is not needed: the result file is read). When the
    demo is interrupted, the child is asked to stop (SIGTERM) and waited for, so that it can
    stop its engine; killing it outright would orphan the engine."""
    import signal

    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=REPO_ROOT)
    try:
        return child.wait()
    except BaseException:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
        raise


def _rel(path: Path) -> str:
    """A path as the user would type it from the repository root."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def print_ranking(challenge: Any, store: Any, out: Callable[[str], None]) -> None:
    from leaderboard.ranking import rank

    entries = rank([r.result for r in store.results()], store.verdicts(),
                   hardware=challenge.hardware, noise=challenge.noise)
    if not entries:
        out("   no verified run to rank")
        return
    rows = [("rank", "submission", "tokens/s", "95% CI", "set", "PPL")]
    for e in entries:
        rows.append((f"{e.rank}{'=' if e.tied else ''}", for_terminal(e.submission_id, 60),
                     f"{e.tps:.1f}", f"[{e.ci95[0]:.1f}, {e.ci95[1]:.1f}]", e.tps_set,
                     "-" if e.ppl is None else f"{e.ppl:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out("   " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if any(e.tied for e in entries):
        out(f"   (= : tied: a gap within the run-to-run noise, under {entries[0].margin:.1f} "
            "tokens/s at the top)")
    print_comparisons(challenge, store, entries, out)


def print_comparisons(challenge: Any, store: Any, entries: Any,
                      out: Callable[[str], None]) -> None:
    """Each ranked submission against its parent, as the result comment and the site say it
    (leaderboard.compare: the verdict is the ranking's tie rule)."""
    from arena.submission import SubmissionIndex
    from leaderboard.compare import Comparison, comparisons
    from leaderboard.ranking import tie_rule

    parents = SubmissionIndex.scan(challenge.submissions_dir).parents
    rule = tie_rule([r.result for r in store.results()], store.verdicts(),
                    hardware=challenge.hardware, noise=challenge.noise)
    for e in entries:
        parent = parents.get(e.submission_id)
        if parent is None:
            continue
        c = comparisons(e.result, parent, entries, rule).get("parent")
        text = c.summary() if isinstance(c, Comparison) else f"vs parent: {c}"
        out(f"   {for_terminal(e.submission_id, 60)} {for_terminal(text, 300)}")


def build_site(challenge: Any, store_root: Path, out: Path,
               out_line: Callable[[str], None]) -> Path:
    """Build the static leaderboard site from the demo's results store (`arena site`'s builder)."""
    from leaderboard.site import build_site as build

    report = build(challenge, store_root, out, progress=lambda m: out_line(f"   {m}"))
    out_line(f"   built {out / 'index.html'} ({report.pages} pages)")
    return out


# -- the generated private set ---------------------------------------------------------------

_NAMES = ("Ada", "Bram", "Chloe", "Dev", "Elin", "Farid", "Greta", "Hugo", "Ines", "Jonas")
_THINGS = ("apples", "marbles", "stamps", "books", "shells", "pencils", "coins", "tickets")
_PLACES = ("harbour", "library", "orchard", "market", "station", "garden", "workshop")
_ADJS = ("quiet", "old", "bright", "busy", "narrow", "windy", "tiny")


def private_prompt_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """A deterministic private set: arithmetic, word problems, short writing and code."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            a, b = rng.randint(12, 99), rng.randint(3, 19)
            q = f"What is {a} times {b}? Answer in one sentence."
            ref = f"{a} times {b} is {a * b}."
            cat = "maths"
        elif kind == 1:
            name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
            n, k = rng.randint(20, 60), rng.randint(2, 19)
            q = f"{name} has {n} {thing} and gives away {k}. How many are left?"
            ref = f"{name} has {n - k} {thing} left, because {n} minus {k} is {n - k}."
            cat = "reasoning"
        elif kind == 2:
            adj, place = rng.choice(_ADJS), rng.choice(_PLACES)
            q = f"Write one sentence about a {adj} {place} at dawn."
            ref = (f"At dawn the {adj} {place} was still, and the first light crept slowly "
                   "across the stones.")
            cat = "writing"
        else:
            a, b = rng.randint(2, 9), rng.randint(10, 40)
            q = f"Write a Python function that returns the sum of the numbers from {a} to {b}."
            ref = f"def total():\n    return sum(range({a}, {b} + 1))"
            cat = "code"
        rows.append({"id": f"demo-private-{i + 1:02d}", "category": cat,
                     "messages": [{"role": "user", "content": q}], "reference": ref})
    return rows


def write_private_prompts(path: Path, count: int, seed: int) -> None:
    from runner.prompts import Prompt, write_prompt_file

    write_prompt_file(path, [
        Prompt(r["id"], r["category"], tuple((m["role"], m["content"]) for m in r["messages"]),
               r["reference"]) for r in private_prompt_rows(count, seed)])
