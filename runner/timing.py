"""Phases 2 and 3: time the submission's engine, then stop it for good.

The submission's engine is untrusted: it is started in its own sandbox (by the serve function),
warmed up with the runner's own prompts, timed on fresh variants of every prompt, probed for
remembered work, and stopped. Nothing it says about probabilities is ever asked for: it is
only timed, and its token IDs are checked (length here; quality by the referee).
"""

from __future__ import annotations

import time
from typing import Sequence

from arena.challenge import Challenge
from arena.submission import Submission
from runner import checks as C
from runner import integrity
from runner.client import EngineClient, EngineFailure
from runner.context import Run, RunCheck, RunContext, ServeSpec
from runner.measure import (
    LengthAudit,
    measure_tps,
    speculative_summary,
    warm_up,
    warm_up_lengths,
)
from runner.models import PreparedModel
from runner.sandbox import DRAFTER_DIR
from runner.telemetry import Sampler
from runner.server import describe_pids


def merged_engine_args(sub: Submission, challenge: Challenge,
                       drafter: PreparedModel | None) -> dict:
    """The submission's arguments over the challenge's defaults; a drafter by its path inside
    the sandbox (`runner.sandbox.DRAFTER_DIR`)."""
    args: dict = dict(challenge.engine_defaults)
    args.update(sub.engine_args)
    spec = args.get("speculative_config")
    if isinstance(spec, dict) and drafter is not None:
        spec = {k: v for k, v in spec.items() if k != "revision"}
        spec["model"] = DRAFTER_DIR
        args["speculative_config"] = spec
    return args


def secrets_of(sets: Sequence) -> list[str]:
    """Text that must never appear in anything published: every private prompt and reference."""
    out = []
    for s in sets:
        if s.private:
            for p in s.prompts:
                out += [c for _, c in p.messages]
                if p.reference:
                    out.append(p.reference)
    return out


def submission_spec(run: Run) -> ServeSpec:
    sub, ch = run.plan.submission, run.plan.challenge
    assert run.model is not None
    return ServeSpec(run.model.path, sub.engine_name, sub.engine_version,
                     merged_engine_args(sub, ch, run.drafter), ch.engine_env, ch.seed,
                     run.work / "submission", min(ch.startup_timeout_s, run.left()),
                     secrets_of(run.plan.sets), run.progress,
                     drafter_path=run.drafter.path if run.drafter else None,
                     overlay=run.overlay.root if run.overlay is not None else None,
                     scratch_bytes=ch.sandbox.scratch_mib << 20)


def time_submission(run: Run, checks: Sequence[RunCheck]) -> None:
    """Start the submission's engine, warm it up, run the timed passes, then the checks that
    need it (the cache probe)."""
    ch = run.plan.challenge
    run.spec = submission_spec(run)
    ts = time.monotonic()
    # Where the runner's own launcher writes the engine's log: kept even when start-up fails.
    run.engine_logs["submission"] = run.spec.workdir / "engine.log"
    server = run.serve(run.spec)
    run.servers.append(server)
    _keep_log(run, server, "submission")
    run.timings["startup_s"] = time.monotonic() - ts
    run.progress(f"start-up: the submission's engine is ready ({run.timings['startup_s']:.0f} s)")
    client = EngineClient(server, request_timeout=ch.request_timeout_s, deadline=run.deadline,
                          run_timeout=ch.run_timeout_s)
    try:
        run.engine_version = client.version() or run.plan.submission.engine_version
        run.audit = LengthAudit(ch.output_tokens)
        tw = time.monotonic()
        warm_up(client, run.warm_ids, ch.output_tokens, run.audit, run.progress)
        warm_up_lengths(client, [len(p) for s in run.plan.sets
                                 for p in run.encoded[s.name].prompt_ids],
                        [t for ids in run.warm_ids for t in ids], run.progress)
        run.timings["warmup_s"] = time.monotonic() - tw
        before = metrics_or_none(client)
        tt = time.monotonic()
        sampler = Sampler()  # the GPU's clocks, power, heat and throttling (none on a CPU)
        try:
            with sampler, sampler.window():
                run.tps = measure_tps(client, [run.encoded[s.name] for s in run.plan.sets],
                                      output_tokens=ch.output_tokens, repeats=ch.repeats,
                                      seed=ch.seed, audit=run.audit, progress=run.progress)
        finally:
            run.timings["timed_s"] = time.monotonic() - tt
            run.telemetry = sampler.summary()
        after_timed(run, server, client, before, checks)
    finally:
        client.close()


def after_timed(run: Run, server, client: EngineClient,  # type: ignore[no-untyped-def]
                before: dict[str, float] | None, checks: Sequence[RunCheck]) -> None:
    """What follows the submission's timed passes: its counters read, its output lengths and
    public/private gap judged, then the checks that need its live engine (the cache probe)."""
    ch = run.plan.challenge
    assert run.audit is not None and run.spec is not None
    after = metrics_or_none(client)
    busy = _delta(before, after, "vllm:e2e_request_latency_seconds_sum")
    if busy is not None:  # the engine's own timing of the timed requests (a benchmark
        run.timings["engine_busy_s"] = busy  # figure only: nothing is judged on it)
    run.speculative = speculative_summary(
        before, after, run.plan.submission.engine_args.get("speculative_config"))
    run.checks.append(C.output_length(run.audit))
    run.checks.append(integrity.public_private_gap(run.tps, ch.integrity))
    if checks:
        tc = time.monotonic()
        ctx = RunContext(run.plan, run.spec, server, client, run.encoded, run.tps, {},
                         run.progress)
        for check in checks:
            run.checks.extend(check(ctx))
        run.timings["submission_checks_s"] = time.monotonic() - tc


def stop_engine(run: Run, server, what: str) -> float:  # type: ignore[no-untyped-def]
    """Stop one engine this run started, and check that none of its processes is left."""
    t = time.monotonic()
    server.stop()
    seconds = time.monotonic() - t
    if server in run.servers:
        run.servers.remove(server)
    if hasattr(server, "leftovers"):  # a server this run started and owns
        left = server.leftovers()
        if left:
            run.fail("error", "engine", f"{len(left)} processes of {what} survived being "
                                        f"killed ({describe_pids(left)})")
        else:
            run.progress(f"{what} stopped ({seconds:.1f} s); no process left")
    return seconds


def stop_submission(run: Run) -> None:
    for server in list(run.servers):
        run.timings["stop_s"] = run.timings.get("stop_s", 0.0) + stop_engine(
            run, server, "the submission's engine")


def _keep_log(run: Run, server, role: str) -> None:  # type: ignore[no-untyped-def]
    path = getattr(server, "log_path", None)
    if path is not None:
        run.engine_logs[role] = path


def _delta(before: dict[str, float] | None, after: dict[str, float] | None,
           name: str) -> float | None:
    if not before or not after or name not in after:
        return None
    return max(0.0, after[name] - before.get(name, 0.0))


def metrics_or_none(client: EngineClient) -> dict[str, float] | None:
    try:
        return client.metrics()
    except EngineFailure:
        return None


__all__ = ["after_timed", "merged_engine_args", "metrics_or_none", "secrets_of", "stop_submission",
           "submission_spec", "time_submission"]
