"""One benchmark run of one submission, from a validated submission to one result document.

    prepare models (pinned, offline afterwards) -> model identity check
    -> start the engine (while the prompts are tokenized) -> warm-up -> timed passes
    -> perplexity -> stop the engine, verify nothing is left -> checks, verdict, fingerprint

Verdicts: `verified` (measured, every check passed), `invalid` (the submission's fault: not the
challenge's model, short outputs, perplexity over the cap, a configuration the engine refuses),
`error` (the runner's or the engine's failure: crash, hang, timeout, download failure), with the
reasons and, for an engine failure, the scrubbed tail of its log.

`serve` is the seam for measuring a server the runner does not start the usual way (a proxy in
front of vLLM, an engine in a container): it receives a `ServeSpec` and returns a ready
`Server`. The default starts `VllmServer`. A spec's `role` says what it is for: the submission,
or the plain copy of its checkpoint that greedy fidelity compares with (`runner.integrity`).

The integrity checks (`runner.integrity`) run in every run: the public/private gap after the
timed passes, then scoring-path consistency, the cache probe and greedy fidelity against the
live engine. A run that stops early lists the checks it did not reach as skipped.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from arena import exitcodes
from arena.challenge import Challenge, ModelRef
from arena.result import validate_result
from arena.store import new_run_id
from arena.submission import Submission
from runner import checks as C
from runner import integrity
from runner.client import EngineClient, EngineFailure, EngineRejected
from runner.encoding import ChatEncoder, EncodedSet
from runner.fingerprint import fingerprint, installed_engine_version
from runner.measure import (
    LengthAudit,
    OutputLengthViolation,
    PplResult,
    TpsSet,
    measure_tps,
    speculative_summary,
    teacher_forced_ppl,
    warm_up,
)
from runner.models import (
    TOKENIZER_FILES,
    ModelError,
    PreparedModel,
    identity_differences,
    prepare_model,
    read_config,
)
from runner.prompts import PromptSet, warmup_prompts
from runner.server import Server, ServerError, VllmServer, describe_pids

Progress = Callable[[str], None]

VERDICT_EXIT = {"verified": exitcodes.OK, "invalid": exitcodes.INVALID, "error": exitcodes.INFRA}


@dataclass(frozen=True)
class ServeSpec:
    """What to serve: everything an engine launcher needs, nothing about GitHub."""

    model_path: Path
    engine_name: str
    engine_version: str
    engine_args: Mapping[str, Any]  # validated, challenge defaults merged, drafter made local
    engine_env: Mapping[str, str]
    seed: int
    workdir: Path
    startup_timeout: float
    scrub_secrets: Sequence[str]
    progress: Progress
    # "submission", or integrity.PLAIN_TWIN: the same checkpoint served plainly (speculative
    # decoding off) as greedy fidelity's reference.
    role: str = "submission"


ServeFn = Callable[[ServeSpec], Server]


def serve_with_vllm(spec: ServeSpec) -> Server:
    """The normal way: vLLM's OpenAI server, started here, returned once ready."""
    installed = installed_engine_version()
    if installed != spec.engine_version:
        raise ServerError(f"this runner has vLLM {installed or '(not installed)'}, but the "
                          f"submission asks for {spec.engine_version}. A maintainer must run it "
                          "on a runner with that version.")
    server = VllmServer.build(spec.model_path, spec.engine_args, workdir=spec.workdir,
                              seed=spec.seed, engine_env=spec.engine_env,
                              scrub_secrets=spec.scrub_secrets)
    server.start()
    spec.progress(f"start-up: vLLM {installed} starting (pid {server.pid}, "
                  f"{server.base_url}, time limit {spec.startup_timeout:g} s)")
    try:
        server.wait_ready(spec.startup_timeout,
                          on_wait=lambda s: spec.progress(f"start-up: waiting ({s:.0f} s)"))
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class BenchPlan:
    submission: Submission
    challenge: Challenge
    sets: list[PromptSet]  # measured in this order (public first)
    commit: str | None = None
    model_cache: Path | None = None


@dataclass
class RunContext:
    """What a check that runs inside a measurement sees: the live engine and everything
    measured so far. The generated token IDs are here, in memory, never in the result."""

    plan: BenchPlan
    spec: ServeSpec
    server: Server
    client: EngineClient
    encoded: Mapping[str, EncodedSet]
    tps: Mapping[str, TpsSet]
    ppl: Mapping[str, PplResult]
    serve: "ServeFn"  # to start another engine (e.g. a plain copy of the checkpoint)
    progress: Progress
    # Stops the submission's engine for good (before another engine needs the accelerator);
    # safe to call twice. Nothing may use `client` afterwards.
    stop_engine: Callable[[], None] = lambda: None


# A check that needs the engine: runs after perplexity, while the engine is up. It returns
# named checks; raising ServerError/EngineRejected ends the run like any engine failure.
RunCheck = Callable[[RunContext], Sequence[C.Check]]


@dataclass
class RunRecord:
    """A finished run: the result document, and what stays in memory for later checks."""

    result: dict[str, Any]
    tps: dict[str, TpsSet] = field(default_factory=dict)
    encoded: dict[str, EncodedSet] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return str(self.result["verdict"])

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict]


class _Invalid(Exception):
    def __init__(self, check: str, message: str):
        self.check, self.message = check, message
        super().__init__(message)


def merged_engine_args(sub: Submission, challenge: Challenge,
                       drafter: PreparedModel | None) -> dict[str, Any]:
    """The submission's arguments over the challenge's defaults; a drafter by local path."""
    args: dict[str, Any] = dict(challenge.engine_defaults)
    args.update(sub.engine_args)
    spec = args.get("speculative_config")
    if isinstance(spec, dict) and drafter is not None:
        spec = {k: v for k, v in spec.items() if k != "revision"}
        spec["model"] = str(drafter.path)
        args["speculative_config"] = spec
    return args


def secrets_of(sets: Sequence[PromptSet]) -> list[str]:
    """Text that must never appear in a published log: every private prompt and reference."""
    out = []
    for s in sets:
        if s.private:
            for p in s.prompts:
                out += [c for _, c in p.messages]
                if p.reference:
                    out.append(p.reference)
    return out


def run_bench(plan: BenchPlan, *, progress: Progress = lambda _: None,
              serve: ServeFn = serve_with_vllm, run_id: str | None = None,
              workdir: Path | None = None,
              engine_checks: Sequence[RunCheck] | None = None) -> RunRecord:
    """Measure one submission. Never raises for a failure of the submission or the engine:
    those end in the result's verdict. (KeyboardInterrupt still stops the engine, then
    propagates.) `engine_checks` run after perplexity against the live engine, in order; their
    results join the result's checks. By default they are the integrity checks
    (`runner.integrity.ENGINE_CHECKS`)."""
    if engine_checks is None:
        engine_checks = integrity.ENGINE_CHECKS
    sub, ch = plan.submission, plan.challenge
    started = dt.datetime.now(dt.timezone.utc)
    run_id = run_id or new_run_id(started)
    t0 = time.monotonic()
    deadline = t0 + ch.run_timeout_s
    timings: dict[str, float] = {}
    checks: list[C.Check] = []
    reasons: list[dict[str, str]] = []
    verdict = "verified"
    log_tail: str | None = None
    tps: dict[str, TpsSet] = {}
    ppl: dict[str, PplResult] = {}
    speculative = None
    engine_version = sub.engine_version
    audit = LengthAudit(ch.output_tokens)
    server: Server | None = None
    encoded: dict[str, EncodedSet] = {}
    own_workdir = workdir is None
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="arena-run-"))
    spec_config = sub.engine_args.get("speculative_config")

    def fail(kind: str, check: str, message: str) -> None:
        nonlocal verdict
        if kind == "error" or verdict == "verified":
            verdict = kind
        reasons.append({"check": check, "message": message[:4000]})
        progress(f"{'ERROR' if kind == 'error' else 'INVALID'}: {message}")

    stopped = False

    def stop_engine() -> None:
        """Stop the submission's engine (once), time it, and check that nothing is left."""
        nonlocal stopped
        if server is None or stopped:
            return
        stopped = True
        tstop = time.monotonic()
        server.stop()
        timings["stop_s"] = time.monotonic() - tstop
        if hasattr(server, "leftovers"):  # a server this run started and owns
            left = server.leftovers()
            if left:
                fail("error", "engine", f"{len(left)} engine processes survived being killed "
                                        f"({describe_pids(left)})")
            else:
                progress(f"engine stopped ({timings['stop_s']:.1f} s); no process left")

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        try:
            progress(f"run {run_id}: {sub.id} on {ch.id} ({ch.hardware}); prompt sets: "
                     + ", ".join(f"{s.name} ({len(s)} prompts)" for s in plan.sets))
            # -- models ------------------------------------------------------------------------
            tp = time.monotonic()
            base = prepare_model(ch.base_model, challenge=ch, cache_dir=plan.model_cache,
                                 files=TOKENIZER_FILES, what="base model")
            model = prepare_model(sub.model, challenge=ch, cache_dir=plan.model_cache)
            progress(f"model: {sub.model.id}@{sub.model.revision[:12]} ready ({model.source})")
            diffs = identity_differences(read_config(base.path), read_config(model.path))
            checks.append(C.model_identity(diffs, model=sub.model.id, base=ch.base_model.id))
            if diffs:
                raise _Invalid("model_identity", checks[-1].message)
            drafter = None
            if isinstance(spec_config, dict) and "model" in spec_config:
                drafter = prepare_model(ModelRef(spec_config["model"], spec_config["revision"]),
                                        challenge=ch, cache_dir=plan.model_cache, what="drafter")
                progress(f"drafter: {spec_config['model']}@{spec_config['revision'][:12]} ready")
            timings["prepare_s"] = time.monotonic() - tp

            # -- engine start-up, prompts tokenized meanwhile ------------------------------------
            ts = time.monotonic()
            encoding = pool.submit(_encode_all, base.path, plan.sets, ch.warmup_requests)
            spec = ServeSpec(model.path, sub.engine_name, sub.engine_version,
                             merged_engine_args(sub, ch, drafter), ch.engine_env, ch.seed,
                             work, min(ch.startup_timeout_s, max(1.0, deadline - ts)),
                             secrets_of(plan.sets), progress)
            server = serve(spec)
            encoded, warm_ids = encoding.result()
            timings["startup_s"] = time.monotonic() - ts
            progress(f"start-up: engine ready in {timings['startup_s']:.1f} s")

            client = EngineClient(server, request_timeout=ch.request_timeout_s,
                                  deadline=deadline, run_timeout=ch.run_timeout_s)
            try:
                engine_version = client.version() or sub.engine_version
                # -- warm-up and timed passes -----------------------------------------------------
                tw = time.monotonic()
                warm_up(client, warm_ids, ch.output_tokens, audit, progress)
                timings["warmup_s"] = time.monotonic() - tw
                before = _metrics_or_none(client)
                tt = time.monotonic()
                sets = [encoded[s.name] for s in plan.sets]
                try:
                    tps = measure_tps(client, sets, output_tokens=ch.output_tokens,
                                      repeats=ch.repeats, seed=ch.seed, audit=audit,
                                      progress=progress)
                finally:
                    timings["timed_s"] = time.monotonic() - tt
                after = _metrics_or_none(client)
                speculative = speculative_summary(before, after, spec_config)
                if speculative and speculative.get("acceptance_rate") is not None:
                    progress(f"speculative decoding: acceptance rate "
                             f"{speculative['acceptance_rate']:.1%}, mean accepted length "
                             f"{speculative['mean_accepted_length']:.2f}")
                checks.append(C.output_length(audit))
                checks.append(integrity.public_private_gap(tps, ch.integrity))
                # -- perplexity ---------------------------------------------------------------------
                tq = time.monotonic()
                for s in plan.sets:
                    ppl[s.name] = teacher_forced_ppl(client, encoded[s.name], progress)
                timings["ppl_s"] = time.monotonic() - tq
                caps = {s.name: _cap(s, ch) for s in plan.sets}
                checks.append(C.ppl_cap(ppl, caps, ch.ppl_max_increase))
                # -- checks that need the engine ----------------------------------------------------
                if engine_checks:
                    tc = time.monotonic()
                    ctx = RunContext(plan, spec, server, client, encoded, tps, ppl, serve,
                                     progress, stop_engine)
                    try:
                        for run_check in engine_checks:
                            checks.extend(run_check(ctx))
                    finally:
                        # The engine's own stop is not the checks' time.
                        timings["checks_s"] = (time.monotonic() - tc
                                               - (timings.get("stop_s", 0.0) if stopped else 0))
            finally:
                client.close()
        except OutputLengthViolation as exc:
            checks.append(C.output_length(exc.audit, exc))
            fail("invalid", "output_length", str(exc))
        except _Invalid as exc:
            fail("invalid", exc.check, exc.message)
        except ModelError as exc:
            fail(exc.verdict, exc.check, exc.message)
        except EngineRejected as exc:
            fail("invalid", "engine_request", exc.message + ". The configuration must serve "
                 "every prompt of the challenge with its output length.")
        except ServerError as exc:  # includes EngineFailure and RunDeadline
            fail("error", "engine", exc.message)
            log_tail = exc.log_tail or (server.log_tail() if server else None)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a harness defect: say so, keep the engine's log
            traceback.print_exc(file=sys.stderr)
            fail("error", "harness", f"internal error in the harness: {type(exc).__name__}: "
                                     f"{str(exc)[:300]}")
            log_tail = server.log_tail() if server else None
        finally:
            stop_engine()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if own_workdir:
            shutil.rmtree(work, ignore_errors=True)

    for c in checks:
        if c.status == C.FAIL and not any(r["check"] == c.name for r in reasons):
            fail("invalid", c.name, c.message)
    checks = _with_unreached(checks, engine_checks, reasons)
    timings["total_s"] = time.monotonic() - t0
    finished = dt.datetime.now(dt.timezone.utc)
    result: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run_id,
        "submission": {"id": sub.id, "path": sub.path[:300], "commit": plan.commit,
                       "config": sub.config(), "config_sha256": sub.config_sha256()},
        "challenge": {"id": ch.id, "hardware": ch.hardware},
        "started_at": iso_precise(started),
        "finished_at": iso_precise(finished),
        "verdict": verdict,
        "reasons": reasons,
        "tps": {name: _tps_json(t) for name, t in tps.items() if len(t.passes) == ch.repeats},
        "ppl": {"reference": ch.ppl_reference, "cap": ch.ppl_cap,
                "sets": {n: {"value": p.value, "tokens": p.tokens, "prompts": p.prompts}
                         for n, p in ppl.items()}},
        "checks": [c.to_json() for c in checks],
        "speculative": speculative,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "fingerprint": fingerprint(hardware=ch.hardware, engine=sub.engine_name,
                                   engine_version=engine_version,
                                   prompt_sets={s.name: s.sha256 for s in plan.sets},
                                   submission_sha256=sub.config_sha256()),
    }
    if verdict == "error":
        result["log_tail"] = log_tail
    validate_result(result)
    return RunRecord(result, tps, encoded)


def _with_unreached(checks: list[C.Check], engine_checks: Sequence[RunCheck],
                    reasons: Sequence[Mapping[str, str]]) -> list[C.Check]:
    """Every check the run would have made, in the result's order: those it did not reach
    (the run stopped earlier) are listed as skipped, with why."""
    planned = list(integrity.CHECK_ORDER[:4]) + [
        n for n in (getattr(f, "check_name", None) for f in engine_checks) if n]
    have = {c.name for c in checks}
    if reasons:
        why = (f"not run: the run stopped at {reasons[0]['check']} (see the reasons).")
    else:
        why = "not run."
    missing = [C.Check(n, C.SKIP, why) for n in planned if n not in have]
    if not missing:
        return checks
    rank = {n: i for i, n in enumerate(planned)}
    return sorted(checks + missing, key=lambda c: rank.get(c.name, len(rank)))


def iso_precise(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_all(tokenizer_dir: Path, sets: Sequence[PromptSet],
                warmups: int) -> tuple[dict[str, EncodedSet], list[list[int]]]:
    enc = ChatEncoder(tokenizer_dir)
    encoded = {s.name: enc.encode_set(s) for s in sets}
    warm = [enc.prompt_ids(p) for p in warmup_prompts(warmups)]
    return encoded, warm


def _metrics_or_none(client: EngineClient) -> dict[str, float] | None:
    try:
        return client.metrics()
    except EngineFailure:
        return None


def _cap(s: PromptSet, ch: Challenge) -> tuple[float, float] | None:
    if s.name == "public":
        return ch.ppl_reference, ch.ppl_cap
    if s.reference_ppl is not None:
        return s.reference_ppl, s.reference_ppl * (1 + ch.ppl_max_increase)
    return None


def _tps_json(t: TpsSet) -> dict[str, Any]:
    s = t.summary
    return {
        "prompts": t.prompts,
        "output_tokens": t.output_tokens,
        "passes": [{"tokens": p.tokens, "seconds": round(p.seconds, 6), "tps": round(p.tps, 4)}
                   for p in t.passes],
        "median": round(s.median, 4),
        "mean": round(s.mean, 4),
        "stdev": round(s.stdev, 4),
        "ci95": [round(s.ci95[0], 4), round(s.ci95[1], 4)],
    }


__all__ = ["BenchPlan", "RunCheck", "RunContext", "RunRecord", "ServeSpec", "ServeFn",
           "run_bench", "serve_with_vllm", "merged_engine_args"]
