"""Control runs on GitHub: `arena bot control-dispatch` (the control workflow, daily) and
`arena bot publish-control` (the bench workflow's publish job when `pr` is 0).

A control goes the same way as every run: the bench workflow, its approval environment, the
GPU runner limited to bench.yml, `arena bench`. Only the ends differ: it is dispatched with
`pr` 0 (no pull request: the submission is challenge.yaml's `controls.submission`, a file of the
default branch, so the bench job measures its own checkout's copy), and its result goes to
`controls/<track>/<run-id>.json` on the results branch with `provenance.control: true`, never
into the ranking. arena.controls decides what a control outside its tolerance means.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.controls import control_relpath
from arena.result import Result
from arena.text import for_terminal
from bot.cli import SetupError, bot_from_env

# The GitHub side (bot.client and what uses it) is imported inside the functions that need it:
# `arena` registers these subcommands at every start, and `arena validate` must not load PyGithub.

CONTROL_PR = 0
CONTROL_LOGIN = "arena-control"  # requested_by of a control run (its run title's last word)
SHA_RE = re.compile(r"[0-9a-f]{40}")


def tracks(challenge: Any) -> list[str]:
    """The runner labels a control runs on: one per hardware track."""
    return [t.runner_label for t in challenge.tracks]


def dispatch_controls(bot: Any, *, sha: str) -> int:
    """Dispatch one bench run of the reference submission per track."""
    from bot.client import API_ERRORS, describe_failure

    ctl = bot.challenge.controls
    if ctl is None:
        bot.say("challenge.yaml has no `controls` section: no control run to dispatch")
        return exitcodes.OK
    if not (bot.challenge.root / ctl.submission).is_file():
        bot.say(f"the control submission {ctl.submission} is not in this checkout")
        return exitcodes.INVALID
    failed = 0
    workflow = bot.repo.get_workflow(bot.bench_workflow)
    several = len(bot.challenge.tracks) > 1
    for t in bot.challenge.tracks:
        track = t.name
        # `track` only where there are several, so a one-track dispatch is what it always was.
        inputs = {"pr": str(CONTROL_PR), "sha": sha, "path": ctl.submission,
                  "requested_by": CONTROL_LOGIN, **({"track": track} if several else {})}
        try:
            workflow.create_dispatch(bot.default_branch, inputs, throw=True)
            bot.say(f"dispatched a control run of {ctl.submission} on {track}")
        except API_ERRORS as exc:
            failed += 1
            bot.say(describe_failure(exc, f"Dispatching the control run on {track}", bot.now()))
    return exitcodes.INFRA if failed else exitcodes.OK


def check_control(doc: dict[str, Any], *, challenge: Any, path: str) -> list[str]:
    """Pure-ish: every way a schema-valid control result disagrees with the control asked for
    (the configuration hash is recomputed from the checkout's file)."""
    from arena.submission import location, validate_file

    ctl = challenge.controls
    out = []
    if ctl is None or path != ctl.submission:
        return [f"{path!r} is not challenge.yaml's controls.submission"]
    login, stem = location(path, challenge)
    r = Result.from_json(doc, check=False)  # schema-valid: load_result checked it
    if r.submission.id != f"{login}/{stem}":
        out.append(f"submission.id is {r.submission.id!r}, not {login}/{stem}")
    if r.challenge.id != challenge.id:
        out.append(f"challenge.id is {r.challenge.id!r}, not {challenge.id!r}")
    if r.challenge.hardware not in tracks(challenge) or \
            r.fingerprint.hardware != r.challenge.hardware:
        out.append(f"the hardware label {r.challenge.hardware!r} is not a track")
    raw = (challenge.root / path).read_bytes()
    report = validate_file(raw, path_in_repo=path, challenge=challenge)
    if not report.valid or report.submission is None:
        out.append(f"{path} does not validate")
    elif report.submission.config_sha256() != r.submission.config_sha256:
        out.append("submission.config_sha256 is not the control file's configuration")
    return out


def publish_control(bot: Any, *, sha: str, path: str, result_file: Path | None,
                    bench_outcome: str) -> int:
    from bot.client import API_ERRORS, describe_failure
    from bot.publish import load_result
    from bot.results_branch import StoreWriteError, append_record
    from bot.site import dispatch_site

    bot.say(f"control run {bot.run_id} of {path} (bench job: {bench_outcome})")
    doc, problems = load_result(result_file)
    if doc is None:
        if bench_outcome != "success" and result_file is not None and not result_file.exists():
            bot.summarize(f"Control run: nothing measured (bench job: {bench_outcome}).")
            return exitcodes.NOTHING_MEASURED
        bot.summarize("Control run rejected: " + "; ".join(for_terminal(p, 300) for p in problems))
        return exitcodes.INVALID
    problems = check_control(doc, challenge=bot.challenge, path=path)
    if problems:
        bot.summarize("Control run rejected: " + "; ".join(for_terminal(p, 300) for p in problems))
        return exitcodes.INVALID
    doc["provenance"] = {"pr": None, "head_sha": sha, "run_url": bot.run_url(),
                         "requested_by": CONTROL_LOGIN, "control": True}
    r = Result.from_json(doc, check=False)
    rel = control_relpath(r.challenge.hardware, r.run_id)
    try:
        append_record(bot, rel, doc, f"control {r.challenge.hardware} run "
                                     f"{r.run_id} ({r.verdict})")
    except (StoreWriteError, *API_ERRORS) as exc:
        reason = str(exc) if isinstance(exc, StoreWriteError) else \
            describe_failure(exc, "Storing the control", bot.now())
        bot.summarize(f"Control run not stored: {reason}")
        return exitcodes.INFRA
    bot.say(dispatch_site(bot))
    bot.summarize(f"Control run stored: {rel} ({r.verdict}).")
    return exitcodes.OK


# -- command line: subcommands of `arena bot` (registered after bot.cli) ---------------------

def register(sub: argparse._SubParsersAction) -> None:
    bot_parser = sub.choices["bot"]
    bsub = next(a for a in bot_parser._actions if isinstance(a, argparse._SubParsersAction))

    cd = bsub.add_parser("control-dispatch",
                         help="dispatch a control run of the reference submission per track")
    add_challenge_option(cd)
    cd.add_argument("--sha", default=None,
                    help="the default branch's commit (default: GITHUB_SHA)")
    cd.set_defaults(func=cmd_control_dispatch)

    pc = bsub.add_parser("publish-control", help="validate and store a control run's result")
    add_challenge_option(pc)
    pc.add_argument("--sha", required=True)
    pc.add_argument("--path", required=True)
    pc.add_argument("--result", type=Path, default=None)
    pc.add_argument("--bench-outcome", required=True,
                    choices=("success", "failure", "cancelled", "skipped"))
    pc.set_defaults(func=cmd_publish_control)


def _bot(args: argparse.Namespace) -> Any:
    try:
        return bot_from_env(os.environ, args.challenge)
    except SetupError as exc:
        print(f"arena bot: {for_terminal(str(exc))}", file=sys.stderr)
        return None


def cmd_control_dispatch(args: argparse.Namespace) -> int:
    sha = args.sha or os.environ.get("GITHUB_SHA") or ""
    if not SHA_RE.fullmatch(sha):
        print("arena bot control-dispatch: --sha (or GITHUB_SHA) must be a full commit SHA",
              file=sys.stderr)
        return exitcodes.USAGE
    bot = _bot(args)
    return exitcodes.USAGE if bot is None else dispatch_controls(bot, sha=sha)


def cmd_publish_control(args: argparse.Namespace) -> int:
    if not SHA_RE.fullmatch(args.sha):
        print("arena bot publish-control: --sha must be a full commit SHA", file=sys.stderr)
        return exitcodes.USAGE
    bot = _bot(args)
    if bot is None:
        return exitcodes.USAGE
    return publish_control(bot, sha=args.sha, path=args.path, result_file=args.result,
                           bench_outcome=args.bench_outcome)
