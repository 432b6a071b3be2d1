"""One benchmark run of one submission, from a validated submission to one result document.

A run is a sequence of phases, each its own module:

    prepare (runner.prepare)   the checkpoint pinned and identified, the prompts tokenized
    time    (runner.timing)    the submission's engine, sandboxed: warm-up, timed passes on
                               fresh variants of every prompt, the cache probe
    stop    (runner.timing)    the submission's engine stopped; nothing of it left
    referee (runner.referee)   stock vLLM on the same checkpoint, sandboxed: perplexity,
                               every served token scored, greedy fidelity
    verdict (runner.verdict)   checks -> verdict, fingerprint, the result document

A paired run (`plan.vs`, `arena bench --vs`) prepares and times the other submission too,
interleaved with the candidate, then goes on exactly as above (runner.paired).

Verdicts: `verified` (measured, every check passed), `invalid` (the submission's fault: not the
challenge's model, short outputs, perplexity over the cap, tokens that are not plain greedy
decoding, remembered work, a configuration the engine refuses), `error` (the runner's or an
engine's failure: crash, hang, timeout, download failure, no sandbox), with the reasons in the
harness's own words. Nothing an engine wrote is in the result: its log is kept for
maintainers (`runner.enginelog`).

`serve` is the seam for measuring a server the runner does not start the usual way (a proxy in
front of vLLM): it receives a `ServeSpec` and returns a ready `Server`. The default starts
`VllmServer` in its sandbox. A spec's `role` says what it is for: the submission (timed), or
the referee (every quality figure); whatever sits in the submission's seat is judged by the
referee.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from arena import exitcodes
from arena.result import validate_result
from arena.store import new_run_id
from runner import checks as C
from runner import integrity
from runner.client import EngineRejected
from runner.context import (
    PHASES,
    REFEREE,
    SUBMISSION,
    BenchPlan,
    Invalid,
    Progress,
    Run,
    RunCheck,
    RunContext,
    ServeFn,
    ServeSpec,
)
from runner.encoding import EncodedSet
from runner.fingerprint import installed_engine_version
from runner.measure import OutputLengthViolation, TpsSet
from runner.models import ModelError
from runner.paired import prepare_other, time_paired
from runner.prepare import prepare
from runner.referee import RefereeFailure, referee
from runner.server import Server, ServerError, VllmServer
from runner.timing import (
    merged_engine_args,
    secrets_of,
    stop_engine,
    stop_submission,
    time_submission,
)
from runner.verdict import result_document

VERDICT_EXIT = {"verified": exitcodes.OK, "invalid": exitcodes.INVALID, "error": exitcodes.INFRA}


def serve_with_vllm(spec: ServeSpec) -> Server:
    """The normal way: vLLM's OpenAI server started here in its sandbox, returned once ready.
    The referee always runs the installed release, never an overlay."""
    installed = installed_engine_version()
    if installed != spec.engine_version:
        raise ServerError(f"this runner has vLLM {installed or '(not installed)'}, but the "
                          f"submission asks for {spec.engine_version}. A maintainer must run it "
                          "on a runner with that version.")
    server = VllmServer.build(spec.model_path, spec.engine_args, workdir=spec.workdir,
                              seed=spec.seed, engine_env=spec.engine_env,
                              scrub_secrets=spec.scrub_secrets, drafter_path=spec.drafter_path,
                              overlay=None if spec.role == REFEREE else spec.overlay,
                              scratch_bytes=spec.scratch_bytes, progress=spec.progress)
    server.start()
    what = "the referee" if spec.role == REFEREE else "the submission's engine"
    spec.progress(f"start-up: {what} starting in its sandbox (vLLM {installed}, time limit "
                  f"{spec.startup_timeout:g} s)")
    try:
        server.wait_ready(spec.startup_timeout,
                          on_wait=lambda s: spec.progress(f"start-up: waiting ({s:.0f} s)"))
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class RunRecord:
    """A finished run: the result document, what stays in memory for later checks, and the
    engines' logs (for maintainers only; never published)."""

    result: dict[str, Any]
    tps: dict[str, TpsSet] = field(default_factory=dict)
    encoded: dict[str, EncodedSet] = field(default_factory=dict)
    engine_logs: dict[str, Path] = field(default_factory=dict)
    other_tps: dict[str, TpsSet] = field(default_factory=dict)  # a paired run: the other's passes

    @property
    def verdict(self) -> str:
        return str(self.result["verdict"])

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict]


def run_bench(plan: BenchPlan, *, progress: Progress = lambda _: None,
              serve: ServeFn = serve_with_vllm, run_id: str | None = None,
              workdir: Path | None = None,
              engine_checks: Sequence[RunCheck] | None = None,
              referee_checks: Sequence[RunCheck] | None = None,
              on_stage: Callable[[str], None] = lambda _: None,
              keep_logs: Path | None = None) -> RunRecord:
    """Measure one submission. Never raises for a failure of the submission or an engine:
    those end in the result's verdict. (KeyboardInterrupt still stops the engines, then
    propagates.) `engine_checks` run against the submission's live engine after its timed
    passes (default: the cache probe); `referee_checks` against the referee after perplexity
    (default: scoring of every served token, near-ties, greedy fidelity). `on_stage` is told
    each phase as it starts. The engines' logs are copied to `keep_logs` when given (they are
    deleted with the run's own folder otherwise)."""
    if engine_checks is None:
        engine_checks = integrity.SUBMISSION_CHECKS
    if referee_checks is None:
        referee_checks = integrity.REFEREE_CHECKS
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    own_workdir = workdir is None
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="arena-run-"))
    run = Run(plan, run_id or new_run_id(started), work, progress, serve, started, t0,
              t0 + plan.challenge.run_timeout_s, on_stage=on_stage,
              engine_version=plan.submission.engine_version)
    completed = False
    try:
        try:
            progress(f"run {run.run_id}: {plan.submission.id} on {plan.challenge.id} "
                     f"({plan.hardware}); prompt sets: "
                     + ", ".join(f"{s.name} ({len(s)} prompts)" for s in plan.sets))
            run.enter("prepare")
            prepare(run)
            if plan.vs is not None:  # a paired run (runner.paired): the other one too
                prepare_other(run)
            run.enter("time")
            if plan.vs is not None:
                time_paired(run, engine_checks)
            else:
                time_submission(run, engine_checks)
            run.enter("stop")
            stop_submission(run)
            if run.verdict != "error":
                run.enter("referee")
                referee(run, referee_checks)
                completed = True
        except OutputLengthViolation as exc:
            run.checks.append(C.output_length(exc.audit, exc))
            run.fail("invalid", "output_length", str(exc))
        except Invalid as exc:
            run.fail("invalid", exc.check, exc.message)
        except ModelError as exc:
            run.fail(exc.verdict, exc.check, exc.message)
        except EngineRejected as exc:
            run.fail("invalid", "engine_request", exc.message + ". The configuration must "
                     "serve every prompt of the challenge with its output length.")
        except RefereeFailure as exc:
            run.fail("error", "referee", exc.message)
        except ServerError as exc:  # includes EngineFailure and RunDeadline
            run.fail("error", "engine", exc.message)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a harness defect: say so (the traceback is the harness's)
            traceback.print_exc(file=sys.stderr)
            run.fail("error", "harness", f"internal error in the harness: {type(exc).__name__}")
        finally:
            for server in list(run.servers):
                stop_engine(run, server, "an engine")
            if keep_logs is not None:
                _keep_logs(run, keep_logs)
    finally:
        if own_workdir:
            shutil.rmtree(work, ignore_errors=True)
    reached = "verdict" if completed else run.stage
    run.enter("verdict")
    result = result_document(run, engine_checks, referee_checks, stage=reached,
                             patch=run.overlay.fingerprint() if run.overlay else None)
    validate_result(result)
    return RunRecord(result, run.tps, run.encoded, dict(run.engine_logs),
                     run.other.tps if run.other is not None else {})


def _keep_logs(run: Run, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    kept = {}
    for role, path in run.engine_logs.items():
        if path.is_file():
            target = dest / f"{role}.log"
            shutil.copyfile(path, target)
            kept[role] = target
    run.engine_logs = kept


__all__ = ["BenchPlan", "RunCheck", "RunContext", "RunRecord", "ServeSpec", "ServeFn",
           "SUBMISSION", "REFEREE", "PHASES", "run_bench", "serve_with_vllm",
           "merged_engine_args", "secrets_of", "Invalid"]
