"""The site's JSON API: four documents for agents and scripts, each with a `format` key and a
published JSON Schema (the site serves both; the tests check every document against its schema).

    api/leaderboard.json   the ranking (and the per-author view, the front, the records)
    api/submissions.json   every submission: status, lineage, configuration, its runs' ids
    api/runs.json          every run: effective status with reasons, TPS, PPL, checks
    api/tried.json         every configuration with its outcome (the Tried pages)

Each submission in api/submissions.json carries `compared`: its ranked run against its parent's
and the leader's (leaderboard.compare; the verdict is the ranking's tie rule). The ranking's
entries do not repeat it (it would double the ranking document's size at 10,000 entries).

A format's number changes only when a field changes meaning or goes away; new fields may be
added within a version. Paths in the documents are relative to the site's root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable, Mapping

from arena.result import as_result
from leaderboard.compare import comparisons_json
from leaderboard.model import SiteModel, SubmissionView, RunView
from leaderboard.ranking import Entry

LEADERBOARD_FORMAT = "arena.leaderboard/1"
SUBMISSIONS_FORMAT = "arena.submissions/1"
RUNS_FORMAT = "arena.runs/1"

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,39}/[a-z0-9][a-z0-9-]{0,62}$",
       "description": "Submission id: <github-login>/<name>."}
_TIME = {"type": "string", "description": "ISO 8601 time, as the run recorded it."}
_NUM_OR_NULL = {"type": ["number", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}
_STATUS = {"enum": ["verified", "invalid", "error", "pending", "withdrawn", "disqualified"],
           "description": "verified: has a verified run; invalid/error: its latest run ended so "
                          "and none is verified; pending: no run yet; withdrawn by its author or "
                          "disqualified by a maintainer."}
_RUN_STATUS = {"enum": ["verified", "invalid", "error"],
               "description": "After maintainers' verdicts (which win over the runner's)."}


def _obj(required: list[str], props: dict[str, Any], desc: str = "") -> dict[str, Any]:
    out = {"type": "object", "required": required, "properties": props}
    if desc:
        out["description"] = desc
    return out


def _doc_schema(fmt: str, title: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "required": ["format", "generated_at", "challenge", *body],
        "properties": {
            "format": {"const": fmt, "description": "Names this document's shape and version."},
            "generated_at": {"type": "string", "description": "When the site was built (UTC)."},
            "challenge": _CHALLENGE,
            **body,
        },
    }


_TIES = _obj(
    ["rule", "confidence", "relative", "sigma", "degrees_of_freedom", "quantile",
     "calibrated_sigma", "calibrated_degrees_of_freedom", "source", "board_sigma",
     "board_degrees_of_freedom", "board_configurations", "board_runs"],
    {"rule": {"type": "string", "description": "The rule in words, with its figures."},
     "confidence": {"type": "number", "description": "Two runs of one configuration tie this "
                                                     "often (two-sided)."},
     "relative": {"type": "boolean", "description": "Sigmas are fractions of the score, not "
                                                   "tokens/s."},
     "sigma": {"type": "number", "description": "Run-to-run noise the ties rest on: the "
                                                "calibrated figure pooled with the board's."},
     "degrees_of_freedom": {"type": "integer"},
     "quantile": {"type": "number", "description": "Student's t at the confidence: a gap under "
                                                   "quantile * sigma * sqrt(2) is a tie."},
     "calibrated_sigma": {"type": "number", "description": "challenge.yaml's figure."},
     "calibrated_degrees_of_freedom": {"type": "integer"},
     "source": {"type": "string", "description": "Where the calibrated figure comes from."},
     "board_sigma": {**_NUM_OR_NULL, "description": "Pooled from repeated verified runs of one "
                                                    "configuration (same config SHA-256)."},
     "board_degrees_of_freedom": {"type": "integer"},
     "board_configurations": {"type": "integer"},
     "board_runs": {"type": "integer"}},
    "When two scores tie (leaderboard.ranking.TieRule).")

_CHALLENGE = _obj(
    ["id", "title", "hardware", "ppl_reference", "ppl_cap", "tie_tps", "ties"],
    {"id": {"type": "string"}, "title": {"type": "string"},
     "hardware": {"type": "string", "description": "The hardware label runs are ranked on."},
     "base_model": _obj(["id", "revision"], {"id": {"type": "string"},
                                              "revision": {"type": "string"}}),
     "ppl_reference": {"type": "number"},
     "ppl_cap": {"type": "number", "description": "Highest perplexity a verified run may have."},
     "tie_tps": {"type": "number", "description": "The tie margin at the leader's score: "
                                                  "TPS gaps below it are ties there."},
     "ties": _TIES},
    "The challenge the ranking belongs to.")

_SIDE = _obj(["submission", "run_id", "tps", "ppl"], {
    "submission": _ID, "run_id": {"type": "string"}, "tps": _NUM_OR_NULL,
    "ppl": _NUM_OR_NULL}, "The run compared with: its submission, run, score and perplexity.")
_COMPARISON = _obj(
    ["against", "verdict", "note"],
    {"against": {"enum": ["parent", "leader", "runner-up", "other"],
                 "description": "What the baseline is: its parent's ranked run, the leader's "
                                "(the runner-up's when it is the leader itself)."},
     "baseline": _SIDE,
     "tps_set": {**_STR_OR_NULL, "description": "The set both are scored on; null when they "
                                                "are not comparable."},
     "diff_tps": {**_NUM_OR_NULL, "description": "Candidate's score minus the baseline's "
                                                 "(medians, tokens/s)."},
     "diff_pct": {**_NUM_OR_NULL, "description": "diff_tps as a fraction of the baseline."},
     "diff_ci95": {"type": ["array", "null"], "items": {"type": "number"},
                   "description": "95% interval of the difference of the two runs' mean pass "
                                  "TPS (Welch, from their passes): how precisely these two "
                                  "runs pin the gap down, blind to run-to-run drift. Decides "
                                  "nothing; the verdict does."},
     "diff_ppl": {**_NUM_OR_NULL, "description": "Candidate's perplexity minus the baseline's, "
                                                 "same set."},
     "verdict": {"enum": ["better", "worse", "tie", None],
                 "description": "The ranking's tie rule (TieRule.compare) on the two scores; "
                                "null when not comparable."},
     "tie_margin": _NUM_OR_NULL,
     "note": {**_STR_OR_NULL, "description": "Why there is no verdict or interval."},
     "paired": {"type": "boolean",
                "description": "The two were measured in one paired run (arena bench --vs): "
                               "diff_tps and diff_ci95 come from its pairs (the interval is "
                               "Student's t on the pair differences)."},
     "pairs": {"type": ["integer", "null"], "description": "How many pairs, when paired."},
     "how": {"type": "string", "description": "How the two were measured, in words "
                                              "(\"paired, 3 pairs\" or \"separate runs\")."},
     "unpaired_ci95": {"type": ["array", "null"], "items": {"type": "number"},
                       "description": "Paired: the same passes read as two separate runs "
                                      "(Welch), for comparison."}},
    "One run against another (leaderboard.compare).")
_COMPARED = {"type": "object", "additionalProperties": _COMPARISON,
             "description": "Its ranked run against its parent's (key parent) and against the "
                            "leader (key leader); empty when it is not ranked."}

_ENTRY = _obj(
    ["rank", "tied", "submission", "author", "name", "tps", "tps_set", "stdev", "ci95",
     "tie_margin", "fastest_of_tie", "unstable", "private_tps", "public_tps", "ppl", "run_id",
     "started_at", "first_run_at", "page"],
    {"rank": {"type": "integer", "minimum": 1,
              "description": "Shared by entries within the noise of the first of their group."},
     "tied": {"type": "boolean", "description": "Shares its rank with another entry."},
     "submission": _ID,
     "author": {"type": "string", "description": "GitHub login."},
     "name": {"type": "string", "description": "The submission's name."},
     "tps": {"type": "number", "description": "The score: median TPS of the scored set."},
     "tps_set": {"enum": ["private", "public"],
                 "description": "The set the score comes from: private when it was measured."},
     "stdev": {"type": "number", "description": "Standard deviation of the passes."},
     "ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
              "description": "95% confidence interval of the mean of its run's passes (not "
                             "used for ties)."},
     "tie_margin": {"type": "number", "description": "A gap to the fastest of its rank "
                                                     "below this is a tie."},
     "fastest_of_tie": {"type": "boolean", "description": "The fastest of the entries sharing "
                                                         "its rank (true when alone)."},
     "unstable": {"type": "boolean", "description": "Its run's passes scatter far more than "
                                                   "the run-to-run noise."},
     "private_tps": {**_NUM_OR_NULL, "description": "Median TPS on the private prompts."},
     "public_tps": {**_NUM_OR_NULL, "description": "Median TPS on the public prompts."},
     "ppl": {**_NUM_OR_NULL, "description": "Perplexity on the scored set."},
     "change_vs_parent": {**_NUM_OR_NULL,
                          "description": "TPS / parent's best verified TPS - 1; null when "
                                         "there is no comparable parent entry."},
     "parent": {**_STR_OR_NULL, "description": "The parent's submission id."},
     "on_pareto_front": {"type": "boolean"},
     "run_id": {"type": "string", "description": "The run that gives the entry its place."},
     "started_at": _TIME,
     "first_run_at": {**_TIME, "description": "When its configuration first ran here: the "
                                               "tie-break (earlier first)."},
     "pr": {"type": ["integer", "null"], "description": "Pull request of the ranked run."},
     "page": {"type": "string", "description": "The submission's page."},
     "result_path": {"type": "string", "description": "The run's file in the results store."}})

LEADERBOARD_SCHEMA = _doc_schema(LEADERBOARD_FORMAT, "arena leaderboard", {
    "entries": {"type": "array", "items": _ENTRY, "description": "The ranking, best first."},
    "by_author": {"type": "array", "items": _ENTRY,
                  "description": "Each author's best entry, ranked by the same rules."},
    "pareto_front": {"type": "array", "items": _ID,
                     "description": "Entries no other entry beats on both TPS and perplexity."},
    "records": {"type": "array", "description": "Runs that set a new best TPS, oldest first.",
                "items": _obj(["submission", "run_id", "started_at", "tps", "tps_set",
                               "previous_tps", "previous_submission"],
                              {"submission": _ID, "run_id": {"type": "string"},
                               "started_at": _TIME, "tps": {"type": "number"},
                               "tps_set": {"enum": ["private", "public"]},
                               "previous_tps": _NUM_OR_NULL,
                               "previous_submission": _STR_OR_NULL})},
})

SUBMISSIONS_SCHEMA = _doc_schema(SUBMISSIONS_FORMAT, "arena submissions", {
    "submissions": {"type": "array", "description": "Every submission, by id.", "items": _obj(
        ["id", "author", "name", "status", "state", "rank", "parent", "children", "runs", "page"],
        {"id": _ID, "author": {"type": "string"}, "name": {"type": "string"},
         "description": {**_STR_OR_NULL,
                         "description": "Untrusted text from the author: escape it."},
         "tags": {"type": "array", "items": {"type": "string"}},
         "status": _STATUS,
         "state": _obj(["state"], {"state": {"enum": ["active", "withdrawn", "disqualified"]},
                                   "reason": _STR_OR_NULL, "by": _STR_OR_NULL}),
         "reasons": {"type": "array", "items": {"type": "string"},
                     "description": "Why it is not ranked (untrusted text)."},
         "rank": {"type": ["integer", "null"]},
         "tps": _NUM_OR_NULL,
         "tps_set": _STR_OR_NULL,
         "change_vs_parent": _NUM_OR_NULL,
         "on_pareto_front": {"type": "boolean"},
         "parent": _STR_OR_NULL,
         "parent_note": {**_STR_OR_NULL, "description": "Why the parent is not linked."},
         "children": {"type": "array", "items": _ID},
         "config": {"type": ["object", "null"], "description": "Model and engine, normalized."},
         "config_changes": {"type": ["array", "null"], "description": "Against the parent.",
                            "items": _obj(["path", "kind"], {
                                "path": {"type": "string"},
                                "kind": {"enum": ["added", "removed", "changed"]},
                                "old": {}, "new": {}})},
         "file": {**_STR_OR_NULL, "description": "Path in the repository; null when the file "
                                                 "is gone or no longer valid."},
         "pr": {"type": ["integer", "null"]},
         "compared": _COMPARED,
         "runs": {"type": "array", "items": {"type": "string"}, "description": "Run ids, newest "
                                                                             "first."},
         "page": {"type": "string"}})},
})

_TPS_SUMMARY = _obj(["median", "mean", "stdev", "ci95", "passes"], {
    "median": {"type": "number"}, "mean": {"type": "number"}, "stdev": {"type": "number"},
    "ci95": {"type": "array", "items": {"type": "number"}},
    "passes": {"type": "array", "items": {"type": "number"}, "description": "TPS of each pass."},
    "prompts": {"type": "integer"}, "output_tokens": {"type": "integer"}})

RUNS_SCHEMA = _doc_schema(RUNS_FORMAT, "arena runs", {
    "runs": {"type": "array", "description": "Every run, newest first.", "items": _obj(
        ["run_id", "submission", "started_at", "status", "runner_verdict", "reasons", "counted",
         "ranked", "hardware", "tps", "ppl", "checks", "result_path", "page"],
        {"run_id": {"type": "string"}, "submission": _ID, "started_at": _TIME,
         "finished_at": _TIME,
         "challenge": {"type": "string"},
         "hardware": {"type": "string", "description": "From the run's fingerprint."},
         "counted": {"type": "boolean", "description": "On this challenge and its hardware: "
                                                       "eligible for the ranking."},
         "status": _RUN_STATUS,
         "runner_verdict": {"enum": ["verified", "invalid", "error"]},
         "reasons": {"type": "array", "items": {"type": "string"}},
         "overridden_by": {**_STR_OR_NULL, "description": "Maintainer whose verdict decided."},
         "ranked": {"type": "boolean", "description": "The run its submission is ranked by."},
         "tps_set": _STR_OR_NULL,
         "tps": {"type": "object", "additionalProperties": _TPS_SUMMARY},
         "ppl": _obj(["reference", "cap", "sets"], {
             "reference": {"type": "number"}, "cap": {"type": "number"},
             "sets": {"type": "object", "additionalProperties": {"type": "number"}}}),
         "checks": {"type": "array", "items": _obj(["name", "status"], {
             "name": {"type": "string"}, "status": {"enum": ["pass", "fail", "warn", "skip"]}})},
         "speculative": {"type": ["object", "null"]},
         "config_sha256": {"type": "string"},
         "pr": {"type": ["integer", "null"]},
         "flagged": {**_STR_OR_NULL, "description": "Why the run is flagged: measured on a "
                                                    "runner whose control run drifted "
                                                    "(controls.html); null when it is not."},
         "throttled": {"type": ["boolean", "null"], "description": "The GPU throttled during "
                                                                   "the timed passes (null: "
                                                                   "not sampled)."},
         "result_path": {"type": "string"},
         "page": {"type": "string"}})},
})

TRIED_FORMAT = "arena.tried/1"
TRIED_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "arena tried",
    "type": "object",
    "required": ["format", "generated_at", "challenge", "configurations"],
    "properties": {
        "format": {"const": TRIED_FORMAT, "description": "Names this document's shape and "
                                                        "version."},
        "generated_at": {"type": "string"},
        "challenge": _obj(["id", "hardware"], {"id": {"type": "string"},
                                               "hardware": {"type": "string"}}),
        "configurations": {"type": "array", "description": "Every submission's "
                           "configuration and what became of it, by id.", "items": _obj(
            ["submission", "author", "outcome", "detail", "tps", "config_sha256", "tags",
             "args", "parent", "same_as", "page"],
            {"submission": _ID, "author": {"type": "string"},
             "outcome": {"enum": ["verified", "invalid", "error", "withdrawn", "disqualified",
                                  "pending", "negative"],
                         "description": "pending: no run yet; negative: a negative result "
                                        "filed without a run (its file's tried: block)."},
             "detail": {**_STR_OR_NULL, "description": "The check that failed (invalid), the "
                                                       "reason (error, withdrawn), or the "
                                                       "author's account (negative). "
                                                       "Untrusted text."},
             "negative_outcome": _STR_OR_NULL,
             "tps": {**_NUM_OR_NULL, "description": "Its ranked score, else the best any of "
                                                    "its runs measured, else (negative) the "
                                                    "author's own unverified figure."},
             "config_sha256": _STR_OR_NULL,
             "tags": {"type": "array", "items": {"type": "string"}},
             "args": {"type": "object", "description": "Engine arguments, dotted names."},
             "parent": _STR_OR_NULL,
             "same_as": {"type": "array", "items": _ID,
                         "description": "Other submissions with the same config SHA-256."},
             "page": {"type": "string"}})},
    },
}

SCHEMAS = {"leaderboard": LEADERBOARD_SCHEMA, "submissions": SUBMISSIONS_SCHEMA,
           "runs": RUNS_SCHEMA, "tried": TRIED_SCHEMA}

# -- several hardware tracks ---------------------------------------------------------------------
# A challenge with several tracks adds these fields (within the same formats: new fields only).
# The top-level ranking stays the first track's, so a reader of one board still reads one; a
# one-track challenge's documents and schemas are exactly as above.

_TRACK = _obj(["name", "runner_label", "runs_per_author_per_day"], {
    "name": {"type": "string", "description": "The track's name (a result's challenge.track)."},
    "runner_label": {"type": "string", "description": "runs-on: [self-hosted, <label>]."},
    "accelerator": _STR_OR_NULL,
    "runs_per_author_per_day": {"type": "integer"}}, "One hardware track of the challenge.")
_TRACK_FIELDS = {
    "track": {"type": "string", "description": "The track this board ranks."},
    "tracks": {"type": "array", "items": _TRACK,
               "description": "Every track of the challenge, in order."}}
_BOARD = _obj(["track", "challenge", "entries", "by_author", "pareto_front", "records"], {
    "track": {"type": "string"},
    "challenge": {"type": "object", "description": "As the top-level challenge, for this "
                                                   "track (its hardware and ties)."},
    **{k: LEADERBOARD_SCHEMA["properties"][k]
       for k in ("entries", "by_author", "pareto_front", "records")}},
    "One track's board, ranked on its own with its own noise.")
_ON_TRACK = _obj(["targets", "status", "rank"], {
    "targets": {"type": "boolean", "description": "Its file targets the track (tracks:)."},
    "status": _STATUS, "rank": {"type": ["integer", "null"]}, "tps": _NUM_OR_NULL,
    "tps_set": _STR_OR_NULL})


def _with(schema: dict[str, Any], path: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with `extra` properties added to the object at `path`."""
    import copy
    out = copy.deepcopy(schema)
    node = out
    for key in path:
        node = node[key]
    node["properties"].update(extra)
    return out


def schemas(challenge: Any) -> dict[str, dict[str, Any]]:
    """The published schemas for this challenge: SCHEMAS, plus the track fields when it has
    several tracks."""
    if len(challenge.tracks) < 2:
        return SCHEMAS
    chal = ("properties", "challenge")
    lb = _with(LEADERBOARD_SCHEMA, chal, _TRACK_FIELDS)
    lb["properties"]["tracks"] = {"type": "array", "items": _BOARD,
                                  "description": "Every track's board, in the challenge's "
                                                 "order (the first is the top level's)."}
    subs = _with(_with(SUBMISSIONS_SCHEMA, chal, _TRACK_FIELDS),
                 ("properties", "submissions", "items"),
                 {"tracks": {"type": "object", "additionalProperties": _ON_TRACK,
                             "description": "Its place on each track's board, by track."}})
    runs = _with(_with(RUNS_SCHEMA, chal, _TRACK_FIELDS), ("properties", "runs", "items"),
                 {"track": {"type": "string", "description": "The track it was measured on."}})
    runs["properties"]["runs"]["items"]["properties"]["counted"] = {
        "type": "boolean", "description": "On this challenge and its track, and its "
                                          "submission targets that track: eligible for that "
                                          "track's ranking."}
    return {"leaderboard": lb, "submissions": subs, "runs": runs, "tried": TRIED_SCHEMA}


def _several(model: SiteModel) -> bool:
    return len(model.challenge.tracks) > 1


def _boards(model: SiteModel) -> list[SiteModel]:
    """Every track's model, in order (the model itself when it carries no boards)."""
    return list(model.boards.values()) or [model]


def _challenge(model: SiteModel) -> dict[str, Any]:
    ch = model.challenge
    track = model.track or ch.track()
    out = {"id": ch.id, "title": ch.title, "hardware": track.runner_label,
           "base_model": {"id": ch.base_model.id, "revision": ch.base_model.revision},
           "ppl_reference": ch.ppl_reference, "ppl_cap": ch.ppl_cap,
           "tie_tps": _lead_margin(model), "ties": _ties(model)}
    if _several(model):
        out["track"] = track.name
        out["tracks"] = [{"name": t.name, "runner_label": t.runner_label,
                          "accelerator": t.accelerator,
                          "runs_per_author_per_day": t.runs_per_author_per_day}
                         for t in ch.tracks]
    return out


def _lead_margin(model: SiteModel) -> float:
    rule = model.tie_rule
    assert rule is not None
    return rule.margin(model.entries[0].tps if model.entries else 0.0)


def _ties(model: SiteModel) -> dict[str, Any]:
    r = model.tie_rule
    assert r is not None
    return {"rule": r.describe(model.entries[0].tps if model.entries else None),
            "confidence": r.confidence, "relative": r.relative, "sigma": r.sigma,
            "degrees_of_freedom": r.df, "quantile": r.quantile,
            "calibrated_sigma": r.calibrated_sigma,
            "calibrated_degrees_of_freedom": r.calibrated_df, "source": r.source,
            "board_sigma": r.board_sigma, "board_degrees_of_freedom": r.board_df,
            "board_configurations": r.board_configs, "board_runs": r.board_runs}


def stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(e: Entry, s: SubmissionView, page: Callable[[str], str],
           paths: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    pr = as_result(e.result).provenance.pr
    return {
        "rank": e.rank, "tied": e.tied, "submission": e.submission_id, "author": e.author,
        "name": e.name, "tps": e.tps, "tps_set": e.tps_set, "stdev": e.stdev,
        "ci95": list(e.ci95), "tie_margin": e.margin, "fastest_of_tie": e.fastest,
        "unstable": e.unstable, "private_tps": e.private_tps, "public_tps": e.public_tps,
        "ppl": e.ppl, "change_vs_parent": s.change, "parent": s.parent_id,
        "on_pareto_front": s.on_front, "run_id": e.run_id, "started_at": e.started_at,
        "first_run_at": e.first_run_at, "pr": pr, "page": page(e.submission_id),
        "result_path": paths[(e.submission_id, e.run_id)],
    }


def leaderboard_doc(model: SiteModel, page: Callable[[str], str]) -> dict[str, Any]:
    doc = {"format": LEADERBOARD_FORMAT, "generated_at": stamp(model.generated_at),
           "challenge": _challenge(model), **_board(model, page)}
    if _several(model):
        doc["tracks"] = [{"track": b.track.name, "challenge": _challenge(b),  # type: ignore[union-attr]
                          **_board(b, page)} for b in _boards(model)]
    return doc


def _board(model: SiteModel, page: Callable[[str], str]) -> dict[str, Any]:
    paths = {(r.submission_id, r.run_id): r.store_path for r in model.runs}
    subs = model.submissions
    return {
        "entries": [_entry(e, subs[e.submission_id], page, paths) for e in model.entries],
        "by_author": [_entry(e, subs[e.submission_id], page, paths)
                      for e in model.author_entries],
        "pareto_front": [e.submission_id for e in model.front],
        "records": [{"submission": r.submission_id, "run_id": r.run_id,
                     "started_at": r.started_at, "tps": r.tps, "tps_set": r.tps_set,
                     "previous_tps": r.previous_tps,
                     "previous_submission": r.previous_submission_id}
                    for r in model.records],
    }


def submissions_doc(model: SiteModel, page: Callable[[str], str]) -> dict[str, Any]:
    out = []
    for s in model.submissions.values():
        e = s.entry
        out.append({
            "id": s.id, "author": s.author, "name": s.name, "description": s.description,
            "tags": list(s.tags), "status": s.status,
            "state": {"state": s.state.state, "reason": s.state.reason, "by": s.state.by},
            "reasons": list(s.reasons),
            "rank": e.rank if e else None, "tps": e.tps if e else None,
            "tps_set": e.tps_set if e else None, "change_vs_parent": s.change,
            "on_pareto_front": s.on_front,
            "parent": s.parent_id, "parent_note": s.parent_note, "children": list(s.children),
            "config": s.config,
            "config_changes": None if s.diff is None else [
                {"path": c.path, "kind": c.kind, "old": c.old, "new": c.new} for c in s.diff],
            "file": s.file.path if s.file else None, "pr": s.pr,
            "compared": comparisons_json(s.compared),
            "runs": [r.run_id for r in s.runs], "page": page(s.id),
        })
    if _several(model):
        for row in out:
            row["tracks"] = {b.track.name: _on_track(b.submissions[row["id"]])  # type: ignore[union-attr]
                             for b in _boards(model) if row["id"] in b.submissions}
    return {"format": SUBMISSIONS_FORMAT, "generated_at": stamp(model.generated_at),
            "challenge": _challenge(model), "submissions": out}


def _run(r: RunView, page: Callable[[str], str]) -> dict[str, Any]:
    res = r.result
    spec, tel = res.speculative, res.telemetry
    return {
        "run_id": r.run_id, "submission": r.submission_id, "started_at": r.started_at,
        "finished_at": res.finished_at, "challenge": res.challenge.id,
        "hardware": r.hardware, "counted": r.here, "status": r.status,
        "runner_verdict": res.verdict, "reasons": list(r.reasons),
        "overridden_by": r.overridden_by, "ranked": r.ranked, "tps_set": r.tps_set,
        "tps": {s: {"median": t.median, "mean": t.mean, "stdev": t.stdev,
                    "ci95": list(t.ci95), "passes": list(t.pass_tps),
                    "prompts": t.prompts, "output_tokens": t.output_tokens}
                for s, t in res.tps.items()},
        "ppl": {"reference": res.ppl.reference, "cap": res.ppl.cap,
                "sets": {s: p.value for s, p in res.ppl.sets.items()}},
        "checks": [{"name": c.name, "status": c.status} for c in res.checks],
        "speculative": dataclasses.asdict(spec) if spec else None,
        "config_sha256": res.submission.config_sha256,
        "pr": res.provenance.pr,
        "flagged": r.drift,
        "throttled": tel.throttled if tel else None,
        "result_path": r.store_path, "page": page(r.submission_id) + f"#run-{r.run_id}",
    }


def _on_track(s: SubmissionView) -> dict[str, Any]:
    e = s.entry
    return {"targets": s.targets, "status": s.status, "rank": e.rank if e else None,
            "tps": e.tps if e else None, "tps_set": e.tps_set if e else None}


def runs_doc(model: SiteModel, page: Callable[[str], str]) -> dict[str, Any]:
    runs = [_run(r, page) for r in model.runs]
    if _several(model):
        # Each run is counted (and ranked) on its own track's board.
        from arena.challenge import result_track
        views = {b.track.name: {(r.submission_id, r.run_id): r for r in b.runs}  # type: ignore[union-attr]
                 for b in _boards(model)}
        for row, r in zip(runs, model.runs):
            name = result_track(r.result, model.challenge)
            own = views.get(name, {}).get((r.submission_id, r.run_id))
            row["track"] = name
            row["counted"] = bool(own and own.here)
            row["ranked"] = bool(own and own.ranked)
    return {"format": RUNS_FORMAT, "generated_at": stamp(model.generated_at),
            "challenge": _challenge(model), "runs": runs}


def field_rows(schema: Mapping[str, Any], key: str) -> list[tuple[str, str, str]]:
    """(field, type, description) of the items of `schema[key]`, for the API page."""
    node = schema["properties"][key]
    items = node.get("items", node)
    rows = []
    for name, spec in items.get("properties", {}).items():
        t = spec.get("type") or ("one of " + ", ".join(map(str, spec["enum"]))
                                 if "enum" in spec else "any")
        if isinstance(t, list):
            t = " or ".join(t)
        rows.append((name, str(t), spec.get("description", "")))
    return rows


def tried_doc(model: SiteModel, page: Callable[[str], str]) -> dict[str, Any]:
    from leaderboard import tried
    rows = tried.rows_from_model(model)
    return {"format": TRIED_FORMAT, "generated_at": stamp(model.generated_at),
            "challenge": {"id": model.challenge.id, "hardware": model.challenge.hardware},
            "configurations": [r.to_json(page(r.submission_id)) for r in rows]}
