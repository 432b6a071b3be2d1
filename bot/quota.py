"""Benchmark quotas: each author gets `quotas.runs_per_author_per_day` runs of their submissions
per rolling 24 hours, per hardware track (a track's `runs_per_author_per_day`). A paired run
(`/bench vs`) measures two submissions in one job and costs two runs.

The count comes from GitHub Actions itself: the runs of the bench workflow, whose run name the
workflow sets from its inputs (RUN_NAME below). Participants cannot delete workflow runs, and
comments play no part in the count, so neither deleting comments nor /rerun gets around it.
Every run counts, whoever asked for it and however it ended (cancelled runs too: the GPU may
already have been held for them).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable

from bot.context import Bot

WINDOW = dt.timedelta(hours=24)
# The bench workflow's `run-name:`, exactly:
#   bench #${{ inputs.pr }} ${{ inputs.path }}@${{ inputs.sha }} by ${{ inputs.requested_by }}
# A run on a named track, or a paired one, carries RUN_NAME_TRACK and RUN_NAME_VS after it
# (bench.yml: `${{ inputs.track && format(' on {0}', inputs.track) || '' }}` and the same for
# `vs`); a title without them is a run on the challenge's first track, alone.
RUN_NAME = "bench #{pr} {path}@{sha} by {requested_by}"
RUN_NAME_TRACK = " on {track}"
RUN_NAME_VS = " vs {vs}"
RUN_NAME_RE = re.compile(
    r"^bench #(?P<pr>[1-9][0-9]*) "
    r"(?P<path>submissions/(?P<author>[A-Za-z0-9-]+)/[a-z0-9][a-z0-9-]*\.yaml)"
    r"@(?P<sha>[0-9a-f]{40}) by (?P<requested_by>[A-Za-z0-9-]+)"
    r"(?: on (?P<track>[a-z0-9][a-z0-9_-]*))?"
    r"(?: vs (?P<vs>submissions/[A-Za-z0-9-]+/[a-z0-9][a-z0-9-]*\.yaml))?$")
MAX_PAGES = 10


@dataclass(frozen=True)
class BenchRun:
    """A run of the bench workflow, identified from its run name."""

    id: int
    pr: int
    path: str
    sha: str
    requested_by: str
    created_at: dt.datetime
    status: str  # queued | in_progress | completed | waiting | requested | pending
    conclusion: str | None
    html_url: str
    started_at: dt.datetime | None = None  # run_started_at: the (latest) attempt began
    updated_at: dt.datetime | None = None  # for a completed run: about when it ended
    track: str | None = None  # the track it was dispatched for; None: the challenge's first
    vs: str | None = None  # a paired run: the other submission's file

    @property
    def cost(self) -> int:
        """Runs of the quota it uses: a paired run measures two submissions."""
        return 2 if self.vs else 1

    def on_track(self, track: str | None, first: str | None) -> bool:
        """Whether it runs on `track` (None: every track counts); `first` is the challenge's
        first track, which a title without a track names."""
        return track is None or (self.track or first) == track

    @property
    def author(self) -> str | None:
        parts = self.path.split("/")
        return parts[-2] if len(parts) >= 3 else None

    @property
    def active(self) -> bool:
        return self.status != "completed"


def run_name(pr: int, path: str, sha: str, requested_by: str, track: str | None = None,
             vs: str | None = None) -> str:
    return (RUN_NAME.format(pr=pr, path=path, sha=sha, requested_by=requested_by)
            + (RUN_NAME_TRACK.format(track=track) if track else "")
            + (RUN_NAME_VS.format(vs=vs) if vs else ""))


def parse_run(run: Any) -> BenchRun | None:
    """A BenchRun from a PyGithub WorkflowRun, or None when its name is not a bench run name."""
    m = RUN_NAME_RE.match(run.display_title or "")
    if not m:
        return None
    created = run.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return BenchRun(run.id, int(m["pr"]), m["path"], m["sha"], m["requested_by"], created, run.status,
                    run.conclusion, run.html_url, _aware(getattr(run, "run_started_at", None)),
                    _aware(getattr(run, "updated_at", None)), m["track"], m["vs"])


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t


def recent_runs(bot: Bot, since: dt.datetime) -> list[BenchRun]:
    """Bench runs created since `since`, newest first (one request per 100 runs). GitHub lists
    runs newest first; reading stops at the first older one. (The REST description types the
    `created` filter as a plain date-time, so its range syntax is not used.)"""
    workflow = bot.repo.get_workflow(bot.bench_workflow)
    out = []
    for i, run in enumerate(workflow.get_runs(event="workflow_dispatch")):
        if i >= MAX_PAGES * 100:
            break
        created = run.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        if created < since:
            break
        parsed = parse_run(run)
        if parsed is not None:
            out.append(parsed)
    return out


@dataclass(frozen=True)
class Quota:
    author: str
    limit: int
    used: int
    runs: tuple[BenchRun, ...]  # the counted runs, oldest first
    next_at: dt.datetime | None  # when the next run becomes possible, if none is left now

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author, "limit": self.limit, "used": self.used, "left": self.left,
                "window_hours": 24,
                "next_run_at": self.next_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.next_at
                else None}


def compute_quota(author: str, limit: int, runs: Iterable[BenchRun], now: dt.datetime, *,
                  track: str | None = None, first_track: str | None = None) -> Quota:
    """Pure: the author's use of their quota in the 24 hours before `now`: on `track` only
    when one is given (a run whose title names no track is on `first_track`), each run
    counted at its cost (a paired run two)."""
    since = now - WINDOW
    mine = sorted((r for r in runs if (r.author or "").lower() == author.lower()
                   and r.created_at > since and r.on_track(track, first_track)),
                  key=lambda r: (r.created_at, r.id))
    used = sum(r.cost for r in mine)
    next_at = None
    if used >= limit:
        # the run whose expiry brings the count below the limit
        left = used
        next_at = now + WINDOW
        for r in mine:
            left -= r.cost
            if left < limit:
                next_at = r.created_at + WINDOW
                break
    return Quota(author, limit, used, tuple(mine), next_at)


def quota_for(bot: Bot, author: str, runs: list[BenchRun] | None = None) -> Quota:
    """The author's quota (on the first track when the challenge has several)."""
    now = bot.now()
    if runs is None:
        runs = recent_runs(bot, now - WINDOW)
    tracks = bot.challenge.tracks
    if len(tracks) > 1:
        return compute_quota(author, tracks[0].runs_per_author_per_day, runs, now,
                             track=tracks[0].name, first_track=tracks[0].name)
    return compute_quota(author, bot.challenge.quota_runs_per_day, runs, now)


def over_quota_runs(quota: Quota) -> list[BenchRun]:
    """Runs past the limit, latest first: two requests handled at once can both pass the check
    before either run exists; the later one gives way."""
    out, used = [], 0
    for r in quota.runs:
        used += r.cost
        if used > quota.limit:
            out.append(r)
    return list(reversed(out))
