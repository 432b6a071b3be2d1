"""Paired runs (`arena bench CANDIDATE --vs OTHER`): the candidate and another submission measured
in one job on one runner, interleaved, so that what drifts between runners and between hours
cancels out of each pair's difference.

How a paired run goes (it composes the phases of `runner.bench`; nothing else changes):

    prepare   both checkpoints pinned and identified (the other one by the same rules)
    time      both engines started, each in its own sandbox, both warmed up; then `repeats`
              pairs of timed passes (A the candidate, B the other): pair 1 A first, pair 2 B
              first, ... (ABBA, which cancels a linear drift); both passes of a pair send the
              same fresh variants, in the same order (a variant is never sent twice to one
              engine). By default (`order` "pass") each pass runs whole, A's then B's. With
              "request" the two passes run interleaved request by request, the first turning
              at every request (AB BA AB ...), and a pass's time is the sum of its own
              requests' times: both passes span the same minutes, so load that comes and goes
              within a pass hits both; but every request then follows a thaw, which costs
              both engines time (on the loaded 2-core CPU machine, up to half their TPS), so
              the candidate's own figures would read lower than a plain run's: not the
              default, since the board ranks them. The engine that is not being timed is frozen
              (`Freezer`: every process of its sandbox stopped) and thawed before its own
              turn; then the cache probe on the candidate, as today
    stop      both engines stopped; nothing of either left
    referee   the candidate only, exactly as in a plain run
    verdict   the candidate's result, with the `paired` block

The candidate's own `tps` are its timed passes of the pairs (the board ranks them as it ranks
any run). The other engine's figures go only into the `paired` block. A failure of the other
engine (it does not start, crashes, answers short) is not the candidate's fault: the run ends
`error` and says so.

On a GPU both engines are resident at once: each gets half of the memory it asks for
(`gpu_memory_utilization` halved, from the challenge's default when it sets none), which the
frozen one keeps holding while the other is timed; `docs/runner.md` says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from arena.stats import CONFIDENCE, diff_interval, paired_interval
from arena.submission import Submission
from runner.server import ServerError

ORDERS = ("pass", "request")  # how the two engines' timed work interleaves (the first: default)


def abba(pairs: int) -> list[tuple[str, str]]:
    """Who goes first in each pair: AB BA AB BA ... (A the candidate): over every two pairs
    a drift linear in time costs A and B alike (A at t0 and t3, B at t1 and t2)."""
    return [("other", "candidate") if k % 2 else ("candidate", "other") for k in range(pairs)]


def paired_block(candidate: Sequence[float], other: Sequence[float], *, against: Mapping[str, Any],
                 set_name: str, rule: Any, order: str = ORDERS[0],
                 confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The result's `paired` block from the pass TPS of each pair (candidate[i], other[i]).
    The verdict is `rule.compare` (the ranking's TieRule) on the two means."""
    if len(candidate) != len(other) or len(candidate) < 2:
        raise ValueError("a paired block needs at least two pairs")
    a, b = statistics.fmean(candidate), statistics.fmean(other)
    ci = paired_interval(candidate, other, confidence)
    unpaired = diff_interval(candidate, other, confidence)
    assert ci is not None and unpaired is not None
    return {"against": dict(against), "order": order, "pairs": len(candidate), "set": set_name,
            "tps": {"candidate": a, "other": b, "diff": a - b, "ci": list(ci),
                    "unpaired_ci": list(unpaired), "confidence": confidence},
            "verdict": rule.compare(a, b)}


# -- freezing the engine that is not being timed ------------------------------------------------

class FreezeError(ServerError):
    """The idle engine's processes could not all be held stopped: the run ends `error`."""


def _ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, context switches so far) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        switches = 0
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    switches += int(line.split()[1])
        return state, switches
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Freezer:
    """Stops every process of one engine's sandbox (its PID namespace) while the other engine
    is timed, and resumes them before its own turn.

    A sandboxed process can signal its siblings (they share a uid), so one that is still
    running could resume one already stopped, then stop itself. Freezing therefore repeats
    until two looks at the namespace, `settle` seconds apart, find every process stopped and
    none of them scheduled in between (its context-switch counters unchanged); a sandbox that
    keeps waking itself up for `timeout` seconds is a `FreezeError` (the run ends `error`).

    For a server started without a sandbox (tests' stand-ins), its process group is frozen
    instead; a server the runner did not start (`ExternalServer`) has nothing to freeze."""

    server: Any
    settle: float = 0.02
    timeout: float = 10.0
    frozen: bool = False

    def members(self) -> list[int]:
        child = getattr(self.server, "child_pid", None)
        if child:
            ns = _ns(child)
            if ns is None:
                return []
            if ns == _ns(os.getpid()):  # never the runner's own processes
                raise FreezeError("the engine's sandbox has no PID namespace of its own")
            out = []
            for name in os.listdir("/proc"):
                if name.isdigit() and int(name) != os.getpid() and _ns(int(name)) == ns:
                    out.append(int(name))
            return sorted(out)
        pgid = getattr(self.server, "_pgid", None)
        if pgid is None:
            return []
        from runner.server import _group_members
        return _group_members(pgid)

    def _signal(self, pids: Sequence[int], sig: int) -> None:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def freeze(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            pids = self.members()
            self._signal(pids, signal.SIGSTOP)
            time.sleep(self.settle)
            first = {p: _stat(p) for p in self.members()}
            time.sleep(self.settle)
            second = {p: _stat(p) for p in self.members()}
            if first.keys() == second.keys() and all(
                    s is not None and s[0] in "TtZX" and first[p] == s
                    for p, s in second.items()):
                self.frozen = True
                return
            if time.monotonic() > deadline:
                self.thaw()
                raise FreezeError(f"the idle engine's processes could not be held stopped "
                                  f"within {self.timeout:g} s (they kept resuming): an engine "
                                  "must not run while the other is timed")

    def thaw(self) -> None:
        self._signal(self.members(), signal.SIGCONT)
        self.frozen = False


# -- the run ------------------------------------------------------------------------------------

CANDIDATE, OTHER = "candidate", "other"


def other_view(run: Any) -> Any:
    """The other submission's own view of the run: the same prompts, deadline and serve
    function, its own plan, folder, checks and figures. Its engine is in the candidate's
    `servers` list, so a run that ends in any way stops it too."""
    vs = run.plan.vs
    plan = dataclasses.replace(run.plan, submission=vs.submission, patch_text=vs.patch_text,
                               commit=vs.commit, vs=None)
    return dataclasses.replace(run, plan=plan, work=run.work / "other", checks=[], reasons=[],
                               timings={}, tps={}, engine_logs={}, other=None, paired=None,
                               model=None, drafter=None, overlay=None, spec=None, audit=None,
                               engine_version=vs.submission.engine_version)


def prepare_other(run: Any) -> None:
    """The other submission's checkpoint (and drafter, and engine patch) made ready by the
    candidate's own rules: identified as the challenge's base model before anything big is
    fetched, within its size caps. Anything wrong ends the run `error` (`paired`): the
    candidate is not at fault."""
    from runner.context import Invalid
    from runner.models import ModelError
    from runner.prepare import checked_model, overlay_for
    from arena.challenge import ModelRef

    ch = run.plan.challenge
    orun = other_view(run)
    sub: Submission = orun.plan.submission
    what = f"the other submission {sub.id} (--vs)"
    try:
        orun.model = checked_model(orun, sub.model, run.base_config,
                                   run.base_bytes * ch.max_size_factor, ch.max_size_factor)
        spec_config = sub.engine_args.get("speculative_config")
        if isinstance(spec_config, dict) and "model" in spec_config:
            ref = ModelRef(spec_config["model"], spec_config["revision"])
            orun.drafter = checked_model(orun, ref, run.base_config,
                                         run.base_bytes * ch.drafter_size_factor,
                                         ch.drafter_size_factor, what="drafter",
                                         method=str(spec_config.get("method", "")))
        if sub.patch is not None:
            orun.overlay = overlay_for(orun)
    except (Invalid, ModelError) as exc:
        raise ModelError("error", "paired", f"{what} cannot be measured beside this one: "
                         f"{exc.message}") from None
    run.other = orun
    run.progress(f"paired: {sub.id} ready to be measured beside {run.plan.submission.id}")


@contextlib.contextmanager
def others_fault(who: str) -> Iterator[None]:
    """Anything the other engine does wrong ends the run `error`, in its name."""
    from runner.client import EngineRejected
    from runner.measure import OutputLengthViolation
    from runner.server import ServerError

    try:
        yield
    except (ServerError, EngineRejected, OutputLengthViolation) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ServerError(f"the other engine of this paired run ({who}): {message}") from None


def halved(spec: Any) -> Any:
    """On a GPU both engines are resident at once: each asks for half the memory it would
    alone (vLLM's default fraction is 0.9)."""
    from runner.sandbox import gpu_devices

    if not gpu_devices():
        return spec
    args = dict(spec.engine_args)
    args["gpu_memory_utilization"] = round(float(args.get("gpu_memory_utilization", 0.9)) / 2, 4)
    return dataclasses.replace(spec, engine_args=args)


def time_paired(run: Any, checks: Sequence[Any]) -> None:
    """Phase 2 of a paired run: both engines started (each in its own sandbox) and warmed up,
    then the pairs of timed passes (ABBA, by request or by pass), the idle engine frozen; then
    the candidate's
    counters, checks and cache probe exactly as after a plain run, and the `paired` block."""
    from runner.client import EngineClient
    from runner.measure import (LengthAudit, PassResult, TpsSet, fresh_variant, pass_orders,
                                timed_pass, timed_request, warm_up, warm_up_lengths)
    from runner.telemetry import Sampler
    from runner.timing import _keep_log, after_timed, metrics_or_none, submission_spec

    ch = run.plan.challenge
    orun = run.other
    assert orun is not None
    who = orun.plan.submission.id
    # The specs as they would be alone (the referee's is made from the candidate's); each
    # engine is started with `halved` memory.
    run.spec = submission_spec(run)
    orun.spec = dataclasses.replace(submission_spec(orun), workdir=run.work / OTHER)
    ts = time.monotonic()
    run.engine_logs["submission"] = run.spec.workdir / "engine.log"
    server = run.serve(halved(run.spec))
    run.servers.append(server)
    _keep_log(run, server, "submission")
    run.timings["startup_s"] = time.monotonic() - ts
    run.progress(f"start-up: the submission's engine is ready ({run.timings['startup_s']:.0f} s)")
    to = time.monotonic()
    run.engine_logs[OTHER] = orun.spec.workdir / "engine.log"
    with others_fault(who):
        oserver = run.serve(halved(dataclasses.replace(orun.spec, startup_timeout=min(
            ch.startup_timeout_s, run.left()))))
    run.servers.append(oserver)
    _keep_log(run, oserver, OTHER)
    run.timings["other_startup_s"] = time.monotonic() - to
    run.progress(f"start-up: the other engine ({who}) is ready "
                 f"({run.timings['other_startup_s']:.0f} s)")
    clients = {c: EngineClient(s, request_timeout=ch.request_timeout_s, deadline=run.deadline,
                               run_timeout=ch.run_timeout_s)
               for c, s in ((CANDIDATE, server), (OTHER, oserver))}
    freezers = {CANDIDATE: Freezer(server), OTHER: Freezer(oserver)}

    def turn(c: str) -> None:
        """Only `c` runs: the other engine frozen, `c` thawed."""
        freezers[OTHER if c == CANDIDATE else CANDIDATE].freeze()
        freezers[c].thaw()

    lengths = [len(p) for s in run.plan.sets for p in run.encoded[s.name].prompt_ids]
    filler = [t for ids in run.warm_ids for t in ids]
    try:
        run.engine_version = clients[CANDIDATE].version() or run.plan.submission.engine_version
        run.audit = LengthAudit(ch.output_tokens)
        orun.audit = LengthAudit(ch.output_tokens)
        audits = {CANDIDATE: run.audit, OTHER: orun.audit}
        tw = time.monotonic()
        turn(CANDIDATE)
        warm_up(clients[CANDIDATE], run.warm_ids, ch.output_tokens, run.audit, run.progress)
        warm_up_lengths(clients[CANDIDATE], lengths, filler, run.progress)
        turn(OTHER)
        with others_fault(who):
            warm_up(clients[OTHER], run.warm_ids, ch.output_tokens, orun.audit, run.progress)
            warm_up_lengths(clients[OTHER], lengths, filler, run.progress)
        run.timings["warmup_s"] = time.monotonic() - tw
        turn(CANDIDATE)
        before = metrics_or_none(clients[CANDIDATE])
        sets = [run.encoded[s.name] for s in run.plan.sets]
        taken: set[tuple[int, ...]] = {tuple(p) for s in sets for p in s.prompt_ids}
        orders = {s.name: pass_orders(len(s.prompt_ids), ch.repeats, ch.seed) for s in sets}
        figures = {r: {s.name: TpsSet(s.name, len(s.prompt_ids), ch.output_tokens) for s in sets}
                   for r in (CANDIDATE, OTHER)}
        sampler = Sampler()
        tt = time.monotonic()
        order = run.plan.vs.order
        label = {CANDIDATE: "", OTHER: "the other engine: "}

        def timed(c: str) -> Any:
            """The context one engine's timed work runs in: sampled (the candidate's), or
            answered for in the other's name."""
            return sampler.window() if c == CANDIDATE else others_fault(who)

        try:
            with sampler:
                for r, pair in enumerate(abba(ch.repeats)):
                    # The same fresh variants for both engines; none sent before.
                    prompts = {s.name: [fresh_variant(s.prompt_ids[i], taken)
                                        for i in orders[s.name][r]] for s in sets}
                    if order == "pass":
                        for c in pair:
                            turn(c)
                            with timed(c):
                                for s in sets:
                                    timed_pass(clients[c], s, figures[c][s.name], r,
                                               ch.repeats, orders[s.name][r], prompts[s.name],
                                               output_tokens=ch.output_tokens,
                                               audit=audits[c], label=label[c])
                    else:  # request by request: each pass's time is its requests' own
                        for s in sets:
                            got = {c: [0, 0.0] for c in pair}
                            for k, i in enumerate(orders[s.name][r]):
                                for c in (pair if k % 2 == 0 else pair[::-1]):
                                    turn(c)
                                    res = figures[c][s.name]
                                    with timed(c):
                                        got[c][0] += timed_request(
                                            clients[c], s, res, r, ch.repeats, k, i,
                                            prompts[s.name][k], output_tokens=ch.output_tokens,
                                            audit=audits[c], label=label[c])
                                    got[c][1] += res.request_seconds[-1]
                            for c, (tokens, seconds) in got.items():
                                figures[c][s.name].passes.append(PassResult(r, tokens, seconds))
                    run.progress(f"timed pair {r + 1}/{ch.repeats} ({pair[0]} first): "
                                 f"{sum(len(s.prompt_ids) for s in sets)} requests to each "
                                 f"engine, interleaved by {order} ({time.monotonic() - tt:.0f} "
                                 "s into the timed passes)")
        finally:
            run.timings["timed_s"] = time.monotonic() - tt
            run.telemetry = sampler.summary()
        run.tps, orun.tps = figures[CANDIDATE], figures[OTHER]
        turn(CANDIDATE)
        after_timed(run, server, clients[CANDIDATE], before, checks)
        scored = "private" if "private" in run.tps else next(iter(run.tps))
        run.paired = paired_block(
            [p.tps for p in run.tps[scored].passes], [p.tps for p in orun.tps[scored].passes],
            against={"id": orun.plan.submission.id, "commit": orun.plan.commit,
                     "config_sha256": orun.plan.submission.config_sha256()},
            set_name=scored, rule=_rule(ch), order=order)
    finally:
        for f in freezers.values():
            f.thaw()
        for c in clients.values():
            c.close()


def _rule(challenge: Any) -> Any:
    """The ranking's tie rule as the challenge calibrates it (the board may widen it later;
    the comparison on the site uses the board's)."""
    from arena.stats import calibrated_rule

    return calibrated_rule(challenge.noise)


__all__ = ["ORDERS", "abba", "paired_block", "Freezer", "FreezeError", "other_view",
           "prepare_other", "time_paired"]
