"""Phase 4, the referee: every quality figure, from a trusted engine.

The referee is stock vLLM of the same version (the installed release, never a submission's
patch) serving the same checkpoint with speculative decoding off, in its own sandbox: the
checkpoint is untrusted data, so even the trusted engine is sandboxed. It measures perplexity
(teacher forcing on the references), scores every token of every distinct timed output, and
decodes a sample again for greedy fidelity (`runner.integrity`). The submission's engine is
stopped first, so the referee has the accelerator to itself.
"""

from __future__ import annotations

import time
from typing import Sequence

from runner import checks as C
from runner.client import EngineClient
from runner.context import REFEREE, Run, RunCheck, RunContext
from runner.measure import teacher_forced_ppl, warm_up
from runner.prompts import PromptSet
from runner.server import ServerError
from runner.timing import stop_engine


class RefereeFailure(ServerError):
    """The referee failed (did not start, crashed): the run cannot be judged (verdict error)."""


def referee(run: Run, checks: Sequence[RunCheck]) -> None:
    ch = run.plan.challenge
    assert run.spec is not None
    spec = run.spec.for_referee(min(ch.startup_timeout_s, run.left()), ch.referee_env)
    run.progress("referee: starting stock vLLM on the same checkpoint (speculative decoding "
                 "off, no patch) in its own sandbox")
    ts = time.monotonic()
    run.engine_logs[REFEREE] = spec.workdir / "engine.log"  # kept even when start-up fails
    try:
        server = run.serve(spec)
    except ServerError as exc:
        raise RefereeFailure("the referee (stock vLLM on the same checkpoint) failed to "
                             "start: " + exc.message, log_tail=exc.log_tail) from None
    run.servers.append(server)
    path = getattr(server, "log_path", None)
    if path is not None:
        run.engine_logs[REFEREE] = path
    run.timings["referee_startup_s"] = time.monotonic() - ts
    run.progress(f"referee: ready ({run.timings['referee_startup_s']:.0f} s)")
    client = EngineClient(server, request_timeout=ch.request_timeout_s, deadline=run.deadline,
                          run_timeout=ch.run_timeout_s)
    tr = time.monotonic()
    try:
        try:
            run.referee_version = client.version()
            if run.warm_ids:
                warm_up(client, run.warm_ids[:1], min(8, ch.output_tokens),
                        _Uncounted(min(8, ch.output_tokens)), scoring=True)
            tq = time.monotonic()
            for s in run.plan.sets:
                run.ppl[s.name] = teacher_forced_ppl(client, run.encoded[s.name], run.progress)
            run.timings["ppl_s"] = time.monotonic() - tq
            caps = {s.name: _cap(s, ch) for s in run.plan.sets}
            run.checks.append(C.ppl_cap(run.ppl, caps, ch.ppl_max_increase))
            ctx = RunContext(run.plan, spec, server, client, run.encoded, run.tps, run.ppl,
                             run.progress, role=REFEREE)
            for check in checks:
                run.checks.extend(check(ctx))
        except RefereeFailure:
            raise
        except ServerError as exc:
            raise RefereeFailure("the referee (stock vLLM on the same checkpoint) failed: "
                                 + exc.message, log_tail=exc.log_tail) from None
    finally:
        client.close()
        run.timings["referee_s"] = time.monotonic() - tr
        stop_engine(run, server, "the referee")


class _Uncounted:
    """A length audit for the referee's own warm-up (it is not the submission's output)."""

    def __init__(self, asked: int):
        self.asked = asked

    def add(self, got: int, finish_reason: str | None) -> None:
        pass


def _cap(s: PromptSet, ch) -> tuple[float, float] | None:  # type: ignore[no-untyped-def]
    if s.name == "public":
        return ch.ppl_reference, ch.ppl_cap
    if s.reference_ppl is not None:
        return s.reference_ppl, s.reference_ppl * (1 + ch.ppl_max_increase)
    return None
