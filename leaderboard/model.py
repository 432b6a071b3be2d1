"""The site's data model: one pass from (submission files, results, verdicts) to everything the
pages, the JSON API and the feed show.

The ranking itself comes from `leaderboard.ranking.rank` — called once per view here, never per
page — so the site cannot disagree with the bot. This module adds what only the site needs: each
run's effective status, each submission's status badge, its lineage (parent, children, a tree
that survives missing parents), its change against its parent and the configuration diff, the
Pareto front and the records. Loading (files, the store) lives in `leaderboard.load`;
`build_model` is pure, so that tests can feed it by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from arena.challenge import Challenge, Track
from arena.submission import Submission, submission_tracks
from leaderboard.ranking import (
    Entry,
    Record,
    ResultLike,
    RunStatus,
    SubmissionState,
    TieRule,
    board_filter,
    board_of,
    instant,
    is_unstable,
    on_track,
    pareto_front,
    ranked,
    records_of,
    run_status,
    scored_tps,
    submission_state,
    verdicts_by_submission,
)
from arena.result import Result, as_result
from leaderboard.compare import Comparison, comparisons

STATUSES = ("verified", "invalid", "error", "pending", "withdrawn", "disqualified")
STATUS_TEXT = {
    "verified": "verified",
    "invalid": "invalid",
    "error": "error",
    "pending": "no run yet",
    "withdrawn": "withdrawn",
    "disqualified": "disqualified",
}


@dataclass(frozen=True)
class SubmissionFile:
    """A valid submission file as read from the repository."""

    submission: Submission
    text: str
    path: str  # relative to the repository root, forward slashes


@dataclass
class RunView:
    doc: Mapping[str, Any]
    store_path: str  # relative to the store's root: results/<login>/<name>/<run-id>.json
    submission_id: str
    run_id: str
    started_at: str
    when: dt.datetime
    status: str  # the effective status: verified | invalid | error
    reasons: tuple[str, ...]
    overridden_by: str | None
    here: bool  # on this challenge and its track (its hardware label), and targeted there
    hardware: str
    tps_set: str | None
    tps: float | None
    ppl: float | None
    ranked: bool = False  # the run that gives its submission its place in the ranking
    unstable: bool = False  # its passes scatter more than the calibrated run-to-run noise
    drift: str | None = None  # measured on a runner whose control drifted (leaderboard.controls)
    # The run's typed result (arena.result.Result), read lazily: a board of 10,000
    # submissions has some 30,000 runs, and each build reads only what its lists show of
    # them. One per run, shared by the ranking and every track's model. Default: `doc`'s.
    result: Result = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.result is None:
            self.result = Result(self.doc)


@dataclass(frozen=True)
class ConfigChange:
    path: str  # dotted, e.g. engine.args.speculative_config.num_speculative_tokens
    kind: str  # added | removed | changed
    old: str | None  # compact JSON
    new: str | None


@dataclass
class SubmissionView:
    id: str
    author: str
    name: str
    file: SubmissionFile | None
    config: Mapping[str, Any] | None
    runs: list[RunView]  # newest first
    state: SubmissionState
    status: str
    entry: Entry | None = None
    author_entry: bool = False  # the author's best, in the per-author view
    parent_id: str | None = None
    parent_note: str | None = None  # why the parent is not shown above it
    children: list[str] = field(default_factory=list)
    change: float | None = None  # best TPS / parent's best TPS - 1
    change_note: str | None = None
    diff: list[ConfigChange] | None = None
    diff_note: str | None = None
    on_front: bool = False
    first_at: dt.datetime | None = None  # first run on this challenge's hardware
    latest_at: dt.datetime | None = None
    depth: int = 0
    # Its ranked run against its parent's and against the leader (leaderboard.compare); a
    # value that is a string says why that comparison cannot be made.
    compared: dict[str, "Comparison | str"] = field(default_factory=dict)
    # Its file targets this model's track (submission `tracks:`; no file: it did once).
    targets: bool = True

    @property
    def description(self) -> str | None:
        return self.file.submission.description if self.file else None

    @property
    def tags(self) -> tuple[str, ...]:
        return self.file.submission.tags if self.file else ()

    @property
    def patch(self) -> Any:
        """The engine patch its file carries (arena.submission.PatchInfo), or None."""
        return self.file.submission.patch if self.file else None

    @property
    def source(self) -> Any:
        """engine.source: the fork and commit the patch came from, or None."""
        return self.file.submission.source if self.file else None

    @property
    def patch_sha256(self) -> str | None:
        """The patch's digest as measured (from the file, else from the recorded config)."""
        if self.patch is not None:
            return self.patch.sha256
        eng = (self.config or {}).get("engine")
        patch = eng.get("patch") if isinstance(eng, Mapping) else None
        sha = patch.get("sha256") if isinstance(patch, Mapping) else None
        return sha if isinstance(sha, str) else None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the submission is not ranked, in words, newest run first."""
        if self.state.state != "active":
            return (f"{self.state.state} by {self.state.by}: {self.state.reason}"
                    if self.state.reason else f"{self.state.state}",)
        if self.status in ("invalid", "error"):
            latest = next(r for r in self.runs if r.here)
            return latest.reasons or (f"the latest run ended {latest.status}",)
        return ()

    @property
    def breakdown(self) -> Any:
        """Where the time goes in its ranked run (else its latest verified run here), when the
        runner reported it (leaderboard.breakdown)."""
        from leaderboard.breakdown import breakdown
        if self.entry:
            return breakdown(as_result(self.entry.result))
        run = next((r for r in self.runs if r.here and r.status == "verified"), None)
        return breakdown(run.result) if run is not None else None

    @property
    def best_run(self) -> RunView | None:
        return next((r for r in self.runs if r.ranked), None)

    @property
    def pr(self) -> int | None:
        """The pull request of its most recent run that names one."""
        for r in self.runs:
            pr = r.result.provenance.pr
            if pr:
                return int(pr)
        return None


@dataclass
class SiteModel:
    challenge: Challenge
    generated_at: dt.datetime
    entries: list[Entry]
    author_entries: list[Entry]
    submissions: dict[str, SubmissionView]  # in id order
    runs: list[RunView]  # newest first
    front: list[Entry]
    records: list[Record]
    tree: list[SubmissionView]  # pre-order: each parent before its children
    warnings: list[str]
    tie_rule: TieRule | None = None
    controls: Any = None  # leaderboard.controls.ControlsView
    # The hardware track this model ranks (None only in models built by hand).
    track: Track | None = None
    # Every track's model, in the challenge's order, this one included: one board per track
    # (a one-track challenge: just this one). Filled by build_model when no track is asked for.
    boards: dict[str, "SiteModel"] = field(default_factory=dict, repr=False)

    @property
    def headline(self) -> "Headline | None":
        return headline(self.entries)

    @property
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for s in self.submissions.values():
            out[s.status] += 1
        out["submissions"] = len(self.submissions)
        out["runs"] = len(self.runs)
        here = Counter(r.status for r in self.runs if r.here)
        out["runs_here"] = sum(here.values())
        for st in ("verified", "invalid", "error"):
            out[f"runs_{st}"] = here[st]
        out["authors"] = len({s.author for s in self.submissions.values()})
        return out


def build_model(
    challenge: Challenge,
    files: Mapping[str, SubmissionFile],
    results: Sequence[tuple[str, ResultLike]],
    verdicts: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
    warnings: Iterable[str] = (),
    track: str | None = None,
) -> SiteModel:
    """Everything the site shows for one hardware track (`track`; None: the first), computed
    once. Each track is its own board: its runs, its noise and tie rule, and only the
    submissions that target it. Asked for no track, the model also carries every track's
    model in `boards` (for a one-track challenge, just itself). Results may be given typed
    or as their validated documents; each is read once, for every track."""
    results = [(rel, as_result(r)) for rel, r in results]
    model = _build_track(challenge, files, results, verdicts, now=now, warnings=warnings,
                         track=challenge.track(track))
    if track is None:
        model.boards = {model.track.name: model}  # type: ignore[union-attr]
        for t in challenge.tracks[1:]:
            other = _build_track(challenge, files, results, verdicts, now=now,
                                 warnings=warnings, track=t)
            other.boards = model.boards
            model.boards[t.name] = other
    return model


def targeting(challenge: Challenge, files: Mapping[str, SubmissionFile],
              track: str) -> Callable[[str], bool]:
    """Whether submission `sid` targets `track`: its file's `tracks:` names it, or names none.
    A submission without a file (removed since its runs) keeps its runs on their track."""
    def targets(sid: str) -> bool:
        f = files.get(sid)
        return f is None or track in submission_tracks(f.submission, challenge)
    return targets


def _build_track(
    challenge: Challenge,
    files: Mapping[str, SubmissionFile],
    results: Sequence[tuple[str, Result]],
    verdicts: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
    warnings: Iterable[str],
    track: Track,
) -> SiteModel:
    targets = targeting(challenge, files, track.name)
    docs = [r for _, r in results if targets(r.submission.id)]
    board = board_filter(challenge, track.name)
    cid, noise = challenge.id, track.noise
    made = board_of(docs, verdicts, noise=noise, **board)  # read once, for all four below
    entries = ranked(made)
    author_entries = ranked(made, by_author=True)
    rule = made.rule
    front = pareto_front(entries)
    recs = records_of(made.rankable)
    by_sub = verdicts_by_submission(verdicts)
    on_board = (board["hardware"], board["track"], board["default_track"])

    # Every run of the board, with what the lists need.
    runs: list[RunView] = []
    for rel, res in results:
        sid = res.submission.id
        st: RunStatus = run_status(res, by_sub.get(sid, ()))
        s = res.score_set
        ppl_sets = res.ppl.sets
        ppl = ppl_sets.get(s) if s else next(iter(ppl_sets.values()), None)
        runs.append(RunView(
            doc=res.doc, result=res, store_path=rel, submission_id=sid, run_id=res.run_id,
            started_at=res.started_at, when=instant(res.started_at), status=st.status,
            reasons=st.reasons, overridden_by=st.overridden_by,
            here=on_track(res, *on_board) and res.challenge.id == cid and targets(sid),
            hardware=res.fingerprint.hardware, tps_set=s, tps=scored_tps(res),
            ppl=None if ppl is None else ppl.value, unstable=is_unstable(res, noise)))
    runs.sort(key=lambda r: (r.when, r.run_id), reverse=True)

    runs_of: dict[str, list[RunView]] = {}
    for r in runs:
        runs_of.setdefault(r.submission_id, []).append(r)

    subs: dict[str, SubmissionView] = {}
    for sid in sorted(set(files) | set(runs_of)):
        f = files.get(sid)
        mine = runs_of.get(sid, [])
        cfg = f.submission.config() if f else (mine[0].result.submission.config if mine
                                               else None)
        state = submission_state(sid, by_sub.get(sid, ()))
        author, name = sid.split("/", 1)
        here = [r for r in mine if r.here]
        subs[sid] = SubmissionView(
            id=sid, author=author, name=name, file=f, config=cfg, runs=mine, state=state,
            status=_status(state, here), parent_id=f.submission.parent if f else None,
            first_at=min((r.when for r in here), default=None),
            latest_at=max((r.when for r in mine), default=None), targets=targets(sid))

    by_run = {(r.submission_id, r.run_id): r for r in runs}
    for e in entries:
        subs[e.submission_id].entry = e
        by_run[(e.submission_id, e.run_id)].ranked = True
    for e in author_entries:
        subs[e.submission_id].author_entry = True
    for e in front:
        subs[e.submission_id].on_front = True

    by_id = {e.submission_id: e for e in entries}
    for s in subs.values():
        _lineage(s, subs)
        if s.entry is not None:
            s.compared = comparisons(s.entry.result, s.parent_id, entries, rule, by_id=by_id)
    tree = _tree(subs)
    return SiteModel(challenge=challenge, generated_at=now, entries=entries,
                     author_entries=author_entries, submissions=subs, runs=runs, front=front,
                     records=recs, tree=tree, warnings=list(warnings), tie_rule=rule,
                     track=track)


@dataclass(frozen=True)
class Headline:
    """What the home page says first: who is listed at rank 1, how many share it and within
    what, and the fastest measured figure when it is not the one listed first."""

    first: Entry  # listed first at rank 1: of the entries sharing it, the earliest
    shared: int  # entries at rank 1
    low: float  # the rank-1 group's slowest and fastest scores
    high: float
    margin: float  # the tie margin below the fastest
    fastest: Entry  # the fastest entry at rank 1 (ties are measured from it)
    runner_up_gap: float | None  # fastest at rank 1 minus the best entry below it

    @property
    def fastest_is_first(self) -> bool:
        return self.fastest.submission_id == self.first.submission_id


def headline(entries: Sequence[Entry]) -> Headline | None:
    if not entries:
        return None
    top = [e for e in entries if e.rank == 1]
    fastest = next(e for e in top if e.fastest)
    below = entries[len(top)] if len(entries) > len(top) else None
    gap = (fastest.tps - below.tps) if below is not None and below.tps_set == fastest.tps_set \
        else None
    return Headline(first=top[0], shared=len(top), low=min(e.tps for e in top),
                    high=max(e.tps for e in top), margin=fastest.margin, fastest=fastest,
                    runner_up_gap=gap)


def _status(state: SubmissionState, here: Sequence[RunView]) -> str:
    if state.state != "active":
        return state.state
    if not here:
        return "pending"
    if any(r.status == "verified" for r in here):
        return "verified"
    return here[0].status  # newest first: what the latest run said


def _lineage(s: SubmissionView, subs: Mapping[str, SubmissionView]) -> None:
    pid = s.parent_id
    if pid is None:
        return
    parent = subs.get(pid)
    if parent is None:
        s.parent_note = f"its parent {pid} has no valid submission file"
        s.change_note = "parent not found"
        s.diff_note = "parent not found"
        return
    parent.children.append(s.id)
    if s.config is not None and parent.config is not None:
        s.diff = config_diff(parent.config, s.config)
    else:
        s.diff_note = "no configuration to compare"
    if s.entry is None:
        s.change_note = None  # nothing of its own to compare
    elif parent.entry is None:
        s.change_note = {"withdrawn": "parent withdrawn", "disqualified": "parent disqualified",
                         }.get(parent.status, "parent has no verified run")
    elif parent.entry.tps_set != s.entry.tps_set:
        s.change_note = "measured on different prompt sets"
    else:
        s.change = s.entry.tps / parent.entry.tps - 1.0


def _tree(subs: dict[str, SubmissionView]) -> list[SubmissionView]:
    """Pre-order: roots (no parent, or a parent that is missing) first, each node followed by
    its children, oldest first. Iterative, so that long lineages cannot hit a recursion limit;
    a node is visited once, so a cycle in hand-edited data cannot loop."""
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

    def order(sid: str) -> tuple[dt.datetime, str]:
        s = subs[sid]
        return (s.first_at or far, sid)

    roots = sorted((sid for sid, s in subs.items()
                    if s.parent_id is None or s.parent_id not in subs), key=order)
    out: list[SubmissionView] = []
    seen: set[str] = set()

    def walk(start: str) -> None:
        stack = [(start, 0)]
        while stack:
            sid, depth = stack.pop()
            if sid in seen:
                continue
            seen.add(sid)
            s = subs[sid]
            s.depth = depth
            out.append(s)
            for child in sorted(s.children, key=order, reverse=True):
                stack.append((child, depth + 1))

    for r in roots:
        walk(r)
    # Whatever is left sits on a cycle of parents: show it at the top level, say why.
    for sid in sorted(set(subs) - seen, key=order):
        subs[sid].parent_note = "its lineage loops back on itself"
        walk(sid)
    return out


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):  # configurations are plain JSON/YAML data
        for k in value:  # an empty mapping has no settings to compare
            _flatten(value[k], f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ConfigChange]:
    """What changed from `old` to `new`, one line per leaf setting (dotted paths)."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old, "", a)
    _flatten(new, "", b)
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in a:
            out.append(ConfigChange(path, "added", None, compact(b[path])))
        elif path not in b:
            out.append(ConfigChange(path, "removed", compact(a[path]), None))
        elif a[path] != b[path] or type(a[path]) is not type(b[path]):
            out.append(ConfigChange(path, "changed", compact(a[path]), compact(b[path])))
    return out
