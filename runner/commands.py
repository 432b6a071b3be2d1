"""`arena bench`, `arena references` and `arena tiny-model`: the runner on the command line.

Exit codes of `arena bench`: 0 verified, 1 invalid (the submission file or the run), 2 usage
(bad options, unreadable files, prompt sets that do not load), 3 the run ended in `error`
(engine crash, hang or timeout; download failure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.text import for_terminal

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS_DIR = REPO_ROOT / ".arena" / "runs"
DEFAULT_TINY_DIR = REPO_ROOT / ".arena" / "models"
DEFAULT_LOGS_DIR = REPO_ROOT / ".arena" / "engine-logs"


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bench", help="measure one submission on this machine (TPS, PPL, checks)",
        description="Serve a submission with its engine, measure decode tokens/s and "
                    "perplexity, run the checks, and write one result JSON. Progress goes to "
                    "stderr. Exit 0: verified; 1: invalid; 2: usage error; 3: the run failed "
                    "(verdict error).")
    b.add_argument("submission", type=Path, metavar="SUBMISSION.yaml")
    add_challenge_option(b)
    b.add_argument("--prompts", choices=("public", "private", "both"), default=None,
                   help="which prompt sets to measure (default: both when a private set is "
                        "configured, else public)")
    b.add_argument("--private", type=Path, default=None, metavar="DIR",
                   help="folder holding the private prompt set (default: the folder named by "
                        "the challenge's private_env variable)")
    b.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write result.json (default: .arena/runs/<run-id>)")
    b.add_argument("--json", action="store_true",
                   help="print the result document (arena result schema) on stdout instead of "
                        "the summary table")
    b.add_argument("--commit", default=None, metavar="SHA",
                   help="the commit of the submission file being measured (recorded)")
    b.add_argument("--track", default=None, metavar="NAME",
                   help="the challenge's hardware track this machine measures for (default: "
                        "its first); recorded with the track's runner label")
    b.add_argument("--model-cache", type=Path, default=None, metavar="DIR",
                   help="where Hub models are downloaded (default: the Hugging Face cache)")
    b.add_argument("--engine-logs", type=Path, default=None, metavar="DIR",
                   help="where the engines' logs are kept on this machine when the challenge "
                        "names no maintainers' key (default: .arena/engine-logs/<run-id>); "
                        "never inside --out, and never published")
    b.add_argument("--referee-socket", default=None, metavar="PATH",
                   help="use a referee that is already running on this Unix socket instead of "
                        "starting one (the caller vouches that it is stock vLLM of this version "
                        "serving this checkpoint with the submission's arguments, speculative "
                        "decoding off, sandboxed; `arena demo` shares one across its runs). "
                        "The bench workflow never passes it.")
    b.add_argument("--vs", default=None, metavar="OTHER.yaml",
                   help="a paired run: measure the submission and OTHER (another submission "
                        "file of the same challenge) in this one job, interleaved pass by "
                        "pass, and write the submission's result with the paired difference "
                        "and its interval (the other is timed only, never refereed); empty: "
                        "a plain run")
    b.add_argument("--vs-commit", default=None, metavar="SHA",
                   help="the commit of the --vs file (recorded in the paired block; ignored "
                        "without --vs)")
    b.set_defaults(func=cmd_bench)

    lg = sub.add_parser(
        "logs", help="maintainers: make a key pair for engine logs, or open sealed logs",
        description="Engine logs are never published. With `logs: maintainers_key` in the "
                    "challenge file, a run seals them to that key (OUT/engine-logs.sealed.json)"
                    "; a maintainer opens them here with the private key.")
    lsub = lg.add_subparsers(dest="logs_command", required=True)
    kg = lsub.add_parser("keygen", help="print a new key pair (public: for challenge.yaml)")
    kg.add_argument("--private-out", type=Path, required=True, metavar="FILE",
                    help="where to write the private key (mode 600; keep it out of the repo)")
    kg.set_defaults(func=cmd_logs_keygen)
    op = lsub.add_parser("open", help="decrypt a sealed engine-log file")
    op.add_argument("sealed", type=Path, metavar="engine-logs.sealed.json")
    op.add_argument("--key", type=Path, required=True, metavar="FILE",
                    help="the maintainers' private key file")
    op.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="folder to write each engine's log into (<role>.log)")
    op.set_defaults(func=cmd_logs_open)

    r = sub.add_parser(
        "references", help="organizers: write reference continuations and calibrate PPL",
        description="Write reference continuations for a prompt set with a reference model "
                    "(served like any submission), then measure the base model's perplexity "
                    "on them: the challenge's ppl.reference for the public set, or the "
                    "reference-ppl.json to keep beside a private set.")
    r.add_argument("prompts", type=Path, metavar="PROMPTS.jsonl",
                   help="prompt set (references are not needed when --model is given)")
    r.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="prompt set to write, with the references")
    add_challenge_option(r)
    r.add_argument("--model", default=None, metavar="ID",
                   help="reference model (Hub id, or ./name where the challenge allows local "
                        "models). Without it, the existing references are kept and only the "
                        "base model's perplexity is measured.")
    r.add_argument("--revision", default=None, metavar="SHA",
                   help="the reference model's full commit SHA (or local content digest)")
    r.add_argument("--max-tokens", type=int, default=256,
                   help="longest reference continuation, in tokens (default 256)")
    r.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature of the reference model (default 1.0; 0 = greedy)")
    r.add_argument("--calibration", type=Path, default=None, metavar="FILE",
                   help="where to write the reference perplexity (default: reference-ppl.json "
                        "beside --out)")
    r.add_argument("--model-cache", type=Path, default=None, metavar="DIR")
    r.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    r.set_defaults(func=cmd_references)

    cal = sub.add_parser(
        "calibrate", help="organizers: measure honest numerical noise from honest runs",
        description="Pool what the referee saw in honest runs (their result.json files) and "
                    "print the integrity.noise block for the challenge file: how often an "
                    "honest served token is not the referee's top-1, how far it trails, its "
                    "rank.")
    cal.add_argument("results", type=Path, nargs="+", metavar="RESULT.json")
    add_challenge_option(cal)
    cal.add_argument("--source", default=None,
                     help="what the figure comes from, in words (default: the runs' ids)")
    cal.add_argument("--json", action="store_true",
                     help="print JSON (format arena.calibration/1) instead of YAML")
    cal.set_defaults(func=cmd_calibrate)

    t = sub.add_parser(
        "tiny-model", help="build the tiny Gemma-4 test model (seconds, no download)",
        description="Build the deterministic tiny Gemma-4 text model that the demo challenge "
                    "and the tests serve, and print its content digest (its revision).")
    t.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder to build into (default: .arena/models/tiny-gemma4)")
    t.add_argument("--print-digest", action="store_true",
                   help="print only the digest (build in a temporary folder)")
    t.add_argument("--digest", type=Path, default=None, metavar="DIR",
                   help="print the content digest of an existing model folder and exit")
    t.set_defaults(func=cmd_tiny_model)


# -- arena bench ---------------------------------------------------------------------------------

def _bench_track(challenge: Any, submission: Any, name: str | None) -> str | None:
    """The track to measure on: --track, else the challenge's first; None (after saying why)
    when the challenge has no such track or the submission does not target it."""
    from arena.challenge import ChallengeError
    from arena.submission import submission_tracks
    try:
        track = challenge.track(name)
    except ChallengeError as exc:
        print(f"arena bench: --track: {for_terminal(exc.problems[0].message)}", file=sys.stderr)
        return None
    targets = submission_tracks(submission, challenge)
    if track.name not in targets:
        print(f"arena bench: {for_terminal(submission.id)} targets the tracks "
              f"{', '.join(targets)} (its tracks: field), not {track.name}. Measure it on one "
              "of those, or add the track to the submission.", file=sys.stderr)
        return None
    return track.name


def cmd_bench(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit, validate_paths
    from arena.result import write_json_atomic
    from arena.store import new_run_id
    from runner.bench import BenchPlan, run_bench, serve_with_vllm
    from runner.prompts import PromptSetError
    from runner.report import ProgressPrinter, summary_table

    challenge = load_challenge_or_exit(args.challenge)
    if not args.submission.is_file():
        print(f"arena bench: {for_terminal(str(args.submission))}: no such file", file=sys.stderr)
        return exitcodes.USAGE
    [report] = validate_paths([args.submission], challenge)
    if not report.valid or report.submission is None:
        print(f"arena bench: {for_terminal(str(args.submission))} is not a valid submission:",
              file=sys.stderr)
        for p in report.problems:
            print("  " + p.format(), file=sys.stderr)
        return exitcodes.INVALID
    if args.commit is not None and not _is_sha(args.commit):
        print("arena bench: --commit must be a full 40-character commit SHA", file=sys.stderr)
        return exitcodes.USAGE
    track = _bench_track(challenge, report.submission, args.track)
    if track is None:
        return exitcodes.USAGE
    vs = None
    args.vs = Path(args.vs) if args.vs else None  # `--vs ""`: the workflow's plain run
    if args.vs is not None:
        vs = other_plan(args, challenge, report.submission)
        if isinstance(vs, int):
            return vs
    try:
        sets = load_sets(challenge, args.prompts, args.private)
    except PromptSetError as exc:
        print("arena bench: a prompt set cannot be used:", file=sys.stderr)
        for line in exc.problems:
            print("  " + for_terminal(line), file=sys.stderr)
        return exitcodes.USAGE
    except _Usage as exc:
        print(f"arena bench: {exc}", file=sys.stderr)
        return exitcodes.USAGE

    run_id = new_run_id()
    out_dir = args.out or DEFAULT_RUNS_DIR / run_id
    logs_dir = args.engine_logs or DEFAULT_LOGS_DIR / run_id
    if _inside(logs_dir, out_dir):
        print("arena bench: --engine-logs must not be inside --out (the out folder may be "
              "published; engine logs never are)", file=sys.stderr)
        return exitcodes.USAGE
    progress = ProgressPrinter(sys.stderr)
    stop_on_sigterm()
    write_stage(out_dir, run_id, "prepare")
    serve = serve_with_vllm
    if args.referee_socket:
        serve = with_running_referee(args.referee_socket)
    patch_text = None
    if report.submission.patch is not None:  # validated beside the YAML; the runner re-checks
        patch_text = (args.submission.parent / Path(report.submission.patch.path).name
                      ).read_bytes()
    record = run_bench(BenchPlan(report.submission, challenge, sets, commit=args.commit,
                                 model_cache=args.model_cache, patch_text=patch_text,
                                 track=track, vs=vs),
                       progress=progress, run_id=run_id, keep_logs=logs_dir, serve=serve,
                       on_stage=lambda stage: write_stage(out_dir, run_id, stage))
    path = out_dir / "result.json"
    write_json_atomic(path, record.result)
    progress(f"result: {record.verdict} -> {path}")
    keep_engine_logs(challenge, record, out_dir, logs_dir, run_id, progress)
    if args.json:
        json.dump(record.result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(summary_table(record.result, str(path)))
    return record.exit_code


def with_running_referee(socket_path: str):  # type: ignore[no-untyped-def]
    """A serve function that starts the submission's engine as usual and answers the referee's
    role with the referee already listening on `socket_path` (it is not stopped here)."""
    from runner.bench import REFEREE, serve_with_vllm
    from runner.server import UDS_BASE_URL, ExternalServer

    def serve(spec):  # type: ignore[no-untyped-def]
        if spec.role == REFEREE:
            spec.progress("referee: the running referee given by --referee-socket")
            return ExternalServer(UDS_BASE_URL, uds=socket_path)
        return serve_with_vllm(spec)
    return serve


def write_stage(out_dir: Path, run_id: str, stage: str) -> None:
    """OUT/stage.json: the phase the run is in, so that a job that ends without a result
    (cancelled, killed) is still recorded with the stage it reached."""
    import datetime as dt

    from arena.result import write_json_atomic

    write_json_atomic(out_dir / "stage.json", {
        "format": "arena.stage/1", "run_id": run_id, "stage": stage,
        "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})


def keep_engine_logs(challenge, record, out_dir: Path, logs_dir: Path, run_id: str,  # type: ignore[no-untyped-def]
                     progress) -> None:
    """Seal the engines' logs to the maintainers' key into OUT, or leave them on this host."""
    import shutil

    from runner.enginelog import seal_logs

    if not record.engine_logs:
        return
    if challenge.logs_key:
        dest = seal_logs(record.engine_logs, challenge.logs_key,
                         out_dir / "engine-logs.sealed.json", run_id)
        shutil.rmtree(logs_dir, ignore_errors=True)
        progress(f"engine logs: sealed to the maintainers' key -> {dest.name} (maintainers: "
                 "`arena logs open`)")
    else:
        progress(f"engine logs: kept on this machine in {logs_dir} (not published)")


def _inside(p: Path, folder: Path) -> bool:
    p, folder = p.resolve(), folder.resolve()
    return p == folder or folder in p.parents


def cmd_logs_keygen(args: argparse.Namespace) -> int:
    from runner.enginelog import keygen

    public, private = keygen()
    fd = os.open(args.private_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private + "\n")
    print("logs:")
    print(f"  maintainers_key: \"{public}\"")
    print(f"# private key written to {for_terminal(str(args.private_out))}: keep it secret",
          file=sys.stderr)
    return exitcodes.OK


def cmd_logs_open(args: argparse.Namespace) -> int:
    from runner.enginelog import open_logs

    try:
        logs = open_logs(args.sealed, args.key.read_text(encoding="ascii").strip())
    except (OSError, ValueError, KeyError) as exc:
        print(f"arena logs open: cannot open {for_terminal(str(args.sealed))}: "
              f"{type(exc).__name__}", file=sys.stderr)
        return exitcodes.USAGE
    except Exception as exc:  # cryptography.exceptions.InvalidTag: wrong key or altered
        print(f"arena logs open: {for_terminal(str(args.sealed))} does not open with this key "
              f"({type(exc).__name__})", file=sys.stderr)
        return exitcodes.INVALID
    args.out.mkdir(parents=True, exist_ok=True)
    for role, data in logs.items():
        (args.out / f"{role}.log").write_bytes(data)
        print(f"{role}: {len(data)} bytes -> {for_terminal(str(args.out / (role + '.log')))}")
    return exitcodes.OK


def stop_on_sigterm() -> None:
    """A cancelled job sends SIGTERM: turn it into KeyboardInterrupt, so the run unwinds and
    stops the engine (which lives in its own process group) instead of orphaning it."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


class _Usage(Exception):
    pass


def private_dir(challenge, option: Path | None) -> Path | None:  # type: ignore[no-untyped-def]
    """The private set's folder: the option, else the challenge's environment variable."""
    if option is not None:
        return option
    env = os.environ.get(challenge.private_prompts_env)
    return Path(env) if env else None


def load_sets(challenge, which: str | None, private: Path | None):  # type: ignore[no-untyped-def]
    """The prompt sets to measure, public first. Raises PromptSetError or _Usage."""
    from runner.prompts import load_private_dir, load_prompt_file

    folder = private_dir(challenge, private)
    if which is None:
        which = "both" if folder is not None else "public"
    if which in ("private", "both") and folder is None:
        raise _Usage(f"--prompts {which} needs the private prompt set: pass --private DIR or set "
                     f"{challenge.private_prompts_env}.")
    sets = []
    if which in ("public", "both"):
        sets.append(load_prompt_file(challenge.public_prompts, name="public"))
    if which in ("private", "both"):
        assert folder is not None
        sets.append(load_private_dir(folder))
    return sets


def other_plan(args: argparse.Namespace, challenge, candidate):  # type: ignore[no-untyped-def]
    """The other submission of a paired run (`--vs`), checked before anything starts; an exit
    code (usage) after saying what is wrong."""
    from arena.commands import validate_paths
    from runner.context import OtherPlan

    where = f"arena bench: --vs {for_terminal(str(args.vs))}"
    if not args.vs.is_file():
        print(f"{where}: no such file (name the other submission's file, "
              "submissions/<login>/<name>.yaml)", file=sys.stderr)
        return exitcodes.USAGE
    if args.vs.resolve() == args.submission.resolve():
        print(f"{where}: that is the submission being measured; a paired run measures it "
              "against another submission", file=sys.stderr)
        return exitcodes.USAGE
    [other] = validate_paths([args.vs], challenge)
    if not other.valid or other.submission is None:
        print(f"{where} is not a valid submission:", file=sys.stderr)
        for p in other.problems:
            print("  " + p.format(), file=sys.stderr)
        return exitcodes.USAGE
    sub = other.submission
    if sub.id.lower() == candidate.id.lower():
        print(f"{where}: that is {for_terminal(sub.id)} itself, the submission being "
              "measured; a paired run measures it against another submission",
              file=sys.stderr)
        return exitcodes.USAGE
    if sub.config_sha256() == candidate.config_sha256():
        print(f"{where}: {for_terminal(sub.id)} is the same configuration as the submission "
              f"being measured (config SHA-256 {sub.config_sha256()[:12]}); a paired run "
              "compares two different configurations", file=sys.stderr)
        return exitcodes.USAGE
    if challenge.repeats < 2:
        print(f"arena bench: --vs needs at least 2 pairs of passes for an interval, and the "
              f"challenge's measurement.repeats is {challenge.repeats}", file=sys.stderr)
        return exitcodes.USAGE
    if args.vs_commit is not None and not _is_sha(args.vs_commit):
        print("arena bench: --vs-commit must be a full 40-character commit SHA",
              file=sys.stderr)
        return exitcodes.USAGE
    patch = None
    if sub.patch is not None:
        patch = (args.vs.parent / Path(sub.patch.path).name).read_bytes()
    return OtherPlan(sub, commit=args.vs_commit, patch_text=patch)


def _is_sha(s: str) -> bool:
    return len(s) == 40 and all(c in "0123456789abcdef" for c in s)


# -- arena references ----------------------------------------------------------------------------

def cmd_references(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit
    from runner.references import ReferencesError, run_references
    from runner.report import ProgressPrinter

    challenge = load_challenge_or_exit(args.challenge)
    if (args.model is None) != (args.revision is None):
        print("arena references: give --model and --revision together", file=sys.stderr)
        return exitcodes.USAGE
    if args.max_tokens < 1 or args.temperature < 0:
        print("arena references: --max-tokens must be >= 1 and --temperature >= 0",
              file=sys.stderr)
        return exitcodes.USAGE
    stop_on_sigterm()
    try:
        summary = run_references(
            challenge, args.prompts, args.out, model_id=args.model, revision=args.revision,
            max_tokens=args.max_tokens, temperature=args.temperature,
            calibration=args.calibration, model_cache=args.model_cache,
            progress=ProgressPrinter(sys.stderr))
    except ReferencesError as exc:
        print(f"arena references: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"wrote {summary['prompts']} references to {for_terminal(str(args.out))}")
        print(f"reference perplexity of {for_terminal(summary['base_model']['id'])}: "
              f"{summary['ppl']:.4f} over {summary['tokens']} tokens "
              f"(calibration: {for_terminal(summary['calibration'])})")
        print(f"for the public set, set `ppl: reference: {summary['ppl']:.4f}` in the "
              "challenge file; keep the calibration beside a private set.")
    return exitcodes.OK


# -- arena calibrate -----------------------------------------------------------------------------

def cmd_calibrate(args: argparse.Namespace) -> int:
    import yaml

    from arena.commands import load_challenge_or_exit
    from runner.calibrate import CalibrationError, calibrate, load_results

    challenge = load_challenge_or_exit(args.challenge)
    try:
        docs = load_results(args.results)
        cal = calibrate(docs)
    except CalibrationError as exc:
        print(f"arena calibrate: {for_terminal(str(exc))}", file=sys.stderr)
        return exitcodes.USAGE
    source = args.source or (f"arena calibrate over {cal.runs} honest runs "
                             f"({cal.tokens} served tokens), hardware {challenge.hardware}")
    block = cal.noise_block(challenge.integrity.near_tie_margin, source[:500])
    if args.json:
        json.dump({"format": "arena.calibration/1", "noise": block,
                   "seen": {"runs": cal.runs, "tokens": cal.tokens, "non_top1": cal.non_top1,
                            "largest_lead": cal.largest_lead,
                            "largest_rank": cal.largest_rank}}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"# seen: {cal.non_top1} of {cal.tokens} served tokens not the referee's top-1 "
              f"over {cal.runs} runs; largest lead {cal.largest_lead:.4g}, largest rank "
              f"{cal.largest_rank}")
        print(yaml.safe_dump({"integrity": {"noise": block}}, sort_keys=False).rstrip())
    return exitcodes.OK


# -- arena tiny-model ----------------------------------------------------------------------------

def cmd_tiny_model(args: argparse.Namespace) -> int:
    import tempfile

    from runner import tinymodel
    from runner.models import ModelError, folder_digest

    if args.digest is not None:
        if not args.digest.is_dir():
            print(f"arena tiny-model: {for_terminal(str(args.digest))} is not a folder",
                  file=sys.stderr)
            return exitcodes.USAGE
        try:
            print(folder_digest(args.digest))
        except ModelError as exc:
            print(f"arena tiny-model: {exc.message}", file=sys.stderr)
            return exitcodes.INVALID
        return exitcodes.OK
    if args.print_digest:
        with tempfile.TemporaryDirectory() as tmp:
            print(tinymodel.build(Path(tmp) / tinymodel.NAME).digest)
        return exitcodes.OK
    out = args.out or DEFAULT_TINY_DIR / tinymodel.NAME
    model = tinymodel.build(out)
    print(f"built {for_terminal(str(model.path))}")
    print(f"revision (content digest): {model.digest}")
    return exitcodes.OK
