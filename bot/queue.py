"""Where a benchmark run stands: its place among the bench runs waiting for a GPU runner, the
runners online and busy for the challenge's hardware label, and an estimate of when it starts.

Everything comes from the Actions API, with as few calls as possible: the bench workflow's runs
of the last 24 hours (the list the quota is counted from, so /bench and /status already have
it: no extra call), and one call for the repository's self-hosted runners. Listing runners
needs the `administration: read` permission, which a workflow's GITHUB_TOKEN may not have;
then the runners are "unknown" and the estimate assumes the runners busy now are all there are.

How the place is counted, from workflow-run states alone (no call per job): runs `queued`,
`waiting` (for an approval), `pending` or `requested` and created before this one are ahead of
it; a run `in_progress` holds a runner, except that when more runs are in progress than
runners are busy, the extra ones (their first, hosted job done) wait for a GPU too and are
counted ahead. The start is estimated by handing the runs ahead to the online runners in order,
each taking the median duration of the recent completed runs (a run in progress needs what is
left of it). It is an estimate: say so wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import heapq
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from bot.client import API_ERRORS
from bot.context import Bot
from bot.quota import BenchRun
from bot.render import when

WAITING = ("queued", "waiting", "pending", "requested")
MIN_DURATIONS = 1  # completed runs needed for an estimate
MAX_DURATIONS = 20  # the most recent ones used


@dataclass(frozen=True)
class Runners:
    online: int
    busy: int
    known: bool  # False: the token could not list them
    why_unknown: str | None = None


@dataclass(frozen=True)
class QueueState:
    position: int | None  # 1: next to start; None: it is not waiting (running, or finished)
    waiting: int  # bench runs waiting for a runner, this one included
    in_progress: int
    runners: Runners
    typical_s: float | None  # median duration of recent completed runs
    durations: int  # how many completed runs that median comes from
    start_at: dt.datetime | None  # estimated start; None when it cannot be estimated
    note: str | None = None  # why there is no estimate

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "waiting": self.waiting,
                "in_progress": self.in_progress,
                "runners": {"online": self.runners.online if self.runners.known else None,
                            "busy": self.runners.busy if self.runners.known else None},
                "typical_run_s": self.typical_s, "estimated_start":
                    self.start_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.start_at else None,
                "note": self.note}


def list_runners(bot: Bot, label: str) -> Runners:
    """The repository's self-hosted runners that carry `label` (one request; up to 100)."""
    try:
        _, data = bot.gh.requester.requestJsonAndCheck(
            "GET", f"{bot.repo.url}/actions/runners", parameters={"per_page": 100})
    except API_ERRORS as exc:
        status = getattr(exc, "status", None)
        why = ("the bot's token may not list runners (it needs administration: read)"
               if status in (401, 403, 404) else f"GitHub did not answer ({type(exc).__name__})")
        return Runners(0, 0, False, why)
    online = busy = 0
    for r in (data or {}).get("runners", []):
        names = {str(lb.get("name", "")).lower() for lb in r.get("labels", [])}
        if label.lower() not in names or r.get("status") != "online":
            continue
        online += 1
        busy += bool(r.get("busy"))
    return Runners(online, busy, True)


def durations(runs: Sequence[BenchRun]) -> list[float]:
    """Seconds from start to end of the most recent successful runs (cancelled and failed runs
    say little about how long a run takes)."""
    done = sorted((r for r in runs if r.status == "completed" and r.conclusion == "success"
                   and r.started_at and r.updated_at and r.updated_at > r.started_at),
                  key=lambda r: r.updated_at, reverse=True)  # type: ignore[arg-type,return-value]
    return [(r.updated_at - r.started_at).total_seconds()  # type: ignore[operator]
            for r in done[:MAX_DURATIONS]]


def queue_state(runs: Sequence[BenchRun], run_id: int | None, runners: Runners,
                now: dt.datetime) -> QueueState:
    """Pure: where run `run_id` stands among `runs` (the bench runs of the last 24 hours)."""
    active = sorted((r for r in runs if r.status != "completed"),
                    key=lambda r: (r.created_at, r.id))
    running = [r for r in active if r.status == "in_progress"]
    slots = runners.online if runners.known else max(1, len(running))
    busy = min(len(running), runners.busy if runners.known else len(running))
    # In progress beyond the busy runners: waiting for a GPU after their hosted first job.
    holding = sorted(running, key=lambda r: (r.started_at or r.created_at, r.id))[:busy]
    held = {r.id for r in holding}
    waiting = [r for r in active if r.id not in held
               and (r.status in WAITING or r.status == "in_progress")]
    position = next((i + 1 for i, r in enumerate(waiting) if r.id == run_id), None)
    ds = durations(runs)
    typical = statistics.median(ds) if len(ds) >= MIN_DURATIONS else None
    base = QueueState(position, len(waiting), len(running), runners, typical, len(ds), None)
    if position is None:
        return base
    if runners.known and runners.online == 0:
        return _with(base, note="no runner with the hardware label is online")
    if typical is None:
        return _with(base, note="no completed run in the last 24 hours to time it by")
    free = []
    for r in holding:
        began = r.started_at or r.created_at
        free.append(max(0.0, typical - (now - began).total_seconds()))
    free += [0.0] * max(0, slots - len(free))
    heapq.heapify(free)
    for _ in range(position - 1):
        heapq.heappush(free, heapq.heappop(free) + typical)
    return _with(base, start_at=now + dt.timedelta(seconds=free[0]))


def _with(q: QueueState, **kw: Any) -> QueueState:
    return QueueState(**{**q.__dict__, **kw})


def queue_line(q: QueueState, hardware: str) -> str:
    """One paragraph of Markdown (the bot's own words and numbers only)."""
    label = f"`{hardware}`" if hardware.replace("-", "").replace("_", "").isalnum() \
        else "the hardware label"
    if q.runners.known:
        runners = f"{q.runners.online} runner{'s' if q.runners.online != 1 else ''} {label} " \
                  f"online, {q.runners.busy} busy"
    else:
        runners = f"runners {label}: unknown ({q.runners.why_unknown})"
    if q.position is None:
        where = "It is not waiting for a runner"
    else:
        where = f"Queue: **{q.position}** of {q.waiting} waiting bench run" \
                f"{'s' if q.waiting != 1 else ''}"
    est = ""
    if q.start_at is not None and q.typical_s is not None:
        est = (f"; estimated start about {when(q.start_at)} (a run takes about "
               f"{q.typical_s / 60:.0f} min, the median of the last {q.durations} completed)")
    elif q.position is not None and q.note:
        est = f"; no start estimate: {q.note}"
    return f"{where}; {runners}{est}."


def describe(bot: Bot, runs: Sequence[BenchRun], run_id: int | None, *,
             label: str | None = None) -> str:
    """The queue line for a run, from runs already listed (those of its track) and one call for
    the runners that carry its track's runner label (default: the first track's)."""
    label = label or bot.challenge.hardware
    runners = list_runners(bot, label)
    return queue_line(queue_state(runs, run_id, runners, bot.now()), label)
