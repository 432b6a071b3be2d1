"""Paired runs (`arena bench CANDIDATE --vs OTHER`): the candidate and another submission measured
in one job on one runner, interleaved pass by pass, so that what drifts between runners and
between hours cancels out of each pair's difference.

How a paired run goes (it composes the phases of `runner.bench`; nothing else changes):

    prepare   both checkpoints pinned and identified (the other one by the same rules)
    time      both engines started, each in its own sandbox, both warmed up; then `repeats`
              pairs of timed passes in the order ABBA ABBA... (A the candidate), which cancels
              a linear drift; both passes of a pair send the same fresh variants, in the same
              order (a variant is never sent twice to one engine); the engine that is not being
              timed is frozen (`Freezer`: every process of its sandbox stopped) and thawed
              before its own turn; then the cache probe on the candidate, as today
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

import os
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from arena.stats import CONFIDENCE, paired_interval

ORDER = "pass"  # interleaved pass by pass (the schema also allows "request")


def abba(pairs: int) -> list[tuple[str, str]]:
    """Who goes first in each pair: AB BA AB BA ... (A the candidate): over every two pairs
    a drift linear in time costs A and B alike (A at t0 and t3, B at t1 and t2)."""
    return [("other", "candidate") if k % 2 else ("candidate", "other") for k in range(pairs)]


def paired_block(candidate: Sequence[float], other: Sequence[float], *, against: Mapping[str, Any],
                 set_name: str, rule: Any, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The result's `paired` block from the pass TPS of each pair (candidate[i], other[i]).
    The verdict is `rule.compare` (the ranking's TieRule) on the two means."""
    from leaderboard.compare import diff_interval

    if len(candidate) != len(other) or len(candidate) < 2:
        raise ValueError("a paired block needs at least two pairs")
    a, b = statistics.fmean(candidate), statistics.fmean(other)
    ci = paired_interval(candidate, other, confidence)
    unpaired = diff_interval(candidate, other, confidence)
    assert ci is not None and unpaired is not None
    return {"against": dict(against), "order": ORDER, "pairs": len(candidate), "set": set_name,
            "tps": {"candidate": a, "other": b, "diff": a - b, "ci": list(ci),
                    "unpaired_ci": list(unpaired), "confidence": confidence},
            "verdict": rule.compare(a, b)}


# -- freezing the engine that is not being timed ------------------------------------------------

class FreezeError(Exception):
    """The idle engine's processes could not all be stopped (or resumed)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


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
    instead."""

    server: Any
    settle: float = 0.05
    timeout: float = 10.0
    frozen: bool = False

    def members(self) -> list[int]:
        child = getattr(self.server, "child_pid", None)
        if child:
            ns = _ns(child)
            if ns is None:
                return []
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


__all__ = ["ORDER", "abba", "paired_block", "Freezer", "FreezeError"]
