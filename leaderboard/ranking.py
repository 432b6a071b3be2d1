"""The canonical ranking: the one function the bot, the site and the JSON API all call.

Rules:
- A run's effective status is its runner verdict, then maintainers' verdict records applied in
  time order (human verdicts win). A submission can also be withdrawn (by its author) or
  disqualified (by a maintainer); a submission-level reinstate lifts the latest withdraw,
  disqualify or invalidate still in force, and only that one (undoing a withdrawal never lifts
  an invalidation).
- Only verified runs of active submissions on the challenge's hardware label are ranked (other
  hardware never mixes; a run counts as on the hardware when both its challenge block and its
  fingerprint name that label).
- The score is the median TPS on the private prompt set. A run measured on the public set only is
  scored on it, but such a number is not comparable with a private one (public prompts can be
  fitted, and the public/private gap check could not run), so within a submission a
  private-scored run always beats a public-only one, and public-only entries rank below every
  private-scored entry.
- Per submission, its best verified run counts (highest scored TPS; at equal TPS the earlier;
  at equal times the lower run id, so the input's order never matters).
- Ties rest on run-to-run noise (`TieRule`): two entries share a rank when the gap between their
  scores is smaller than t * sigma * sqrt(2), the gap two runs of one configuration exceed only
  with probability 1 - confidence (a two-sided test on the difference of two single runs, each
  with noise sigma). sigma is the challenge's calibrated figure (challenge.yaml, `ranking.noise`)
  or, when that is larger, the calibration pooled with the board's own repeated runs of one
  configuration (same config SHA-256 measured more than once), weighted by degrees of freedom;
  t is Student's quantile at the degrees of freedom of the figure used. The board widens ties,
  never narrows them (a quiet configuration can be chosen and re-run to narrow them around a
  rival). A configuration's spread counts at most `unstable_factor` calibrated sigmas, and
  runs whose own passes scatter more than that (`is_unstable`) are left out of the pool, so
  no one can blow the ties open by submitting noise. The spread of one run's passes (its
  confidence interval) is not run-to-run noise and plays no part.
- Ties are measured against the fastest entry of each group, so they cannot chain down the
  table. Within a tie the earlier submission is listed first: the one whose ranked
  configuration (same config SHA-256) was first run on this hardware.
- A run whose scored TPS is not a finite number is never ranked.

Everything here is pure: lists of results and verdict records in, values out. A result is read
typed (arena.result.Result); a validated result document is accepted too, and read as one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from arena.challenge import Noise
from arena.result import Result, as_result
from arena.stats import TIE, TieRule, tie_rule_from_noise

RANKED = "verified"
SUBMISSION_STATES = ("active", "withdrawn", "disqualified")
# Lower sorts first: a private-scored entry ranks ahead of any public-only one.
SET_PRIORITY = {"private": 0, "public": 1}


@dataclass(frozen=True)
class RunStatus:
    """A run's status after maintainers' verdicts, with the reasons that led there."""

    status: str  # verified | invalid | error
    reasons: tuple[str, ...]
    overridden_by: str | None = None  # login of the maintainer whose record decided it


@dataclass(frozen=True)
class SubmissionState:
    state: str  # active | withdrawn | disqualified
    reason: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class Entry:
    rank: int
    submission_id: str
    author: str
    name: str
    tps: float
    tps_set: str
    stdev: float
    ci95: tuple[float, float]
    public_tps: float | None
    private_tps: float | None
    ppl: float | None
    run_id: str
    started_at: str
    first_run_at: str
    tied: bool
    # The run it ranks on, as it was given: a Result (what the site and the bot pass), or the
    # document when documents were ranked.
    result: Any = field(repr=False, compare=False)
    margin: float = 0.0  # the tie margin of its group: a gap to the group's fastest below it ties
    fastest: bool = True  # the fastest entry of its tie group (the one ties are measured from)
    group_size: int = 1  # entries sharing its rank
    group_index: int = 0  # its place within them: 0 is listed first (the earliest configuration)
    unstable: bool = False  # its run's passes scatter more than the calibrated noise allows


@dataclass(frozen=True)
class Record:
    """A run that set a new best verified TPS when it ran (see `records`)."""

    submission_id: str
    run_id: str
    started_at: str
    tps: float
    tps_set: str
    previous_tps: float | None
    previous_submission_id: str | None


def instant(ts: str) -> dt.datetime:
    """An ISO 8601 time as an aware UTC datetime, so that '...Z' and '...+02:00' compare
    correctly. A time that does not parse sorts first (records must never be dropped)."""
    try:
        t = dt.datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


ResultLike = Any  # a Result, or a validated result document (read as one: `as_result`)


def _record_key(rec: Mapping[str, Any]) -> tuple[dt.datetime, str]:
    return instant(rec["at"]), rec["id"]


def verdicts_by_submission(
        verdicts: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Verdict records grouped by submission, oldest first: lets callers that look at many runs
    pass each run only its own submission's records."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for rec in sorted(verdicts, key=_record_key):
        out.setdefault(rec["submission"], []).append(rec)
    return out


def _applies(record: Mapping[str, Any], submission_id: str, run_id: str | None) -> bool:
    return record["submission"] == submission_id and (
        record["run_id"] is None or record["run_id"] == run_id)


def _runner_reasons(result: Result) -> tuple[str, ...]:
    return tuple(r.message for r in result.reasons)


HOLDS = ("withdraw", "disqualify", "invalidate")


def submission_holds(submission_id: str, verdicts: Iterable[Mapping[str, Any]]
                     ) -> tuple[list[Mapping[str, Any]], dict[str, str]]:
    """The submission-wide withdraw/disqualify/invalidate records still in force (oldest first),
    and, per submission-wide reinstate record id, the action it lifted.

    A submission-wide reinstate lifts the latest hold still in force, and only that one:
    undoing a withdrawal never lifts a maintainer's invalidation. The same action again
    replaces its earlier record (one hold per kind)."""
    held: list[Mapping[str, Any]] = []
    lifted: dict[str, str] = {}
    for rec in sorted(verdicts, key=_record_key):
        if rec["submission"] != submission_id or rec["run_id"] is not None:
            continue
        if rec["action"] in HOLDS:
            held = [h for h in held if h["action"] != rec["action"]] + [rec]
        elif rec["action"] == "reinstate" and held:
            lifted[rec["id"]] = held.pop()["action"]
    return held, lifted


def run_status(result: ResultLike, verdicts: Iterable[Mapping[str, Any]]) -> RunStatus:
    """Apply maintainers' invalidate/reinstate records (oldest first) to one run.

    A record naming no run applies to every run of the submission, also to runs made after it:
    an invalidated submission stays invalid until a maintainer reinstates it. A submission-wide
    reinstate acts on the runs only when it lifted an invalidation (see submission_holds)."""
    return _run_status(as_result(result), verdicts)


def _run_status(result: Result, verdicts: Iterable[Mapping[str, Any]]) -> RunStatus:
    base = result.verdict
    status = base
    reasons = _runner_reasons(result)
    by = None
    sid, rid = result.submission.id, result.run_id
    verdicts = list(verdicts)
    _, lifted = submission_holds(sid, verdicts)
    for rec in sorted(verdicts, key=_record_key):
        if not _applies(rec, sid, rid) or rec["action"] not in ("invalidate", "reinstate"):
            continue
        if rec["action"] == "invalidate":
            status, reasons, by = "invalid", (f"maintainer: {rec['reason']}",), rec["by"]
        elif rec["run_id"] is not None and _scored(result) is not None:
            # A maintainer reinstating one measured run judges it valid.
            status, reasons, by = "verified", (f"reinstated: {rec['reason']}",), rec["by"]
        elif rec["run_id"] is not None or lifted.get(rec["id"]) == "invalidate":
            # A run-level reinstate of an unmeasured run, or a submission-wide one that lifted
            # the invalidation: back to the runner's word.
            status, reasons, by = base, _runner_reasons(result), rec["by"]
    return RunStatus(status, reasons, by)


def submission_state(submission_id: str,
                     verdicts: Iterable[Mapping[str, Any]]) -> SubmissionState:
    """Withdrawn, disqualified or active, from the holds still in force (submission_holds):
    disqualified wins over withdrawn."""
    held, _ = submission_holds(submission_id, verdicts)
    for action, state in (("disqualify", "disqualified"), ("withdraw", "withdrawn")):
        recs = [h for h in held if h["action"] == action]
        if recs:
            return SubmissionState(state, recs[-1]["reason"], recs[-1]["by"])
    return SubmissionState("active")


def on_hardware(result: ResultLike, hardware: str) -> bool:
    """The run was made for this hardware label and on a machine carrying it."""
    return _on_hardware(as_result(result), hardware)


def _on_hardware(result: Result, hardware: str) -> bool:
    return (result.challenge.hardware == hardware
            and result.fingerprint.hardware == hardware)


def on_track(result: ResultLike, hardware: str, track: str | None = None,
             default_track: str | None = None) -> bool:
    """The run was made for this track: on its hardware label, and its `challenge.track`
    names it (a run without one belongs to `default_track`, the challenge's first). Without
    `track`, the hardware label alone decides, as for a one-track challenge."""
    return _on_track(as_result(result), hardware, track, default_track)


def _on_track(result: Result, hardware: str, track: str | None,
              default_track: str | None) -> bool:
    if not _on_hardware(result, hardware):
        return False
    if track is None:
        return True
    return (result.challenge.track or default_track) == track


def board_filter(challenge: Any, track: str | None = None) -> dict[str, Any]:
    """The keyword arguments that put `rank`, `tie_rule` and `records` on one track of a
    challenge (None: its first): its runner label, the challenge id, the track and the
    challenge's first track (where runs without a track belong). Its noise is
    `challenge.track(track).noise`."""
    t = challenge.track(track)
    return {"hardware": t.runner_label, "challenge_id": challenge.id, "track": t.name,
            "default_track": challenge.tracks[0].name}


def scored_tps(result: ResultLike) -> float | None:
    """The TPS a run is ranked on (median of its scored set), or None when it has none or it is
    not a finite number."""
    return _scored(as_result(result))


def _scored(result: Result) -> float | None:
    v = result.score_tps
    return v if v is not None and math.isfinite(v) else None


def _score_key(result: Result) -> tuple[int, float] | None:
    """(set priority, TPS): the lower priority number wins, then the higher TPS."""
    tps = _scored(result)
    if tps is None:
        return None
    return SET_PRIORITY[result.score_set], tps  # type: ignore[index]


def _beats(a: tuple[int, float], a_when: dt.datetime, a_id: str,
           b: tuple[int, float], b_when: dt.datetime, b_id: str) -> bool:
    """Better set, then higher TPS, then earlier; the id settles exact ties, so that the
    outcome never depends on the order the files were read in."""
    if a[0] != b[0]:
        return a[0] < b[0]
    if a[1] != b[1]:
        return a[1] > b[1]
    if a_when != b_when:
        return a_when < b_when
    return a_id < b_id


def _median(result: Result, s: str) -> float | None:
    t = result.tps.get(s)
    return None if t is None else t.median


def _config_key(result: Result) -> tuple[str, str]:
    return result.submission.id, result.submission.config_sha256


def _rankable_runs(results: Iterable[ResultLike], verdicts: Iterable[Mapping[str, Any]],
                   hardware: str, challenge_id: str | None, track: str | None = None,
                   default_track: str | None = None,
                   ) -> tuple[list[Result], list[Result]]:
    """(runs on this hardware and track, the subset that may be ranked: verified and active)."""
    by_sub = verdicts_by_submission(verdicts)
    here = [r for r in map(as_result, results) if _on_track(r, hardware, track, default_track)
            and (challenge_id is None or r.challenge.id == challenge_id)]
    states: dict[str, SubmissionState] = {}
    rankable = []
    for r in here:
        sid = r.submission.id
        recs = by_sub.get(sid, ())
        if sid not in states:
            states[sid] = submission_state(sid, recs)
        if states[sid].state != "active":
            continue
        if _run_status(r, recs).status != RANKED or _score_key(r) is None:
            continue
        rankable.append(r)
    return here, rankable


def is_unstable(result: ResultLike, noise: Noise) -> bool:
    """The run's passes on its scored set scatter more than `noise.unstable_factor` calibrated
    run-to-run sigmas: its number is shown, flagged, and kept out of the board's noise estimate."""
    return _unstable(as_result(result), noise)


def _unstable(result: Result, noise: Noise) -> bool:
    s = result.score_set
    tps = _scored(result)
    if s is None or tps is None:
        return False
    sd = result.tps[s].stdev
    if not math.isfinite(sd):
        return False
    return sd > noise.unstable_factor * noise.sigma_at(tps)


def _tie_rule(rankable: Sequence[Result], noise: Noise) -> TieRule:
    """The calibrated noise pooled with the spread of repeated runs of one configuration (the
    same config SHA-256 and scored set, verified, more than once) on this board."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rankable:
        if _unstable(r, noise):
            continue
        tps = _scored(r)
        assert tps is not None
        groups.setdefault((r.submission.config_sha256, r.score_set or ""), []).append(tps)
    return tie_rule_from_noise(noise, groups.values())


@dataclass(frozen=True)
class Board:
    """One board's runs, read once: the runs on its hardware and track (`here`), the subset
    that may be ranked (verified, active) and the tie rule they give. `rank` and `tie_rule`
    each make one; a caller that wants several figures of a board (the site's model: both
    rankings, the rule, the records) makes it once with `board_of` and reads it with `ranked`,
    `.rule` and `records_of`."""

    here: list[Result]
    rankable: list[Result]
    rule: TieRule
    noise: Noise
    typed: bool = True  # it was given Results (else documents: its entries carry those)


def board_of(
    results: Iterable[ResultLike],
    verdicts: Iterable[Mapping[str, Any]],
    *,
    hardware: str,
    noise: Noise,
    challenge_id: str | None = None,
    track: str | None = None,
    default_track: str | None = None,
) -> Board:
    """The board these results make (see `Board`)."""
    results = list(results)
    here, rankable = _rankable_runs(results, verdicts, hardware, challenge_id, track,
                                    default_track)
    return Board(here, rankable, _tie_rule(rankable, noise), noise,
                 typed=all(isinstance(r, Result) for r in results))


def tie_rule(results: Iterable[ResultLike], verdicts: Iterable[Mapping[str, Any]],
             **board: Any) -> TieRule:
    """The tie rule `rank` applies to these results (to describe it). The keywords are
    `board_of`'s: hardware, noise, and optionally challenge_id, track, default_track."""
    return board_of(results, verdicts, **board).rule


def rank(
    results: Iterable[ResultLike],
    verdicts: Iterable[Mapping[str, Any]],
    *,
    hardware: str,
    noise: Noise,
    by_author: bool = False,
    challenge_id: str | None = None,
    track: str | None = None,
    default_track: str | None = None,
) -> list[Entry]:
    """The leaderboard: one entry per submission (or per author), best first, ties shared.

    `noise` is the challenge's calibration (`Challenge.noise`, or its track's); `challenge_id`,
    when given, also keeps out results recorded for another challenge; `track` (with
    `default_track`, see `on_track` and `board_filter`) keeps the board to one track."""
    return ranked(board_of(results, verdicts, hardware=hardware, noise=noise,
                           challenge_id=challenge_id, track=track, default_track=default_track),
                  by_author=by_author)


def ranked(b: Board, *, by_author: bool = False) -> list[Entry]:
    """`rank` of a board made already."""
    here, rankable, rule, noise = b.here, b.rankable, b.rule, b.noise
    first_seen: dict[tuple[str, str], tuple[dt.datetime, str]] = {}
    for r in here:
        key, t = _config_key(r), instant(r.started_at)
        if key not in first_seen or t < first_seen[key][0]:
            first_seen[key] = (t, r.started_at)

    best: dict[str, tuple[Result, tuple[int, float], dt.datetime]] = {}
    for r in rankable:
        sid = r.submission.id
        score, when = _score_key(r), instant(r.started_at)
        assert score is not None
        cur = best.get(sid)
        if cur is None or _beats(score, when, r.run_id, cur[1], cur[2], cur[0].run_id):
            best[sid] = (r, score, when)

    candidates = []
    for sid, (r, score, _) in best.items():
        s = r.score_set
        assert s is not None
        author, name = sid.split("/", 1)
        ppl_sets = r.ppl.sets
        ppl = ppl_sets.get(s, next(iter(ppl_sets.values()), None)) if ppl_sets else None
        first_at, first_text = first_seen[_config_key(r)]
        candidates.append(dict(
            submission_id=sid, author=author, name=name, tps=score[1],
            tps_set=s, stdev=r.tps[s].stdev, ci95=r.tps[s].ci95,
            public_tps=_median(r, "public"), private_tps=_median(r, "private"),
            ppl=None if ppl is None else ppl.value, run_id=r.run_id,
            started_at=r.started_at, first_run_at=first_text, result=r if b.typed else r.doc,
            unstable=_unstable(r, noise), _priority=score[0], _first=first_at))

    if by_author:
        per_author: dict[str, dict[str, Any]] = {}
        for c in candidates:
            cur = per_author.get(c["author"])
            if cur is None or _beats((c["_priority"], c["tps"]), c["_first"], c["submission_id"],
                                     (cur["_priority"], cur["tps"]), cur["_first"],
                                     cur["submission_id"]):
                per_author[c["author"]] = c
        candidates = list(per_author.values())

    candidates.sort(key=lambda c: (c["_priority"], -c["tps"], c["_first"], c["submission_id"]))
    groups: list[list[dict[str, Any]]] = []
    for c in candidates:
        # Measured against the group's first (fastest) entry, so ties never chain downwards;
        # a private and a public-only number are not comparable.
        lead = groups[-1][0] if groups else None
        if (lead is not None and lead["_priority"] == c["_priority"]
                and rule.compare(c["tps"], lead["tps"]) == TIE):
            groups[-1].append(c)
        else:
            groups.append([c])
    out: list[Entry] = []
    for g in groups:
        fastest = g[0]["submission_id"]
        margin = rule.margin(g[0]["tps"])
        g.sort(key=lambda c: (c["_first"], -c["tps"], c["submission_id"]))
        r = len(out) + 1
        for i, c in enumerate(g):
            del c["_priority"], c["_first"]
            out.append(Entry(rank=r, tied=len(g) > 1, margin=margin,
                             fastest=c["submission_id"] == fastest, group_size=len(g),
                             group_index=i, **c))
    return out


def pareto_front(entries: Sequence[Entry]) -> list[Entry]:
    """The entries no other entry beats on both TPS (higher) and perplexity (lower), fastest
    first. Only entries scored on the same prompt set as the leader take part; entries without
    a perplexity cannot be placed."""
    if not entries:
        return []
    lead_set = entries[0].tps_set
    pts = [e for e in entries if e.tps_set == lead_set and e.ppl is not None]
    # Lowest PPL first (then highest TPS); an entry is on the front when it is faster than every
    # entry with a lower or equal perplexity.
    pts.sort(key=lambda e: (e.ppl, -e.tps, e.submission_id))
    front: list[Entry] = []
    best_tps = -math.inf
    for e in pts:
        if e.tps > best_tps:
            front.append(e)
            best_tps = e.tps
    front.sort(key=lambda e: -e.tps)
    return front


def records(
    results: Iterable[ResultLike],
    verdicts: Iterable[Mapping[str, Any]],
    *,
    hardware: str,
    challenge_id: str | None = None,
    track: str | None = None,
    default_track: str | None = None,
) -> list[Record]:
    """Every run that, when it started, beat the best verified TPS before it, oldest first.

    Computed from today's verdicts: a run invalidated later was never a record, and the runs it
    overshadowed may become records again. Only the leader's prompt set counts (private when
    any ranked run measured it), so a public-only number never reads as a record."""
    _, rankable = _rankable_runs(results, verdicts, hardware, challenge_id, track, default_track)
    return records_of(rankable)


def records_of(rankable: Sequence[Result]) -> list[Record]:
    """`records` of a board's rankable runs (`Board.rankable`)."""
    if not rankable:
        return []
    lead_set = "private" if any(r.score_set == "private" for r in rankable) else "public"
    runs = [r for r in rankable if r.score_set == lead_set]
    runs.sort(key=lambda r: (instant(r.started_at), r.run_id))
    out: list[Record] = []
    for r in runs:
        tps = _scored(r)
        assert tps is not None
        prev = out[-1] if out else None
        if prev is None or tps > prev.tps:
            out.append(Record(r.submission.id, r.run_id, r.started_at, tps, lead_set,
                              prev.tps if prev else None,
                              prev.submission_id if prev else None))
    return out
