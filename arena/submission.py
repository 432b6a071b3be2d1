"""Submissions: the file a participant writes, the rules it is checked against, and its schema.

A submission is data only: which checkpoint (pinned by commit), which engine version, which
allowlisted engine arguments. `validate_file` is the one validator: `arena validate`, the bot
and the runner all call it, so a participant sees the same messages everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Mapping

from arena import patch as patches
from arena import yamlstrict
from arena.challenge import (
    FORBIDDEN_ARGS,
    FORBIDDEN_SPECULATIVE_FIELDS,
    FORBIDDEN_SPECULATIVE_METHODS,
    HUB_ID_RE,
    LOCAL_ID_RE,
    LOGIN_RE,
    MAX_TRACKS,
    REVISION_RE,
    ArgSpec,
    Challenge,
    EngineRule,
    ModelRef,
)
from arena.problems import Problem, show, type_name
from arena.shape import Checker, suggest
from arena.text import has_unsafe_characters

SUBMISSION_SCHEMA_VERSION = 1
NAME_RE = r"[a-z0-9][a-z0-9-]{0,62}"
ID_RE = rf"{LOGIN_RE}/{NAME_RE}"
MAX_DESCRIPTION = 2000
MAX_TAGS = 10
TOP_REQUIRED = ("name", "description", "model", "engine")
TOP_OPTIONAL = ("parent", "tags", "claimed", "tried", "tracks")
# A negative result: a `tried:` block says what was tried and what happened; no run is
# requested (the bot does not benchmark it), and it shows on the tried page and in the tree.
TRIED_OUTCOMES = ("slower", "no-gain", "worse-quality", "invalid", "crash", "other")
MAX_WHAT_HAPPENED = 2000
SPECULATIVE_FIELDS = ("method", "model", "revision", "num_speculative_tokens",
                      "prompt_lookup_min", "prompt_lookup_max")
# The first line of every submission: editors then check the file against the published schema.
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema.json"
PATCH_NAME_RE = rf"{NAME_RE}\.patch"
# GitHub repositories (engine.source.repo): owner/name.
REPO_RE = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}"

# Reads the patch file a submission names (a plain file name, beside the YAML), at most
# `max_bytes` bytes: its bytes, or a Problem saying why it cannot be used (absent, a link, too
# large). Locally it reads the folder; in the bot, the pull request's head commit.
PatchReader = Callable[[str, int], "bytes | Problem"]


@dataclass(frozen=True)
class PatchInfo:
    """The engine patch a submission carries: where it is, its digest and what it changes."""

    path: str  # in the repository, beside the YAML
    sha256: str
    bytes: int
    files: int
    added: int
    removed: int
    paths: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes,
                "files": self.files, "added": self.added, "removed": self.removed,
                "paths": list(self.paths)}


@dataclass(frozen=True)
class Source:
    """engine.source: the fork and commit a patch came from (shown, never fetched)."""

    repo: str
    commit: str


@dataclass(frozen=True)
class Tried:
    """A negative result's account: what happened when its author tried it."""

    outcome: str  # one of TRIED_OUTCOMES
    what_happened: str
    tps: float | None = None  # the author's own measurement, unverified

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "what_happened": self.what_happened, "tps": self.tps}


@dataclass(frozen=True)
class Submission:
    """A valid submission. `login` is None when the file is not under submissions/<login>/."""

    login: str | None
    name: str
    description: str
    model: ModelRef
    engine_name: str
    engine_version: str
    engine_args: Mapping[str, Any]
    parent: str | None = None
    tags: tuple[str, ...] = ()
    claimed_tps: float | None = None
    claimed_ppl: float | None = None
    path: str = ""
    patch: PatchInfo | None = None
    source: Source | None = None
    tried: Tried | None = None  # set: a negative result, filed without a run
    # The hardware tracks it is measured and ranked on; empty: every track of the challenge
    # (submission_tracks). Not part of the configuration: the same config on two tracks.
    tracks: tuple[str, ...] = ()

    @property
    def negative(self) -> bool:
        return self.tried is not None

    @property
    def id(self) -> str:
        return f"{self.login or 'local'}/{self.name}"

    def config(self) -> dict[str, Any]:
        """What the measurement depends on, normalized: the checkpoint and the engine, with the
        patch's digest when it carries one (a different patch is a different configuration;
        a submission without one hashes as it always did)."""
        engine: dict[str, Any] = {"name": self.engine_name, "version": self.engine_version,
                                  "args": _sorted(self.engine_args)}
        if self.patch is not None:
            engine["patch"] = {"sha256": self.patch.sha256}
        return {
            "model": {"id": self.model.id, "revision": self.model.revision},
            "engine": engine,
        }

    def config_sha256(self) -> str:
        return sha256_json(self.config())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "parent": self.parent,
            "tags": list(self.tags),
            **self.config(),
            "claimed": {"tps": self.claimed_tps, "ppl": self.claimed_ppl},
            "tried": self.tried.to_json() if self.tried else None,
            "path": self.path,
            "patch": self.patch.to_json() if self.patch else None,
            "source": {"repo": self.source.repo, "commit": self.source.commit}
            if self.source else None,
            # Only when the file names tracks, so a one-track challenge's JSON reads as before.
            **({"tracks": list(self.tracks)} if self.tracks else {}),
        }


def submission_tracks(sub: Submission, challenge: Challenge) -> tuple[str, ...]:
    """The tracks a submission targets, in the challenge's order: the ones its `tracks:`
    names, or every track of the challenge when it names none."""
    if not sub.tracks:
        return challenge.track_names
    return tuple(t for t in challenge.track_names if t in sub.tracks)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def sha256_json(value: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class FileReport:
    """The outcome of validating one file."""

    path: str
    submission: Submission | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems and self.submission is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "valid": self.valid,
            "id": self.submission.id if self.submission else None,
            "problems": [self._problem_json(p) for p in self.problems],
        }

    def _problem_json(self, p: Problem) -> dict[str, Any]:
        d = p.to_json()
        if p.file != self.path:  # the patch file's own problems say which file
            d["file"] = p.file
        return d


class SubmissionIndex:
    """Which submissions exist and whom each names as parent: for parent and cycle checks."""

    def __init__(self, parents: Mapping[str, str | None] | None = None):
        self.parents: dict[str, str | None] = dict(parents or {})

    @classmethod
    def scan(cls, submissions_dir: Path, *, max_bytes: int = 64 * 1024,
             skip: frozenset[Path] = frozenset()) -> "SubmissionIndex":
        """Read every submissions/<login>/<name>.yaml; files that do not parse count as existing
        without a parent (their own problems are reported when they are validated). Files in
        `skip` (resolved paths) count as existing and are not read: the caller overlays them."""
        parents: dict[str, str | None] = {}
        if submissions_dir.is_dir():
            for f in sorted(submissions_dir.glob("*/*.yaml")):
                if f.is_symlink() or not f.is_file():
                    continue
                sid = f"{f.parent.name}/{f.stem}"
                parent = None
                if f.resolve() in skip:
                    parents[sid] = None
                    continue
                try:
                    data = yamlstrict.load(f.read_bytes(), max_bytes=max_bytes).data
                    if isinstance(data, dict) and isinstance(data.get("parent"), str):
                        parent = data["parent"]
                except Exception:  # noqa: BLE001 - one hostile file must not break every check
                    pass
                parents[sid] = parent
        return cls(parents)

    def with_overlay(self, overlay: Mapping[str, str | None]) -> "SubmissionIndex":
        merged = dict(self.parents)
        merged.update(overlay)
        return SubmissionIndex(merged)

    def __contains__(self, sid: str) -> bool:
        return sid in self.parents

    def ancestry_reaches(self, start: str, target: str) -> bool:
        """True if following parents from `start` arrives at `target` (a cycle through target)."""
        seen = set()
        cur: str | None = start
        while cur is not None and cur not in seen:
            if cur == target:
                return True
            seen.add(cur)
            cur = self.parents.get(cur)
        return False


def location(path_in_repo: str, challenge: Challenge) -> tuple[str | None, str | None]:
    """(login, stem) when `path_in_repo` is <submissions_dir>/<login>/<stem>.yaml, else (None, None).
    `path_in_repo` is relative to the challenge file's folder, with forward slashes."""
    sub_dir = _rel_posix(challenge.submissions_dir, challenge.root)
    p = PurePosixPath(path_in_repo)
    if sub_dir is None or len(p.parts) != len(sub_dir.parts) + 2:
        return None, None
    if p.parts[: len(sub_dir.parts)] != sub_dir.parts:
        return None, None
    return p.parts[-2], p.stem


def _rel_posix(p: Path, root: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(p.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return None


def is_under_submissions(path_in_repo: str, challenge: Challenge) -> bool:
    sub_dir = _rel_posix(challenge.submissions_dir, challenge.root)
    if sub_dir is None:
        return False
    parts = PurePosixPath(path_in_repo).parts
    return parts[: len(sub_dir.parts)] == sub_dir.parts and len(parts) > len(sub_dir.parts)


INTERNAL_ERROR = "the validator could not check this file"


def validate_file(
    raw: bytes,
    *,
    path_in_repo: str,
    challenge: Challenge,
    index: SubmissionIndex | None = None,
    display_path: str | None = None,
    parsed: yamlstrict.Document | yamlstrict.YamlError | None = None,
    read_patch: PatchReader | None = None,
) -> FileReport:
    """Validate one submission file's bytes. Never raises for bad input: every problem is in
    the report. `path_in_repo` (relative to the repository root, forward slashes) decides the
    author and the expected name; `display_path` is what messages call the file. A submission
    that names a patch (engine.patch) has it read by `read_patch` and checked as data; without
    a reader the patch counts as missing."""
    shown = display_path or path_in_repo
    report = FileReport(shown, None)
    login, stem = location(path_in_repo, challenge)
    under = is_under_submissions(path_in_repo, challenge)
    if under and login is None:
        sub_dir = _rel_posix(challenge.submissions_dir, challenge.root)
        report.problems.append(Problem(shown, 1, 1, "", (
            f"a submission must be at {sub_dir}/<your-github-login>/<name>.yaml "
            "(one folder per author, one file per submission). Move the file.")))
    if login is not None and not PurePosixPath(path_in_repo).name.endswith(".yaml"):
        report.problems.append(Problem(shown, 1, 1, "", (
            "the file name must end in .yaml. Rename it.")))
        login, stem = None, None
    if login is not None and not re.fullmatch(LOGIN_RE, login):
        report.problems.append(Problem(shown, 1, 1, "", (
            f"the folder {show(login)} is not a GitHub login. Put the file in the folder named "
            "after your GitHub login.")))
        login = None
    if parsed is None:
        try:
            parsed = yamlstrict.load(raw, max_bytes=challenge.max_submission_bytes)
        except yamlstrict.YamlError as exc:
            parsed = exc
    if isinstance(parsed, yamlstrict.YamlError):
        report.problems.append(Problem(shown, parsed.line, parsed.column, "", parsed.message))
        return report
    doc = parsed
    c = Checker(doc, shown)
    try:
        sub = _check(c, doc.data, challenge, login, stem, index or SubmissionIndex(),
                     path_in_repo)
    except Exception as exc:  # the last line of defence: a hostile file is never a traceback
        c.problems.append(Problem(shown, 1, 1, "", (
            f"{INTERNAL_ERROR} ({type(exc).__name__}). The file is refused; please report it "
            "to the maintainers with the file attached.")))
        sub = None
    patch_problems: list[Problem] = []
    if sub is not None and isinstance(sub.patch, str):
        info, patch_problems = _check_patch_file(c, sub, challenge, shown, path_in_repo,
                                                 read_patch)
        sub = replace(sub, patch=info)
    report.problems.extend(c.problems)
    report.problems.sort(key=lambda p: (p.line, p.column))
    report.problems.extend(patch_problems)  # the patch file's own, after the YAML's
    if not report.problems:
        report.submission = sub
    return report


def patch_location(path: str, name: str) -> str:
    """The patch file beside the YAML at `path` (forward slashes, as in the repository)."""
    parent = PurePosixPath(path.replace("\\", "/")).parent
    return name if str(parent) == "." else f"{parent}/{name}"


def _check_patch_file(c: Checker, sub: Submission, ch: Challenge, shown: str,
                      path_in_repo: str, read_patch: PatchReader | None
                      ) -> tuple[PatchInfo | None, list[Problem]]:
    """Read and check the patch the valid YAML names. Problems of the YAML field go to `c`;
    the patch's own (at its diff lines) are returned."""
    name = sub.patch
    assert isinstance(name, str)
    rule = ch.engines[sub.engine_name]
    shown_patch = patch_location(shown, name)
    repo_patch = patch_location(path_in_repo, name)
    if read_patch is None:
        c.problem(("engine", "patch"), f"names {show(name)}, which was not provided to the "
                                       "validator. Put the patch file beside the YAML.")
        return None, []
    got = read_patch(name, rule.patches.max_bytes)
    if isinstance(got, Problem):
        c.problem(("engine", "patch"), f"names {show(name)}, which cannot be used: "
                                       f"{got.message} Commit the patch file beside the YAML, "
                                       "in the same pull request.")
        return None, []
    problems, parsed = patches.check(got, rule.patches, path=shown_patch)
    if parsed is None:
        if not problems:  # pragma: no cover - check() always says why
            problems = [Problem(shown_patch, 1, 1, "", "is not an acceptable patch.")]
        c.problem(("engine", "patch"), f"{show(name)} is not an acceptable patch "
                                       f"({len(problems)} problem{'s' if len(problems) != 1 else ''}"
                                       " in the patch file, listed below).")
        return None, problems
    return PatchInfo(path=repo_patch, sha256=parsed.sha256, bytes=parsed.size,
                     files=len(parsed.files), added=parsed.added, removed=parsed.removed,
                     paths=tuple(f.path for f in parsed.files)), []


def disk_patch_reader(folder: Path) -> PatchReader:
    """Reads a patch file in `folder` (the YAML's): a regular file, not a link, at most
    max_bytes (a larger one is reported, not read)."""
    def read(name: str, max_bytes: int) -> bytes | Problem:
        p = folder / name
        if p.is_symlink():
            return Problem(str(p), 1, 1, "", "it is a symbolic link.")
        if not p.exists():
            return Problem(str(p), 1, 1, "", "it does not exist.")
        if not p.is_file():
            return Problem(str(p), 1, 1, "", "it is not a regular file.")
        try:
            with p.open("rb") as fh:
                raw = fh.read(max_bytes + 1)
        except OSError as exc:
            return Problem(str(p), 1, 1, "", f"it cannot be read ({exc.strerror}).")
        if len(raw) > max_bytes:
            return Problem(str(p), 1, 1, "", f"it is larger than {max_bytes} bytes, the most a "
                                             "patch may have.")
        return raw
    return read


def _check(c: Checker, d: Any, ch: Challenge, login: str | None, stem: str | None,
           index: SubmissionIndex, path_in_repo: str) -> Submission | None:
    if not c.mapping((), d, required=TOP_REQUIRED, optional=TOP_OPTIONAL,
                     what=" of fields (name, description, model, engine, ...)"):
        return None
    name = c.string(("name",), d.get("name"), pattern=NAME_RE, max_len=63,
                    hint="Use 1-63 lowercase letters, digits and hyphens, starting with a letter "
                         "or digit.")
    if name is not None and stem is not None and name != stem:
        c.problem(("name",), f"{show(name)} must equal the file name {show(stem + '.yaml')}. "
                             f"Rename the file to {name}.yaml or set name: {stem}.")
    desc = c.string(("description",), d.get("description"), max_len=MAX_DESCRIPTION)
    if desc is not None:
        if not desc.strip():
            c.problem(("description",), "must not be blank. Say what the submission changes.")
        elif has_unsafe_characters(desc):
            c.problem(("description",), "contains control characters or invisible direction "
                                        "marks. Remove them.")

    parent = None
    if "parent" in d:
        parent = c.string(("parent",), d.get("parent"), pattern=ID_RE, max_len=103,
                          hint="Write the parent as <github-login>/<name>.")
        if parent is not None:
            self_id = f"{login}/{name}" if login and name else None
            if parent == self_id:
                c.problem(("parent",), "names this submission itself. Name the submission it "
                                       "builds on, or remove parent.")
            elif parent not in index:
                c.problem(("parent",), f"{show(parent)} is not an existing submission. Use the "
                                       "<login>/<name> of a file in submissions/, or remove "
                                       f"parent.{suggest(parent, index.parents)}")
            elif self_id and index.ancestry_reaches(parent, self_id):
                c.problem(("parent",), f"{show(parent)} descends from this submission, so the "
                                       "lineage would form a cycle. Choose an ancestor instead.")

    tags: list[str] = []
    if "tags" in d:
        tags = c.string_list(("tags",), d.get("tags"), allowed=ch.tags, max_items=MAX_TAGS)

    model = _check_model_ref(c, ("model",), d.get("model"), ch)
    engine = _check_engine(c, d.get("engine"), ch)

    claimed_tps = claimed_ppl = None
    if "claimed" in d:
        cl = d.get("claimed")
        if c.mapping(("claimed",), cl, optional=["tps", "ppl"]):
            if "tps" in cl:
                claimed_tps = c.number(("claimed", "tps"), cl.get("tps"), positive=True)
            if "ppl" in cl:
                claimed_ppl = c.number(("claimed", "ppl"), cl.get("ppl"), positive=True)

    tried = _check_tried(c, d.get("tried")) if "tried" in d else None
    tracks = _check_tracks(c, d.get("tracks"), ch) if "tracks" in d else ()

    if c.problems or name is None or desc is None or model is None or engine is None:
        return None
    patch_name, source = engine[3], engine[4]
    if patch_name is not None and patch_name != f"{name}.patch":
        c.problem(("engine", "patch"), f"{show(patch_name)} must be {show(name + '.patch')}: "
                                       "the patch is named after the submission and lies beside "
                                       f"its YAML. Rename the patch file to {name}.patch.")
        return None
    # While validating, `patch` holds the file name; validate_file replaces it with PatchInfo.
    return Submission(
        login=login, name=name, description=desc, model=model, engine_name=engine[0],
        engine_version=engine[1], engine_args=engine[2], parent=parent, tags=tuple(tags),
        claimed_tps=claimed_tps, claimed_ppl=claimed_ppl, path=path_in_repo, tried=tried,
        patch=patch_name, source=source, tracks=tracks,  # type: ignore[arg-type]
    )


def _check_tracks(c: Checker, t: Any, ch: Challenge) -> tuple[str, ...]:
    """`tracks: [a10g, l4]`: the challenge's tracks this submission is measured on."""
    known = ch.track_names
    if not isinstance(t, list):
        c.problem(("tracks",), f"must be a list of track names, not {type_name(t)}. Write "
                               f"[{', '.join(known)}], or remove tracks to target every track.")
        return ()
    if not t:
        c.problem(("tracks",), "names no track. Name at least one of "
                               f"{', '.join(known)}, or remove tracks to target every track.")
        return ()
    if len(t) > MAX_TRACKS:
        c.problem(("tracks",), f"has {len(t)} items; this challenge has {len(known)} tracks.")
        return ()
    out: list[str] = []
    for i, name in enumerate(t):
        if not isinstance(name, str):
            c.problem(("tracks", i), f"must be a track name, not {type_name(name)}. Tracks: "
                                     f"{', '.join(known)}.")
        elif name not in known:
            c.problem(("tracks", i), f"{show(name)} is not a track of this challenge."
                                     f"{suggest(name, known)} Tracks: {', '.join(known)}.")
        elif name in out:
            c.problem(("tracks", i), f"{show(name)} is listed twice. List it once.")
        else:
            out.append(name)
    return tuple(out)


def _check_tried(c: Checker, t: Any) -> Tried | None:
    if not c.mapping(("tried",), t, required=["outcome", "what_happened"], optional=["tps"],
                     what=" (outcome, what_happened, and optionally tps)"):
        return None
    outcome = t.get("outcome")
    if outcome not in TRIED_OUTCOMES:
        c.problem(("tried", "outcome"), f"{show(outcome)} is not an outcome. Use one of: "
                                        f"{', '.join(TRIED_OUTCOMES)}.")
        outcome = None
    what = c.string(("tried", "what_happened"), t.get("what_happened"),
                    max_len=MAX_WHAT_HAPPENED)
    if what is not None:
        if not what.strip():
            c.problem(("tried", "what_happened"), "must not be blank. Say what you saw.")
            what = None
        elif has_unsafe_characters(what):
            c.problem(("tried", "what_happened"), "contains control characters or invisible "
                                                  "direction marks. Remove them.")
            what = None
    tps = None
    if "tps" in t:
        tps = c.number(("tried", "tps"), t.get("tps"), positive=True)
    if outcome is None or what is None:
        return None
    return Tried(outcome, what, tps)


def _check_revision(c: Checker, path: tuple[Any, ...], value: Any) -> str | None:
    if not isinstance(value, str):
        c.problem(path, f"must be a full commit SHA in quotes, not {type_name(value)}.")
        return None
    if re.fullmatch(REVISION_RE, value):
        return value
    if re.fullmatch(r"[0-9a-fA-F]{40}", value):
        c.problem(path, "must be lowercase. Write the SHA in lowercase letters.")
    elif re.fullmatch(r"[0-9a-fA-F]{4,39}", value):
        c.problem(path, f"{show(value)} is a short SHA. Write the full 40-character commit SHA "
                        "(the model page's commit history shows it).")
    else:
        c.problem(path, f"{show(value)} is a branch, tag or other name, which can move. Pin the "
                        "full 40-character commit SHA instead.")
    return None


def _check_model_id(c: Checker, path: tuple[Any, ...], value: Any, ch: Challenge) -> str | None:
    mid = c.string(path, value, max_len=200)
    if mid is None:
        return None
    if mid.startswith("./") or mid.startswith("/") or mid.startswith("../"):
        if not ch.allow_local_models:
            c.problem(path, "local paths are not allowed in this challenge. Use a Hugging Face "
                            "Hub repo id such as owner/name.")
            return None
        if not re.fullmatch(LOCAL_ID_RE, mid):
            c.problem(path, f"{show(mid)} is not a valid local model path. Write ./<name>, a "
                            "folder under the challenge's models directory, without '..'.")
            return None
        return mid
    if not re.fullmatch(HUB_ID_RE, mid):
        hint = " or ./<name> for a local model" if ch.allow_local_models else ""
        c.problem(path, f"{show(mid)} is not a Hugging Face Hub repo id. Write owner/name"
                        f"{hint}.")
        return None
    return mid


def _check_model_ref(c: Checker, path: tuple[Any, ...], m: Any, ch: Challenge) -> ModelRef | None:
    if not c.mapping(path, m, required=["id", "revision"]):
        return None
    mid = _check_model_id(c, path + ("id",), m.get("id"), ch)
    rev = _check_revision(c, path + ("revision",), m.get("revision")) if "revision" in m else None
    return ModelRef(mid, rev) if mid and rev else None


def _check_engine(c: Checker, e: Any, ch: Challenge
                  ) -> tuple[str, str, dict[str, Any], str | None, Source | None] | None:
    if not c.mapping(("engine",), e, required=["name", "version"],
                     optional=["args", "patch", "source"]):
        return None
    name = c.string(("engine", "name"), e.get("name"), max_len=40)
    rule = None
    if name is not None:
        rule = ch.engines.get(name)
        if rule is None:
            c.problem(("engine", "name"), f"{show(name)} is not allowed in this challenge. "
                                          f"Use one of: {', '.join(sorted(ch.engines))}.")
    version = None
    raw_version = e.get("version")
    if isinstance(raw_version, (int, float)) and not isinstance(raw_version, bool):
        c.problem(("engine", "version"), f"must be a string: write version: "
                                         f"\"{raw_version}\" in quotes (0.32 and 0.32.0 differ).")
    else:
        version = c.string(("engine", "version"), raw_version, max_len=40)
    if version is not None and rule is not None and not rule.allows(version):
        c.problem(("engine", "version"), f"{show(version)} is not allowed: {name} must be "
                                         f"{rule.describe()}.")
        version = None
    args: dict[str, Any] = {}
    if "args" in e:
        raw_args = e.get("args")
        if raw_args is None:
            raw_args = {}
        if c.mapping(("engine", "args"), raw_args, closed=False):
            for key, value in raw_args.items():
                checked = _check_arg(c, ("engine", "args", key), key, value, ch)
                if checked is not _BAD:
                    args[key] = checked
    patch_name = _check_patch_field(c, e, rule, version) if "patch" in e else None
    source = None
    if "source" in e:
        source = _check_source(c, e.get("source"))
        if "patch" not in e:
            c.problem(("engine", "source"), "records where a patch came from, but there is no "
                                            "engine.patch. Add the patch or remove source.",
                      at_key=True)
    if name is None or rule is None or version is None:
        return None
    return name, version, args, patch_name, source


def _check_patch_field(c: Checker, e: Any, rule: EngineRule | None,
                       version: str | None) -> str | None:
    value = e.get("patch")
    path = ("engine", "patch")
    if not isinstance(value, str):
        c.problem(path, f"must be the patch's file name in quotes, not {type_name(value)}.")
        return None
    if "/" in value or "\\" in value:
        c.problem(path, f"{show(value)} must be a plain file name (no folders): the patch lies "
                        "beside the YAML, in your own folder.")
        return None
    if not re.fullmatch(PATCH_NAME_RE, value):
        c.problem(path, f"{show(value)} is not a patch file name. Write <name>.patch, with the "
                        "submission's name.")
        return None
    if rule is None or version is None:
        return value
    if not rule.patches.allowed:
        c.problem(path, "this challenge does not allow engine patches. Remove engine.patch.",
                  at_key=True)
        return None
    if version not in rule.releases:
        pinned = ", ".join(sorted(rule.releases)) or "none"
        c.problem(path, f"a patch is made against a pinned release, and {show(version)} has "
                        f"none (pinned: {pinned}). Set engine.version to a pinned release and "
                        "make the patch against its tag.", at_key=True)
        return None
    return value


def _check_source(c: Checker, s: Any) -> Source | None:
    path = ("engine", "source")
    if not c.mapping(path, s, required=["repo", "commit"]):
        return None
    repo = c.string(path + ("repo",), s.get("repo"), pattern=REPO_RE, max_len=140,
                    hint="Write the GitHub repository as owner/name.")
    if repo is not None and (repo.endswith(".git") or ".." in repo):
        c.problem(path + ("repo",), f"{show(repo)}: write owner/name without '.git' or '..'.")
        repo = None
    commit = _check_revision(c, path + ("commit",), s.get("commit")) if "commit" in s else None
    return Source(repo, commit) if repo and commit else None


_BAD = object()


def _check_arg(c: Checker, path: tuple[Any, ...], key: Any, value: Any, ch: Challenge) -> Any:
    if not isinstance(key, str):
        c.problem(path, "argument names must be strings.", at_key=True)
        return _BAD
    norm = key.replace("-", "_")
    if norm in FORBIDDEN_ARGS:
        c.problem(path, f"{show(key)} is not allowed: {FORBIDDEN_ARGS[norm]}. Remove it.",
                  at_key=True)
        return _BAD
    spec = ch.engine_args.get(key)
    if spec is None:
        c.problem(path, f"{show(key)} is not an allowed engine argument.{suggest(key, ch.engine_args)}"
                        f" Allowed: {', '.join(sorted(ch.engine_args))}.", at_key=True)
        return _BAD
    return _check_value(c, path, value, spec, ch)


def _check_value(c: Checker, path: tuple[Any, ...], value: Any, spec: ArgSpec,
                 ch: Challenge) -> Any:
    n = len(c.problems)
    if spec.type == "bool":
        c.boolean(path, value)
    elif spec.type == "int":
        c.integer(path, value, minimum=spec.min, maximum=spec.max)  # type: ignore[arg-type]
    elif spec.type == "float":
        c.number(path, value, minimum=spec.min, maximum=spec.max)
    elif spec.type == "enum":
        if value not in spec.values or isinstance(value, bool):
            allowed = ", ".join(str(v) for v in spec.values)
            c.problem(path, f"{show(value)} is not allowed. Use one of: {allowed}.")
    elif spec.type == "int_list":
        if not isinstance(value, list) or not value:
            c.problem(path, f"must be a non-empty list of whole numbers, not {type_name(value)}.")
        else:
            if len(value) > spec.max_items:
                c.problem(path, f"has {len(value)} items; at most {spec.max_items} are allowed.")
            for i, item in enumerate(value):
                c.integer(path + (i,), item, minimum=spec.min, maximum=spec.max)  # type: ignore[arg-type]
            if len(set(map(repr, value))) != len(value):
                c.problem(path, "lists a value twice. List each once.")
    elif spec.type == "object":
        if c.mapping(path, value, optional=list(spec.fields),
                     unknown_hint=f" Allowed here: {', '.join(sorted(spec.fields))}."):
            for k, v in value.items():
                if k in spec.fields:
                    _check_value(c, path + (k,), v, spec.fields[k], ch)
    elif spec.type == "speculative":
        _check_speculative(c, path, value, spec, ch)
    return value if len(c.problems) == n else _BAD


def _check_speculative(c: Checker, path: tuple[Any, ...], value: Any, spec: ArgSpec,
                       ch: Challenge) -> None:
    if not isinstance(value, dict):
        c.problem(path, f"must be a mapping, not {type_name(value)}: "
                        "{method: ..., num_speculative_tokens: ...}.")
        return
    for k in value:
        if k in FORBIDDEN_SPECULATIVE_FIELDS:
            c.problem(path + (k,), f"{show(k)} is not allowed: {FORBIDDEN_SPECULATIVE_FIELDS[k]}."
                                   " Remove it.", at_key=True)
        elif k not in SPECULATIVE_FIELDS:
            c.problem(path + (k,), f"unknown field {show(k)}.{suggest(k, SPECULATIVE_FIELDS)} "
                                   f"Allowed here: {', '.join(SPECULATIVE_FIELDS)}.", at_key=True)
    method = value.get("method")
    if "method" not in value:
        c.problem(path, "the required field 'method' is missing. Add it "
                        f"(one of: {', '.join(spec.methods)}).")
    elif not isinstance(method, str):
        c.problem(path + ("method",), f"must be a string, not {type_name(method)}. Use one of: "
                                      f"{', '.join(spec.methods)}.")
        method = None
    elif method in FORBIDDEN_SPECULATIVE_METHODS:
        c.problem(path + ("method",), f"{show(method)} is not allowed: "
                                      f"{FORBIDDEN_SPECULATIVE_METHODS[method]}.")
        method = None
    elif method not in spec.methods:
        c.problem(path + ("method",), f"{show(method)} is not allowed. Use one of: "
                                      f"{', '.join(spec.methods)}.")
        method = None
    lo, hi = spec.num_speculative_tokens
    if "num_speculative_tokens" not in value:
        c.problem(path, f"the required field 'num_speculative_tokens' is missing. Add it "
                        f"({lo} to {hi}).")
    else:
        c.integer(path + ("num_speculative_tokens",), value["num_speculative_tokens"],
                  minimum=lo, maximum=hi)
    if method is None:
        return
    if method in spec.drafter_methods:
        if "model" not in value:
            c.problem(path, f"method {show(method)} needs a drafter: add model (a Hub repo id) "
                            "and its revision (a full commit SHA).")
        else:
            _check_model_id(c, path + ("model",), value["model"], ch)
            if "revision" not in value:
                c.problem(path, "the drafter model needs its own revision: add revision with "
                                "the full 40-character commit SHA.")
            else:
                _check_revision(c, path + ("revision",), value["revision"])
    else:
        for k in ("model", "revision"):
            if k in value:
                c.problem(path + (k,), f"method {show(method)} uses no drafter model. Remove {k}.",
                          at_key=True)
    lookups = {k: value[k] for k in ("prompt_lookup_min", "prompt_lookup_max") if k in value}
    if lookups and method != "ngram":
        for k in lookups:
            c.problem(path + (k,), f"is only used with method 'ngram'. Remove {k}.", at_key=True)
    elif lookups:
        plo, phi = spec.prompt_lookup
        got = {k: c.integer(path + (k,), v, minimum=plo, maximum=phi) for k, v in lookups.items()}
        if (got.get("prompt_lookup_min") is not None and got.get("prompt_lookup_max") is not None
                and got["prompt_lookup_min"] > got["prompt_lookup_max"]):
            c.problem(path + ("prompt_lookup_min",), "must not be greater than prompt_lookup_max.")


# -- the published JSON Schema -------------------------------------------------------------------

def json_schema(ch: Challenge) -> dict[str, Any]:
    """The JSON Schema of a submission for challenge `ch`, for editors and agents.

    It describes the shape and the allowlist. A few rules need context the schema cannot hold
    (name equals the file name, the parent exists, no cycles): `arena validate` checks those."""
    revision = {"type": "string", "pattern": f"^{REVISION_RE}$",
                "description": "A full 40-character lowercase commit SHA. Never a branch or tag."}
    model_ids = [{"pattern": f"^{HUB_ID_RE}$"}]
    if ch.allow_local_models:
        model_ids.append({"pattern": f"^{LOCAL_ID_RE}$"})
    model_id = {"type": "string", "anyOf": model_ids,
                "description": "A Hugging Face Hub repo id (owner/name)"
                               + (", or ./<name> for a local model" if ch.allow_local_models
                                  else "") + "."}
    args = {name: _arg_schema(spec, model_id, revision) for name, spec in
            sorted(ch.engine_args.items())}
    versions = {name: rule.describe() for name, rule in ch.engines.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"arena submission ({ch.title})",
        "description": f"One submission to the {ch.title} challenge, at "
                       "submissions/<github-login>/<name>.yaml. Validate locally with "
                       "`arena validate`.",
        "x-arena-schema-version": SUBMISSION_SCHEMA_VERSION,
        "type": "object",
        "additionalProperties": False,
        "required": list(TOP_REQUIRED),
        "properties": {
            "name": {"type": "string", "pattern": f"^{NAME_RE}$",
                     "description": "Unique per author; equals the file name without .yaml."},
            "description": {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION,
                            "description": "What the submission changes and why, 1-2000 "
                                           "characters."},
            "parent": {"type": "string", "pattern": f"^{ID_RE}$",
                       "description": "<login>/<name> of the submission this one builds on."},
            "tags": {"type": "array", "maxItems": MAX_TAGS, "uniqueItems": True,
                     "items": {"enum": list(ch.tags)}},
            "model": {"type": "object", "additionalProperties": False,
                      "required": ["id", "revision"],
                      "properties": {"id": model_id, "revision": revision}},
            "engine": {
                "type": "object", "additionalProperties": False, "required": ["name", "version"],
                "properties": {
                    "name": {"enum": sorted(ch.engines)},
                    "version": {"type": "string",
                                "description": "Allowed: " + "; ".join(
                                    f"{k} {v}" for k, v in sorted(versions.items()))},
                    "args": {"type": "object", "additionalProperties": False,
                             "properties": args,
                             "description": "Allowlisted engine arguments only."},
                    **_patch_schema(ch),
                },
            },
            "claimed": {"type": "object", "additionalProperties": False,
                        "properties": {"tps": {"type": "number", "exclusiveMinimum": 0},
                                       "ppl": {"type": "number", "exclusiveMinimum": 0}},
                        "description": "Optional: your own measurement on the public prompts."},
            "tracks": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": list(ch.track_names)},
                       "description": "The hardware tracks to be measured and ranked on "
                                      "(default: every track: "
                                      + ", ".join(ch.track_names) + ")."},
            "tried": {"type": "object", "additionalProperties": False,
                      "required": ["outcome", "what_happened"],
                      "properties": {
                          "outcome": {"enum": list(TRIED_OUTCOMES)},
                          "what_happened": {"type": "string", "minLength": 1,
                                            "maxLength": MAX_WHAT_HAPPENED},
                          "tps": {"type": "number", "exclusiveMinimum": 0,
                                  "description": "Your own measurement, if any (unverified)."}},
                      "description": "A negative result: what was tried and what happened. "
                                     "No run is requested; it is listed on the tried page and "
                                     "in the lineage tree."},
        },
    }


def _patch_schema(ch: Challenge) -> dict[str, Any]:
    rules = [(n, r) for n, r in sorted(ch.engines.items()) if r.patches.allowed and r.releases]
    if not rules:
        return {}
    name, rule = rules[0]
    pinned = ", ".join(f"{v} (tag {r.tag}" + (f", commit {r.commit})" if r.commit else ")")
                       for v, r in sorted(rule.releases.items()))
    p = rule.patches
    return {
        "patch": {"type": "string", "pattern": f"^{PATCH_NAME_RE}$",
                  "description": "<name>.patch beside this file: a `git diff --full-index "
                                 f"<tag> -- vllm/` of a vLLM clone against the pinned release "
                                 f"of engine.version ({pinned}). Only .py files under vllm/; "
                                 f"at most {p.max_bytes} bytes, {p.max_files} files, "
                                 f"{p.max_file_lines} added lines and {p.max_file_bytes} added "
                                 "bytes per file."},
        "source": {"type": "object", "additionalProperties": False,
                   "required": ["repo", "commit"],
                   "description": "Where the patch came from (shown on the site).",
                   "properties": {
                       "repo": {"type": "string", "pattern": f"^{REPO_RE}$", "maxLength": 140,
                                "description": "A GitHub repository, owner/name."},
                       "commit": {"type": "string", "pattern": f"^{REVISION_RE}$",
                                  "description": "The full commit SHA of the patched tree."}}},
    }


def _arg_schema(spec: ArgSpec, model_id: dict[str, Any], revision: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if spec.type == "bool":
        out = {"type": "boolean"}
    elif spec.type == "int":
        out = {"type": "integer", "minimum": spec.min, "maximum": spec.max}
    elif spec.type == "float":
        out = {"type": "number", "minimum": spec.min, "maximum": spec.max}
    elif spec.type == "enum":
        out = {"enum": list(spec.values)}
    elif spec.type == "int_list":
        out = {"type": "array", "minItems": 1, "maxItems": spec.max_items, "uniqueItems": True,
               "items": {"type": "integer", "minimum": spec.min, "maximum": spec.max}}
    elif spec.type == "object":
        out = {"type": "object", "additionalProperties": False,
               "properties": {k: _arg_schema(v, model_id, revision)
                              for k, v in sorted(spec.fields.items())}}
    else:  # speculative
        lo, hi = spec.num_speculative_tokens
        plo, phi = spec.prompt_lookup
        out = {
            "type": "object", "additionalProperties": False,
            "required": ["method", "num_speculative_tokens"],
            "properties": {
                "method": {"enum": list(spec.methods)},
                "model": model_id,
                "revision": revision,
                "num_speculative_tokens": {"type": "integer", "minimum": lo, "maximum": hi},
                "prompt_lookup_min": {"type": "integer", "minimum": plo, "maximum": phi},
                "prompt_lookup_max": {"type": "integer", "minimum": plo, "maximum": phi},
            },
        }
        out["allOf"] = [{
            "if": {"not": {"properties": {"method": {"const": "ngram"}}}},
            "then": {"not": {"anyOf": [{"required": ["prompt_lookup_min"]},
                                       {"required": ["prompt_lookup_max"]}]}},
        }]
        if spec.drafter_methods:
            out["allOf"] += [{
                "if": {"properties": {"method": {"enum": list(spec.drafter_methods)}}},
                "then": {"required": ["model", "revision"]},
                "else": {"not": {"anyOf": [{"required": ["model"]}, {"required": ["revision"]}]}},
            }]
    if spec.description:
        out["description"] = spec.description
    return out


def schema_text(ch: Challenge) -> str:
    """The published schema file's exact text (tests compare the file with it)."""
    return json.dumps(json_schema(ch), indent=2) + "\n"


def schema_path(ch: Challenge) -> Path:
    return ch.submissions_dir / "schema.json"


def iter_submission_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into the .yaml files below them (sorted); keep files as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*.yaml") if f.is_file()))
        else:
            out.append(p)
    return out
