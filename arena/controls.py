"""Control runs: the reference submission re-measured every day on each track, and what a
control outside its tolerance means for the results measured on the same runner.

A control is a result document like any other (arena.result), measured through the same bench
workflow (dispatched by .github/workflows/control.yml with `pr` 0, so its run title reads
`bench #0 ...`), with `provenance.control: true`. It is stored apart from the ranked results:

    controls/<track>/<run-id>.json     one control run (a track is a hardware label)
    drift/<id>.json                    a maintainer's clear record (DRIFT_SCHEMA)

The rule, per track (pure, recomputed on every build; nothing is rewritten):
- the reference is the median scored TPS of the first `baseline_runs` verified controls since
  the track's last clear;
- a later verified control whose TPS is off the reference by more than `tolerance` (relative)
  marks its runner as drifted; a runner is its fingerprint's accelerator, driver and CUDA on
  that track (tracks share no runner);
- every result of that track measured on that runner after its last control within tolerance
  (every one, if it never had one) is flagged, not removed, until a maintainer clears the
  track (`arena controls clear`). A clear accepts the runners as they are now: the controls
  after it set a new reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jsonschema

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.result import Result, as_result, result_errors, write_json_atomic
from arena.text import for_terminal

FORMAT = "arena.controls/1"
DRIFT_SCHEMA_VERSION = 1
TRACK_RE = r"^[a-z0-9][a-z0-9-]{0,31}$"
DRIFT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "arena control drift clear",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "id", "track", "action", "reason", "by", "at"],
    "properties": {
        "schema_version": {"const": DRIFT_SCHEMA_VERSION},
        "id": {"type": "string", "pattern": r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"},
        "track": {"type": "string", "pattern": TRACK_RE},
        "action": {"enum": ["clear"]},
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        "by": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$"},
        "at": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"},
    },
}
_DRIFT_VALIDATOR = jsonschema.Draft202012Validator(DRIFT_SCHEMA)


# Each reader takes a result typed (arena.result.Result) or its validated document.

def is_control(result: Any) -> bool:
    return as_result(result).provenance.control


def runner_of(result: Any) -> tuple[str, str, str]:
    """What identifies a runner within a track: the GPU, its driver and CUDA."""
    fp = as_result(result).fingerprint
    return (str(fp.accelerator or "?"), str(fp.driver or "?"), str(fp.cuda or "?"))


def runner_text(key: Sequence[str]) -> str:
    return f"{key[0]}, driver {key[1]}, CUDA {key[2]}"


def track_of(result: Any) -> str:
    return as_result(result).challenge.hardware


@dataclass
class Point:
    run_id: str
    finished_at: str
    tps: float | None
    verdict: str
    runner: tuple[str, str, str]
    state: str  # baseline | ok | drift | failed | before-clear


@dataclass
class Drift:
    track: str
    runner: tuple[str, str, str]
    since: str | None  # flag results finished after this (None: all of this runner's)
    control_run_id: str
    detected_at: str
    tps: float
    reference: float

    @property
    def deviation(self) -> float:
        return (self.tps - self.reference) / self.reference

    def message(self) -> str:
        return (f"measured on a runner whose control drifted: {self.tps:.1f} tok/s against a "
                f"reference of {self.reference:.1f} ({self.deviation * 100:+.1f}%) on "
                f"{self.detected_at[:10]} ({runner_text(self.runner)}); flagged until a "
                "maintainer clears it")


@dataclass
class Track:
    track: str
    tolerance: float
    reference: float | None = None
    points: list[Point] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    cleared_at: str | None = None
    cleared_by: str | None = None


def analyse(controls: Iterable[Any], clears: Iterable[Mapping[str, Any]], *,
            tolerance: float, baseline_runs: int = 3) -> dict[str, Track]:
    """Each track's control series, its reference and its drifted runners (pure)."""
    by_track: dict[str, list[Result]] = {}
    for r in map(as_result, controls):
        by_track.setdefault(track_of(r), []).append(r)
    last_clear: dict[str, Mapping[str, Any]] = {}
    for rec in sorted(clears, key=lambda r: (r["at"], r["id"])):
        last_clear[rec["track"]] = rec
    out: dict[str, Track] = {}
    for track, docs in sorted(by_track.items()):
        t = Track(track, tolerance)
        clear = last_clear.get(track)
        if clear:
            t.cleared_at, t.cleared_by = clear["at"], clear["by"]
        accepted: list[float] = []
        last_good: dict[tuple[str, str, str], str] = {}
        drifted: dict[tuple[str, str, str], Drift] = {}
        for r in sorted(docs, key=lambda d: (d.finished_at, d.run_id)):
            key = runner_of(r)
            tps = r.score_tps if r.verdict == "verified" else None
            p = Point(r.run_id, r.finished_at, tps, r.verdict, key, "ok")
            t.points.append(p)
            if t.cleared_at and r.finished_at <= t.cleared_at:
                p.state = "before-clear"
                continue
            if tps is None:
                p.state = "failed"
                continue
            ref = t.reference
            if ref is not None and abs(tps - ref) / ref > tolerance:
                p.state = "drift"
                if key not in drifted:
                    drifted[key] = Drift(track, key, last_good.get(key), r.run_id,
                                         r.finished_at, tps, ref)
            elif key in drifted:
                p.state = "drift"  # back in tolerance, but drifted until a clear
            elif len(accepted) < baseline_runs:
                accepted.append(tps)
                p.state = "baseline"
                t.reference = statistics.median(accepted)
                last_good[key] = r.finished_at
            else:
                last_good[key] = r.finished_at
        t.drifts = sorted(drifted.values(), key=lambda d: d.detected_at)
        out[track] = t
    return out


def flagged(results: Iterable[Any], tracks: Mapping[str, Track]) -> dict[str, Drift]:
    """Results measured on a drifted runner since its last good control, by run id."""
    out: dict[str, Drift] = {}
    for r in map(as_result, results):
        if is_control(r):
            continue
        t = tracks.get(track_of(r))
        if not t:
            continue
        for d in t.drifts:
            if runner_of(r) == d.runner and (d.since is None or r.finished_at > d.since):
                out[r.run_id] = d
                break
    return out


# -- the store ------------------------------------------------------------------------------

def control_relpath(track: str, run_id: str) -> str:
    return f"controls/{track}/{run_id}.json"


def load_controls(root: Path) -> list[dict[str, Any]]:
    out = []
    for f in sorted((Path(root) / "controls").glob("*/*.json")):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and not result_errors(doc) and is_control(doc) \
                and track_of(doc) == f.parent.name:
            out.append(doc)
    return out


def load_clears(root: Path) -> list[dict[str, Any]]:
    out = []
    for f in sorted((Path(root) / "drift").glob("*.json")):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not list(_DRIFT_VALIDATOR.iter_errors(doc)):
            out.append(doc)
    return out


def new_clear_record(*, track: str, by: str, reason: str,
                     at: dt.datetime | None = None) -> dict[str, Any]:
    when = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    rec = {"schema_version": DRIFT_SCHEMA_VERSION,
           "id": f"{when.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}", "track": track,
           "action": "clear", "reason": reason, "by": by,
           "at": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    errors = [e.message for e in _DRIFT_VALIDATOR.iter_errors(rec)]
    if errors:
        raise ValueError("; ".join(errors))
    return rec


def status_doc(challenge: Any, root: Path) -> dict[str, Any]:
    """`arena controls status --json`: every track's series, drifts and flagged runs."""
    from arena.store import ResultsStore

    ctl = challenge.controls
    tol = ctl.tolerance if ctl else 0.03
    tracks = analyse(load_controls(root), load_clears(root), tolerance=tol,
                     baseline_runs=ctl.baseline_runs if ctl else 3)
    flags = flagged([r.result for r in ResultsStore(root).results()], tracks)
    return {
        "format": FORMAT,
        "submission": ctl.submission if ctl else None,
        "tolerance": tol,
        "tracks": [{
            "track": t.track, "reference_tps": t.reference, "cleared_at": t.cleared_at,
            "points": [{"run_id": p.run_id, "finished_at": p.finished_at, "tps": p.tps,
                        "verdict": p.verdict, "runner": runner_text(p.runner),
                        "state": p.state} for p in t.points],
            "drifts": [{"runner": runner_text(d.runner), "since": d.since,
                        "control_run_id": d.control_run_id, "detected_at": d.detected_at,
                        "tps": d.tps, "reference_tps": d.reference,
                        "deviation": round(d.deviation, 4)} for d in t.drifts],
        } for t in tracks.values()],
        "flagged_runs": sorted(flags),
    }


# -- command line -----------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("controls", help="control runs: drift status, and clearing a track",
                       description="Control runs re-measure the reference submission on each "
                                   "track; see docs/runner.md, 'Control runs'.")
    csub = p.add_subparsers(dest="controls_command", metavar="SUBCOMMAND")
    st = csub.add_parser("status", help="each track's control series, drifted runners and "
                                        "flagged runs")
    st.add_argument("--store", type=Path, default=Path(".arena/results-store"),
                    help="a checkout of the results branch")
    add_challenge_option(st)
    st.add_argument("--json", action="store_true", help=f"one JSON document ({FORMAT})")
    st.set_defaults(func=cmd_status)
    cl = csub.add_parser("clear", help="maintainers: accept a track's runners as they are now")
    cl.add_argument("--store", type=Path, required=True, help="a checkout of the results branch")
    cl.add_argument("--track", required=True, help="the hardware label, e.g. a10g")
    cl.add_argument("--by", required=True, help="your GitHub login")
    cl.add_argument("--reason", required=True, help="why (the runner was fixed, a new driver "
                                                    "is accepted, ...)")
    cl.set_defaults(func=cmd_clear)
    p.set_defaults(func=lambda args: (p.print_help(), exitcodes.USAGE)[1])


def cmd_status(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit

    doc = status_doc(load_challenge_or_exit(args.challenge), args.store)
    if args.json:
        print(json.dumps(doc, indent=2))
        return exitcodes.OK
    if not doc["tracks"]:
        print("no control runs recorded")
    for t in doc["tracks"]:
        ref = t["reference_tps"]
        print(f"{t['track']}: {len(t['points'])} controls, reference "
              f"{'-' if ref is None else f'{ref:.1f}'} tok/s, tolerance "
              f"{doc['tolerance'] * 100:g}%")
        for d in t["drifts"]:
            print(f"  DRIFTED {for_terminal(d['runner'])}: {d['tps']:.1f} tok/s on "
                  f"{d['detected_at']} ({d['deviation'] * 100:+.1f}%)")
    print(f"{len(doc['flagged_runs'])} run(s) flagged")
    return exitcodes.OK


def cmd_clear(args: argparse.Namespace) -> int:
    try:
        rec = new_clear_record(track=args.track, by=args.by, reason=args.reason)
    except ValueError as exc:
        print(f"arena controls clear: {for_terminal(str(exc), 300)}", file=sys.stderr)
        return exitcodes.USAGE
    path = Path(args.store) / "drift" / f"{rec['id']}.json"
    write_json_atomic(path, rec)
    print(f"wrote {path} (commit it to the results branch)")
    return exitcodes.OK
