"""`arena bot publish`: the end of every benchmark run, successful or not.

The result JSON came from a machine that ran an untrusted configuration, so it is validated
against arena.result.RESULT_SCHEMA and cross-checked against what was dispatched (the submission
id, the commit, the configuration's hash recomputed from the file at that commit, the challenge
and hardware) before anything reads it. A good result is stored first (the results branch), then
announced: a comment with a table and the full JSON for agents, the check run
`arena/benchmark`, a label, and a site rebuild. When there is no good result (the bench job
failed, was cancelled or skipped, the PR moved, the artifact is missing or invalid) the PR is
told what happened and what to do. Publishing again (a re-run of the job) edits the same
comment and finds the stored file already there.
"""

from __future__ import annotations

import copy
import enum
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena import __version__, exitcodes
from arena.challenge import Track, result_track
from arena.problems import Problem
from arena.render import to_markdown
from arena.result import Result, describe, result_errors
from arena.store import ResultsStore, result_relpath
from arena.submission import LOGIN_RE, location, validate_file
from bot import checks, comments, labels
from bot.client import API_ERRORS, describe_failure
from bot.compare import breakdown_lines, compared_lines
from bot.context import Bot
from bot.files import read_file_at
from bot.fetch import head_of
from bot.render import block, code, footer, short
from bot.results_branch import StoreWriteError, append_record, stored_text
from bot.site import dispatch_site
from bot.validation import api_patch_reader, base_index, parent_of
from leaderboard.ranking import rank

RESULT_KIND = "result"
MAX_RESULT_BYTES = 2 * 1024 * 1024
MAX_JSON_IN_COMMENT = 40000
OUTCOMES = ("success", "failure", "cancelled", "skipped")


class Outcome(str, enum.Enum):
    VERIFIED = "verified"
    INVALID = "invalid"  # the runner judged the run invalid (integrity checks)
    ERROR = "error"  # the runner measured nothing (engine failed)
    VOIDED = "voided"  # the PR moved after approval
    FAILED = "failed"  # the bench job failed without a result
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    BAD_ARTIFACT = "bad-artifact"  # the result file is missing, unreadable or fails the checks
    UNCHECKED = "unchecked"  # GitHub failed while cross-checking; nothing stored yet
    STOPPED = "stopped"  # the job ended without a result: recorded as an error with its stage


@dataclass
class Publication:
    pr: int
    sha: str
    path: str
    outcome: Outcome
    result: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    stored_path: str | None = None
    head: str | None = None
    note: str = ""
    stage: str | None = None  # for STOPPED: the phase the run had reached
    parent: str | None = None  # the submission's parent, from its file at the commit

    @property
    def submission_id(self) -> str:
        login, stem = self.path.split("/")[-2], self.path.split("/")[-1].removesuffix(".yaml")
        return f"{login}/{stem}"


def load_result(path: Path | None) -> tuple[dict[str, Any] | None, list[str]]:
    """The result document and the problems that make it unusable (pure, bounded)."""
    if path is None or not path.exists():
        return None, ["there is no result file (the bench job produced no artifact)"]
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None, [f"the result file is larger than {MAX_RESULT_BYTES} bytes"]
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [f"the result file is not readable JSON ({type(exc).__name__})"]
    errors = result_errors(doc)
    if errors:
        return None, errors[:20]
    return doc, []


def cross_check(doc: dict[str, Any], *, sha: str, sub_id: str, challenge_id: str,
                hardware: str, config_sha256: str | None) -> list[str]:
    """Pure: every way a schema-valid result disagrees with what was dispatched."""
    out = []
    r = Result.from_json(doc, check=False)  # schema-valid: load_result checked it
    sub = r.submission
    if sub.id != sub_id:
        out.append(f"submission.id is {sub.id!r}, but the run was for {sub_id!r}")
    if sub.commit not in (None, sha):
        out.append(f"submission.commit is {sub.commit!r}, but the approved commit is {sha!r}")
    if config_sha256 is not None and sub.config_sha256 != config_sha256:
        out.append("submission.config_sha256 does not match the configuration of the file at "
                   "the approved commit: the runner measured something else")
    if r.challenge.id != challenge_id:
        out.append(f"challenge.id is {r.challenge.id!r}, not {challenge_id!r}")
    if r.challenge.hardware != hardware or r.fingerprint.hardware != hardware:
        out.append(f"the hardware label is not {hardware!r}")
    if r.verdict == "verified" and r.score_set is None:
        out.append("verdict is verified but no prompt set was measured")
    return out


def expected_config_sha(bot: Bot, path: str, sha: str, pub: Publication | None = None
                        ) -> tuple[str | None, str | None]:
    """(config hash of the file at the commit, problem) — recomputed, not taken from the run.
    Notes the file's parent on `pub` (for the comparison)."""
    raw = read_file_at(bot, path, sha, max_bytes=bot.challenge.max_submission_bytes)
    if isinstance(raw, Problem):
        return None, raw.format()
    report = validate_file(raw, path_in_repo=path, challenge=bot.challenge,
                           index=_index_with_parent(bot, raw),
                           read_patch=api_patch_reader(bot, path, sha))
    if not report.valid or report.submission is None:
        return None, f"{path} at {sha[:12]} is not a valid submission"
    if pub is not None:
        pub.parent = report.submission.parent
    return report.submission.config_sha256(), None


def _index_with_parent(bot: Bot, raw: bytes) -> Any:
    """The base checkout's submissions, plus the file's parent (it may come in the same PR;
    /bench checked the lineage with all of the PR's files)."""
    index = base_index(bot.challenge)
    parent = parent_of(raw, bot.challenge.max_submission_bytes)
    return index.with_overlay({parent: None}) if parent and parent not in index else index


# -- runs that ended without a result -----------------------------------------------------------

STAGE_FORMAT = "arena.stage/1"
STAGES = ("prepare", "time", "stop", "referee", "verdict")
NOT_STARTED = "before the run started"
MAX_STAGE_BYTES = 4096
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class Stage:
    """What the runner's stage.json says (rewritten at each phase start), checked: it came from
    the GPU machine. `stage` is one of STAGES, NOT_STARTED when there is no file, or a sentence
    when the file is unusable."""

    stage: str
    run_id: str | None = None
    updated_at: str | None = None

    @property
    def started(self) -> bool:
        return self.stage != NOT_STARTED


def read_stage(path: Path | None) -> Stage:
    """Pure and total: any file, however hostile, gives a Stage."""
    if path is None or not path.is_file():
        return Stage(NOT_STARTED)
    try:
        if path.stat().st_size > MAX_STAGE_BYTES:
            return Stage("unknown (stage.json is too large)")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return Stage("unknown (stage.json is not readable JSON)")
    if not isinstance(doc, dict) or doc.get("format") != STAGE_FORMAT \
            or doc.get("stage") not in STAGES:
        return Stage("unknown (stage.json is not an arena.stage/1 document)")
    run_id = doc.get("run_id")
    at = doc.get("updated_at")
    return Stage(doc["stage"],
                 run_id if isinstance(run_id, str) and _RUN_ID_RE.match(run_id) else None,
                 at if isinstance(at, str) and _ISO_RE.match(at) else None)


def stopped_result(bot: Bot, *, sha: str, path: str, sub: Any, stage: Stage,
                   bench_outcome: str) -> dict[str, Any]:
    """The `error` result recorded for a run that ended without result.json. Deterministic for a
    given run and stage, so publishing again finds the same record."""
    run_id = stage.run_id or f"gh-{bot.run_id}"
    at = stage.updated_at or bot.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    how = {"cancelled": "was cancelled", "failure": "failed or timed out",
           "success": "ended"}.get(bench_outcome, "ended")
    where = f"at stage `{stage.stage}`" if stage.stage in STAGES else stage.stage
    doc = {
        "schema_version": 1, "run_id": run_id,
        "submission": {"id": sub.id, "path": path, "commit": sha, "config": sub.config(),
                       "config_sha256": sub.config_sha256()},
        "challenge": {"id": bot.challenge.id, "hardware": bot.challenge.hardware},
        "started_at": at, "finished_at": at, "verdict": "error",
        "reasons": [{"check": "stage", "message": f"the bench job {how} without a result, "
                                                  f"{where}; nothing was measured to the end"}],
        "tps": {}, "ppl": {"reference": bot.challenge.ppl_reference,
                           "cap": bot.challenge.ppl_cap, "sets": {}},
        "checks": [], "speculative": None, "timings": {"total_s": 0},
        "fingerprint": {"hardware": bot.challenge.hardware, "accelerator": "unknown",
                        "engine": sub.engine_name, "engine_version": sub.engine_version,
                        "harness_version": __version__, "prompt_sets": {},
                        "submission_sha256": sub.config_sha256()},
    }
    errors = result_errors(doc)
    assert not errors, errors
    return doc


def _submission_at(bot: Bot, path: str, sha: str) -> Any | None:
    raw = read_file_at(bot, path, sha, max_bytes=bot.challenge.max_submission_bytes)
    if isinstance(raw, Problem):
        return None
    report = validate_file(raw, path_in_repo=path, challenge=bot.challenge,
                           index=_index_with_parent(bot, raw))
    return report.submission if report.valid else None


def classify(bot: Bot, *, pr: int, sha: str, path: str, result_file: Path | None,
             bench_outcome: str, stage_file: Path | None = None) -> Publication:
    pub = Publication(pr, sha, path, Outcome.BAD_ARTIFACT)
    doc, problems = load_result(result_file)
    if doc is None:
        if result_file is not None and result_file.exists():
            pub.problems = problems
            return pub
        if bench_outcome == "skipped":
            pub.outcome = Outcome.SKIPPED
            return pub
        if stage_file is None and result_file is not None:
            stage_file = result_file.parent / "stage.json"
        stage = read_stage(stage_file)
        if not stage.started:
            try:
                pub.head = head_of(bot, pr)
            except API_ERRORS as exc:
                bot.say(describe_failure(exc, "Reading the pull request's head", bot.now()))
            if pub.head and pub.head != sha:
                pub.outcome = Outcome.VOIDED  # fetch-submission refused: nothing ran
                return pub
        fallback = {"cancelled": Outcome.CANCELLED, "failure": Outcome.FAILED}.get(
            bench_outcome, Outcome.BAD_ARTIFACT)
        pub.problems = problems
        try:
            sub = _submission_at(bot, path, sha)
        except API_ERRORS as exc:
            bot.say(describe_failure(exc, "Reading the submission", bot.now()))
            sub = None
        if sub is None:  # nothing to record it against; say what happened
            pub.outcome = fallback
            return pub
        pub.stage = stage.stage
        pub.result = stopped_result(bot, sha=sha, path=path, sub=sub, stage=stage,
                                    bench_outcome=bench_outcome)
        pub.result["provenance"] = {"pr": pr, "head_sha": sha, "run_url": bot.run_url(),
                                    "requested_by": None}
        pub.outcome = Outcome.STOPPED
        return pub
    try:
        config_sha, problem = expected_config_sha(bot, path, sha, pub)
    except API_ERRORS as exc:
        pub.outcome = Outcome.UNCHECKED
        pub.problems = [describe_failure(exc, "Reading the submission to cross-check the result",
                                         bot.now())]
        return pub
    track = track_of(bot, doc)
    mismatches = cross_check(doc, sha=sha, sub_id=pub.submission_id,
                             challenge_id=bot.challenge.id,
                             hardware=track.runner_label if track else bot.challenge.hardware,
                             config_sha256=config_sha)
    if track is None:
        named = Result.from_json(doc, check=False).challenge.track
        mismatches.insert(0, f"challenge.track {named!r} is not a track "
                             f"of this challenge ({', '.join(bot.challenge.track_names)})")
    if problem:
        mismatches.insert(0, problem)
    if mismatches:
        pub.problems = mismatches
        return pub
    read = Result.from_json(doc, check=False)
    doc = copy.deepcopy(doc)  # the record to store: the runner's document, completed
    if read.submission.commit is None:
        doc["submission"]["commit"] = sha
    doc["provenance"] = {"pr": pr, "head_sha": sha, "run_url": bot.run_url(),
                         "requested_by": None}
    pub.result = doc
    pub.outcome = Outcome(read.verdict)
    return pub


# -- the message --------------------------------------------------------------------------------

TITLES = {
    Outcome.VERIFIED: "✅ Verified",
    Outcome.INVALID: "❌ Run invalid",
    Outcome.ERROR: "⚠️ Run measured nothing",
    Outcome.VOIDED: "⏭️ Run voided: the pull request moved",
    Outcome.FAILED: "⚠️ Benchmark job failed",
    Outcome.CANCELLED: "⏹️ Benchmark cancelled",
    Outcome.SKIPPED: "⏭️ Benchmark did not run",
    Outcome.BAD_ARTIFACT: "⚠️ Result rejected",
    Outcome.UNCHECKED: "⚠️ Result not published yet",
    Outcome.STOPPED: "⏹️ Run stopped without a result",
}
CONCLUSIONS = {
    Outcome.VERIFIED: "success", Outcome.INVALID: "failure", Outcome.ERROR: "failure",
    Outcome.VOIDED: "skipped", Outcome.FAILED: "failure", Outcome.CANCELLED: "cancelled",
    Outcome.SKIPPED: "skipped", Outcome.BAD_ARTIFACT: "failure", Outcome.UNCHECKED: "neutral",
    Outcome.STOPPED: "failure",
}
LABEL_STATES = {
    Outcome.VERIFIED: "verified", Outcome.INVALID: "invalid", Outcome.ERROR: "error",
    Outcome.VOIDED: "voided", Outcome.FAILED: "error", Outcome.BAD_ARTIFACT: "error",
    Outcome.CANCELLED: None, Outcome.SKIPPED: None, Outcome.UNCHECKED: "error",
    Outcome.STOPPED: "error",
}


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, float)):
        return f"{x:.{digits}f}"
    return code(str(x), 40)


# The parts of a result's description (arena.result.describe) the result comment shows, in
# order; the comment has its own heading, and its own lines for a paired run, the rank and the
# file it was recorded as. The machine and timings are in the full JSON below them.
COMMENT_SECTIONS = ("verdict", "speed", "notes", "checks", "speculative")


def result_section(result: Result) -> str:
    """The result's reasons, figures, notes and checks, as every front end describes them."""
    return to_markdown(describe(result), sections=COMMENT_SECTIONS)


def result_json_block(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if len(text) > MAX_JSON_IN_COMMENT:
        slim = {k: v for k, v in doc.items() if k != "log_tail"}
        text = json.dumps(slim, indent=2, ensure_ascii=False)
        if len(text) > MAX_JSON_IN_COMMENT:
            return "The result is too large to show here; it is on the results branch."
    return block(text, "json")


def track_of(bot: Bot, doc: dict[str, Any]) -> Track | None:
    """The track a result was measured on (its challenge.track; none: the first), or None
    when the challenge has no such track."""
    name = result_track(doc, bot.challenge)
    return next((t for t in bot.challenge.tracks if t.name == name), None)


def rank_line(store_dir: Path | None, doc: dict[str, Any], bot: Bot) -> str | None:
    this = Result.from_json(doc, check=False)
    if store_dir is None or this.verdict != "verified":
        return None
    store = ResultsStore(store_dir)
    # The board: every stored run but this one's, and this one.
    results = [r.result for r in store.results() if r.result.run_id != this.run_id] + [this]
    track = track_of(bot, doc) or bot.challenge.tracks[0]
    entries = rank(results, store.verdicts(), hardware=track.runner_label, noise=track.noise)
    for e in entries:
        if e.submission_id == this.submission.id:
            tie = " (tied)" if e.tied else ""
            best = "" if e.run_id == this.run_id else \
                f"; its best run is {code(e.run_id, 100)} at {_fmt(e.tps)} tokens/s"
            return f"Leaderboard: rank **{e.rank}**{tie} of {len(entries)}{best}."
    return None


def mention(login: str | None) -> str:
    return f"@{login} " if login and re.fullmatch(LOGIN_RE, login) else ""


def render(bot: Bot, pub: Publication, *, requested_by: str | None, rank: str | None,
           compared: list[str] | None = None) -> str:
    run = bot.run_url()
    run_link = f"[run {bot.run_id}]({run})" if run else "the run"
    head = f"### {TITLES[pub.outcome]}: {code(pub.submission_id, 104)}"
    doc = pub.result
    result = Result.from_json(doc, check=False) if doc else None  # checked by load_result
    if result and pub.outcome is Outcome.VERIFIED:
        head += f" — {_fmt(result.score_tps)} tokens/s ({result.score_set} prompts)"
    lines = [head, "", f"{mention(requested_by)}{run_link} of {code(pub.path)} at commit "
                       f"[`{short(pub.sha)}`]({bot.commit_url(pub.sha)})."]
    if doc and result:
        lines += ["", result_section(result)]
        if rank:
            lines += ["", rank]
        if compared:
            lines += ["", *compared]
        lines += breakdown_lines(doc)
        if pub.stored_path:
            lines += ["", f"Recorded as `{pub.stored_path}` on the `{bot.results_branch}` branch."]
        lines += ["", "**Next:** " + {
            Outcome.VERIFIED: "nothing to do. To improve on it, open a new pull request with a "
                              "new submission (name this one as its `parent`).",
            Outcome.INVALID: "read the reasons above; fix the submission, push, and ask for "
                             "`/bench` again.",
            Outcome.ERROR: "the engine did not produce a measurement. If the reasons point at "
                           "the submission's arguments, fix them and push; if they look like a "
                           "runner problem, a maintainer can `/rerun`.",
            Outcome.STOPPED: f"the run ended without a result ({_stage_words(pub.stage)}) and "
                             "is recorded as an error, like every run that was asked for: "
                             "cancelling a run never erases it. A maintainer can `/rerun`.",
        }[pub.outcome]]
        lines += ["", "<details><summary>Full result (JSON, for agents)</summary>", "",
                  result_json_block(doc), "", "</details>"]
    else:
        what = {
            Outcome.VOIDED: f"The pull request's head moved from `{short(pub.sha)}` to "
                            f"`{short(pub.head or '')}` after the run was approved, so the run "
                            "did not measure anything. **Next:** comment `/bench` to benchmark "
                            "the new head.",
            Outcome.FAILED: "The benchmark job failed (or timed out) without producing a "
                            "result; nothing was recorded. This is usually the runner, not your "
                            "submission. **Next:** a maintainer can check the run's log and "
                            "`/rerun`.",
            Outcome.CANCELLED: "The run was cancelled (with `/cancel`, by a maintainer, or by a "
                               "newer run). Nothing was recorded. **Next:** comment `/bench` to "
                               "start a new run.",
            Outcome.SKIPPED: "The benchmark job did not run (its approval was declined or it "
                             "was skipped). Nothing was recorded. **Next:** ask a maintainer.",
            Outcome.BAD_ARTIFACT: "The run's result failed the checks the bot applies to every "
                                  "result, so nothing was recorded. **Next:** a maintainer needs "
                                  "to look at the run; the participant can do nothing about "
                                  "this except wait.",
            Outcome.UNCHECKED: "GitHub failed while the result was being cross-checked; nothing "
                               "was recorded yet. The result is kept with the run. **Next:** a "
                               "maintainer can re-run the publish job.",
        }[pub.outcome]
        lines += ["", what]
        if pub.problems and pub.outcome in (Outcome.BAD_ARTIFACT, Outcome.UNCHECKED):
            lines += ["", block("\n".join(pub.problems[:20]))]
    return "\n".join(lines) + footer(bot)


def _stage_words(stage: str | None) -> str:
    if stage in STAGES:
        return f"it had reached the stage `{stage}`"
    return stage or NOT_STARTED


def _summary_line(pub: Publication) -> str:
    if pub.result and pub.outcome is Outcome.VERIFIED:
        r = Result.from_json(pub.result, check=False)
        return f"{pub.submission_id}: {r.score_tps:.1f} tokens/s ({r.score_set} prompts)"
    return f"{pub.submission_id}: {pub.outcome.value}"


def _own_earlier(bot: Bot, relpath: str) -> dict[str, Any] | bool | None:
    """The record already stored at `relpath` when this run stored it (a re-run of the job),
    False when another run's record is there, None when there is none."""
    text = stored_text(bot, relpath)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    mine = isinstance(doc, dict) and (doc.get("provenance") or {}).get("run_url") == bot.run_url()
    return doc if mine else False


def account_ids(bot: Bot, pr: int) -> dict[str, int | None]:
    """Numeric ids (logins can be renamed and reused): the PR's author, from the PR, and who
    asked for the run, from the bot's own queued comment."""
    out: dict[str, int | None] = {"author_id": None, "requested_by_id": None}
    try:
        uid = bot.repo.get_pull(pr).user.id
        out["author_id"] = uid if isinstance(uid, int) and uid > 0 else None
        queued = comments.find_latest(comments.own_comments(bot, pr), "bench",
                                      run=str(bot.run_id))
        by = queued.fields.get("by", "") if queued else ""
        out["requested_by_id"] = int(by) if by.isdigit() and int(by) > 0 else None
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Reading the account ids", bot.now()))
    return out


def publish(bot: Bot, *, pr: int, sha: str, path: str, result_file: Path | None,
            bench_outcome: str, requested_by: str | None = None,
            store_dir: Path | None = None, stage_file: Path | None = None) -> int:
    login, stem = location(path, bot.challenge)
    if not (login and stem):
        print(f"arena bot publish: {path!r} is not a submission path", flush=True)
        return exitcodes.USAGE
    bot.say(f"publishing run {bot.run_id} of {path}@{short(sha)} for #{pr} "
            f"(bench job: {bench_outcome})")
    pub = classify(bot, pr=pr, sha=sha, path=path, result_file=result_file,
                   bench_outcome=bench_outcome, stage_file=stage_file)
    bot.say(f"outcome: {pub.outcome.value}")
    failures: list[str] = []
    if pub.result is not None:
        pub.result["provenance"]["requested_by"] = requested_by if requested_by and \
            re.fullmatch(LOGIN_RE, requested_by) else None
        pub.result["provenance"].update(account_ids(bot, pr))
        read = Result.from_json(pub.result, check=False)
        sid, run_id = read.submission.id, read.run_id
        relpath = result_relpath(sid, run_id)
        try:
            earlier = _own_earlier(bot, relpath) if pub.outcome is Outcome.STOPPED else None
            if earlier is False:  # stage.json named another run's id: record under our own
                run_id = pub.result["run_id"] = f"gh-{bot.run_id}"
                relpath = result_relpath(sid, run_id)
                earlier = _own_earlier(bot, relpath)
            if isinstance(earlier, dict):  # published before (a re-run of this job): keep it
                pub.result = earlier
            else:
                append_record(bot, relpath, pub.result,
                              f"result {sid} run {run_id} ({read.verdict}, #{pr})")
            pub.stored_path = relpath
        except (StoreWriteError, *API_ERRORS) as exc:
            reason = str(exc) if isinstance(exc, StoreWriteError) else \
                describe_failure(exc, "Storing the result", bot.now())
            failures.append(reason)
            pub.problems = [reason]
            pub.result, pub.outcome = None, Outcome.UNCHECKED

    rank = None
    compared: list[str] = []
    if pub.result is not None:
        try:
            rank = rank_line(store_dir, pub.result, bot)
            track = track_of(bot, pub.result) or bot.challenge.tracks[0]
            compared = compared_lines(store_dir, pub.result, parent=pub.parent,
                                      hardware=track.runner_label, noise=track.noise)
        except Exception as exc:  # the ranking is a courtesy; the result is already stored
            bot.say(f"ranking failed: {type(exc).__name__}: {exc}")
    body = render(bot, pub, requested_by=requested_by, rank=rank, compared=compared)
    failures += announce(bot, pub, body)
    if pub.stored_path:
        bot.say(dispatch_site(bot))
    for f in failures:
        bot.say(f)
    if failures:
        bot.summarize(body + "\n\n" + "\n".join(f"- {f}" for f in failures))
    else:
        bot.summarize(f"Published: {_summary_line(pub)}")
    if failures or pub.outcome is Outcome.UNCHECKED:
        return exitcodes.INFRA
    if pub.outcome is Outcome.BAD_ARTIFACT:
        return exitcodes.INVALID
    if pub.result is None or pub.outcome is Outcome.STOPPED:
        return exitcodes.NOTHING_MEASURED
    return exitcodes.OK


def announce(bot: Bot, pub: Publication, body: str) -> list[str]:
    """Comment, check run, labels; every step is tried; returns what failed."""
    failed = []
    check_id = None
    queued = None
    try:
        mine = comments.own_comments(bot, pub.pr)
        queued = comments.find_latest(mine, "bench", run=str(bot.run_id))
        earlier = comments.find_latest(mine, RESULT_KIND, run=str(bot.run_id))
        if queued is not None:
            check_id = int(queued.fields["check"]) if queued.fields.get("check", "").isdigit() \
                else None
        if earlier is not None:
            nonce = earlier.fields.get("nonce")
            comments.edit_comment(bot, earlier.comment, comments.marker(
                RESULT_KIND, run=bot.run_id, outcome=pub.outcome.value, nonce=nonce) + "\n" + body)
        else:
            comments.post_comment(bot, pub.pr, comments.with_nonce(
                RESULT_KIND, run=bot.run_id, outcome=pub.outcome.value) + "\n" + body)
        if queued is not None:
            note = (f"### Benchmark run {bot.run_id}: finished ({pub.outcome.value})\n\n"
                    "The outcome is in the comment below." + footer(bot))
            comments.edit_comment(bot, queued.comment, comments.marker(
                "bench", run=bot.run_id, sha=queued.fields.get("sha"),
                check=queued.fields.get("check"), by=queued.fields.get("by"), state="done",
                patch=queued.fields.get("patch"),
                nonce=queued.fields.get("nonce")) + "\n" + note)
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Posting the result comment", bot.now()))
    try:
        if queued is not None and queued.fields.get("check") == checks.NO_CHECK:
            raise checks.NoCheck()  # the commit's checks belong to an earlier PR
        checks.complete_check_run(
            bot, check_id, sha=pub.sha, name=checks.BENCHMARK,
            conclusion=CONCLUSIONS[pub.outcome],
            title=f"{TITLES[pub.outcome]}: {_summary_line(pub)}"[:255],
            summary=body, details_url=bot.run_url())
    except checks.NoCheck:
        bot.say("no check run: the commit's checks belong to an earlier pull request")
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Completing the check run", bot.now()))
    try:
        labels.set_state_label(bot, pub.pr, labels.BENCHMARK, LABEL_STATES[pub.outcome])
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Setting the label", bot.now()))
    return failed
