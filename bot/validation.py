"""Validation of a pull request's submission files: the same check as `arena validate`, run on the
files of the PR's head commit read through the API, answered with one sticky comment, the check
run `arena/validate` with line annotations, and a label.

A submission PR adds or changes files only under submissions/<author>/; maintainers may change
more. The YAML is read as data at the head commit: regular files only, under the size cap. A
submission may carry an engine patch, <name>.patch beside <name>.yaml: read the same way, checked
by arena.patch, and summarised in the comment (files, lines, SHA-256, a link to the file) so that
a maintainer reads the code before `/bench`. The patch's text is never rendered.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable
from urllib.parse import quote

from arena import exitcodes, yamlstrict
from arena.challenge import Challenge
from arena.problems import Problem
from arena.submission import (
    NAME_RE,
    FileReport,
    PatchReader,
    SubmissionIndex,
    is_under_submissions,
    location,
    patch_location,
    validate_file,
)
from bot import checks, comments, labels
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.files import ChangedFile, TooManyFiles, changed_files, read_file_at
from bot.owners import folder_owner, not_owner_message
from bot.permissions import is_maintainer
from bot.render import block, code, footer, short
from bot import tried

COMMENT_KIND = "validation"
MAX_LISTED = 20


class State(str, enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"  # GitHub failed us; nothing is known about the submission
    NONE = "none"  # the PR holds no submission files (a maintainer's change)


@dataclass
class Assessment:
    number: int
    sha: str
    author: str
    reports: list[FileReport] = field(default_factory=list)
    policy: list[Problem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failure: str | None = None

    @property
    def state(self) -> State:
        if self.failure:
            return State.ERROR
        if self.policy or any(not r.valid for r in self.reports):
            return State.INVALID
        if not self.reports:
            return State.NONE if not self.removed else State.VALID
        return State.VALID

    @property
    def valid_reports(self) -> list[FileReport]:
        return [r for r in self.reports if r.valid]


def submissions_prefix(challenge: Challenge) -> str:
    return PurePosixPath(challenge.submissions_dir.resolve().relative_to(
        challenge.root.resolve()).as_posix()).as_posix()


def check_paths(files: list[ChangedFile], author: str, challenge: Challenge,
                author_is_maintainer: Callable[[], bool]) -> tuple[list[str], list[Problem], list[str]]:
    """Pure policy: which files to validate as submissions, which changes are not allowed, which
    submission files are removed. Asks whether the author is a maintainer only when it matters."""
    prefix = submissions_prefix(challenge)
    own = f"{prefix}/{author}/"
    outside = sorted({p for f in files for p in f.paths() if not p.startswith(own)})
    problems: list[Problem] = []
    if outside and not author_is_maintainer():
        for p in outside[:MAX_LISTED]:
            problems.append(Problem(p, 1, 1, "", (
                f"is outside {own}. A submission pull request may only add or change files in "
                "your own folder (named exactly like your GitHub login); move other changes to "
                "a separate pull request.")))
        if len(outside) > MAX_LISTED:
            problems.append(Problem(outside[MAX_LISTED], 1, 1, "",
                                    f"and {len(outside) - MAX_LISTED} more files are outside "
                                    f"{own}."))
    to_validate, removed = [], []
    for f in files:
        if not is_under_submissions(f.path, challenge):
            continue
        if f.removed:
            removed.append(f.path)
            continue
        if f.path.endswith(".yaml"):
            to_validate.append(f.path)
        elif is_patch_path(f.path, challenge):
            continue  # validated with the YAML that names it (patch_paths)
        elif f.path.startswith(own) or location(f.path, challenge)[0] is not None:
            problems.append(Problem(f.path, 1, 1, "", (
                "only submission files (<name>.yaml) and their engine patches (<name>.patch) "
                "belong here. Rename the file or remove it.")))
    return to_validate, problems, removed


def is_patch_path(path: str, challenge: Challenge) -> bool:
    """submissions/<login>/<name>.patch: an engine patch beside its submission."""
    login, stem = location(path, challenge)
    return bool(login and stem and path.endswith(".patch") and re.fullmatch(NAME_RE, stem))


def patch_paths(files: list[ChangedFile], challenge: Challenge) -> list[str]:
    """The engine patches the PR adds or changes (removed ones fail the YAML that names them)."""
    return [f.path for f in files if not f.removed and is_patch_path(f.path, challenge)]


def yaml_beside(patch_path: str) -> str:
    return patch_path[: -len(".patch")] + ".yaml"


def patch_of(raw: bytes, max_bytes: int) -> str | None:
    """engine.patch of a submission file, if it names one (no validation)."""
    try:
        data = yamlstrict.load(raw, max_bytes=max_bytes).data
    except yamlstrict.YamlError:
        return None
    engine = data.get("engine") if isinstance(data, dict) else None
    value = engine.get("patch") if isinstance(engine, dict) else None
    return value if isinstance(value, str) else None


def api_patch_reader(bot: Bot, yaml_path: str, sha: str) -> PatchReader:
    """Reads the patch a submission names from the same commit, through the API, as data."""
    def read(name: str, max_bytes: int) -> bytes | Problem:
        path = patch_location(yaml_path, name)
        bot.say(f"reading {path} at {short(sha)}")
        return read_file_at(bot, path, sha, max_bytes=max_bytes, what="a patch")
    return read


def parent_of(raw: bytes, max_bytes: int) -> str | None:
    try:
        data = yamlstrict.load(raw, max_bytes=max_bytes).data
    except yamlstrict.YamlError:
        return None
    if isinstance(data, dict) and isinstance(data.get("parent"), str):
        return data["parent"]
    return None


def validate_contents(contents: dict[str, bytes | Problem], challenge: Challenge,
                      base_index: SubmissionIndex,
                      patch_reader: Callable[[str], PatchReader] | None = None
                      ) -> list[FileReport]:
    """Pure: validate files read from a commit, parents resolved against the base checkout's
    submissions plus the PR's own files (for cycle checks). A parent must already be on the
    default branch: the bench job measures one file on a checkout of that branch, where a
    parent that only this PR adds does not exist (`arena bench` would refuse it), so such a
    child is refused here, with a message that says what to do. `patch_reader(path)` reads
    the patch the file at `path` names (None: patches are missing)."""
    overlay: dict[str, str | None] = {}
    for path, raw in contents.items():
        login, stem = location(path, challenge)
        if login and stem and isinstance(raw, bytes):
            overlay[f"{login}/{stem}"] = parent_of(raw, challenge.max_submission_bytes)
    index = base_index.with_overlay(overlay)
    pending = {sid for sid in overlay if sid not in base_index}
    reports = []
    for path, raw in contents.items():
        if isinstance(raw, Problem):
            reports.append(FileReport(path, None, [raw]))
            continue
        report = validate_file(raw, path_in_repo=path, challenge=challenge, index=index,
                               read_patch=patch_reader(path) if patch_reader else None)
        sub = report.submission
        if sub is not None and sub.parent in pending:
            report.problems.append(Problem(path, _parent_line(raw, challenge), 1, "parent", (
                f"{sub.parent} is added by this same pull request, so it is not on the default "
                "branch yet, where the benchmark runs. Submit the parent in a pull request of "
                "its own first, and this one once it is merged (or remove `parent`).")))
            report.submission = None
        reports.append(report)
    return reports


def _parent_line(raw: bytes, challenge: Challenge) -> int:
    try:
        return yamlstrict.load(raw, max_bytes=challenge.max_submission_bytes).mark(
            ("parent",)).line
    except yamlstrict.YamlError:
        return 1


def base_index(challenge: Challenge) -> SubmissionIndex:
    """The submissions on the trusted base checkout (the workflow checks out the default
    branch, never the PR)."""
    return SubmissionIndex.scan(challenge.submissions_dir, max_bytes=challenge.max_submission_bytes)


def assess_pull_request(bot: Bot, number: int, sha: str, author: str,
                        author_id: int | None = None) -> Assessment:
    """Read the PR's changed files and submission YAMLs at `sha` through the API and validate
    them. API failures end in an ERROR assessment that says what failed."""
    a = Assessment(number, sha, author)
    try:
        files = changed_files(bot, number)
        bot.say(f"#{number} changes {len(files)} file(s)")
        to_validate, a.policy, a.removed = check_paths(
            files, author, bot.challenge, lambda: is_maintainer(bot, author))
        a.policy += ownership_problems(bot, files, author, author_id)
        patches = patch_paths(files, bot.challenge)
        # A patch changed alone is validated with the submission beside it, read at the head.
        lone = [yaml_beside(p) for p in patches if yaml_beside(p) not in to_validate]
        contents: dict[str, bytes | Problem] = {}
        for path in to_validate + lone:
            bot.say(f"reading {path} at {short(sha)}")
            contents[path] = read_file_at(bot, path, sha,
                                          max_bytes=bot.challenge.max_submission_bytes)
        max_yaml = bot.challenge.max_submission_bytes
        # A patch removed while the YAML beside it stays: that YAML is checked (and fails if it
        # still names the patch).
        for f in files:
            y = yaml_beside(f.path)
            if (f.removed and is_patch_path(f.path, bot.challenge) and y not in contents
                    and y not in a.removed):
                bot.say(f"reading {y} at {short(sha)}")
                raw = read_file_at(bot, y, sha, max_bytes=max_yaml)
                if isinstance(raw, bytes):
                    contents[y] = raw
        for p in patches:
            raw = contents.get(yaml_beside(p))
            named = patch_of(raw, max_yaml) if isinstance(raw, bytes) else None
            if named != PurePosixPath(p).name:
                a.policy.append(Problem(p, 1, 1, "", (
                    f"is an engine patch, but no submission names it: add or fix "
                    f"{PurePosixPath(yaml_beside(p)).name} beside it with engine.patch: "
                    f"{PurePosixPath(p).name}, or remove the patch.")))
                if yaml_beside(p) in lone:
                    contents.pop(yaml_beside(p), None)
        a.reports = validate_contents(contents, bot.challenge, base_index(bot.challenge),
                                      lambda path: api_patch_reader(bot, path, sha))
    except TooManyFiles as exc:
        a.policy.append(Problem("(pull request)", 1, 1, "", f"{exc}. A submission PR adds one "
                                                             "file or a few."))
        return a
    except API_ERRORS as exc:
        a.failure = describe_failure(exc, "Reading the pull request's files", bot.now())
        return a
    return a


def ownership_problems(bot: Bot, files: list[ChangedFile], author: str,
                       author_id: int | None) -> list[Problem]:
    """A folder claimed by another account (bot.owners) may not be changed by this PR's author,
    whatever their login. Maintainers' PRs are not limited."""
    logins = sorted({login for f in files for p in f.paths()
                     for login in [location(p, bot.challenge)[0]] if login})
    if not logins or author_id is None:
        return []
    out = []
    maintainer = None
    for login in logins[:MAX_LISTED]:
        owner = folder_owner(bot, login)
        if owner is None or owner == author_id:
            continue
        if maintainer is None:
            maintainer = is_maintainer(bot, author)
        if maintainer:
            return []
        out.append(Problem(f"{submissions_prefix(bot.challenge)}/{login}/", 1, 1, "",
                           not_owner_message(login, owner, author_id)))
    return out


# -- answering ----------------------------------------------------------------------------------

def _headline(a: Assessment) -> str:
    s = a.state
    n = len(a.reports)
    if s is State.VALID:
        return f"### ✅ Submission check passed ({n} file{'s' if n != 1 else ''})"
    if s is State.INVALID:
        bad = sum(not r.valid for r in a.reports) + (1 if a.policy else 0)
        return f"### ❌ Submission check failed ({bad} problem file{'s' if bad != 1 else ''})"
    if s is State.ERROR:
        return "### ⚠️ Submission check could not run"
    return "### ℹ️ No submission files in this pull request"


def tried_notes(bot: Bot, valid: list[FileReport]) -> list[str]:
    """Notes on configurations already tried (bot/tried.py); a note never fails the check."""
    try:
        return tried.notes(bot.challenge, valid, repo_url=bot.repo_url,
                           branch=bot.default_branch)
    except Exception as exc:  # a courtesy: never in the way of the check itself
        bot.say(f"the already-tried note failed: {type(exc).__name__}: {exc}")
        return []


def render_comment(bot: Bot, a: Assessment) -> str:
    lines = [_headline(a), "",
             f"Checked commit [`{short(a.sha)}`]({bot.commit_url(a.sha)}) of #{a.number}."]
    if a.failure:
        lines += ["", a.failure, "",
                  "This says nothing about your submission. The check runs again when you push "
                  "a commit, or when the pull request is closed and reopened."]
        return "\n".join(lines) + footer(bot)
    if a.policy:
        lines += ["", "**Files this pull request may not change:**", "",
                  block("\n".join(p.format() for p in a.policy))]
    valid = a.valid_reports
    if valid:
        lines += ["", "| File | Submission | Model | Engine |", "|---|---|---|---|"]
        for r in valid:
            s = r.submission
            assert s is not None
            lines.append(f"| {code(r.path)} | {code(s.id)} | {code(s.model.id)} "
                         f"{code(short(s.model.revision))} | {code(s.engine_name)} "
                         f"{code(s.engine_version)}, {len(s.engine_args)} argument(s) |")
        for r in valid:
            s = r.submission
            assert s is not None
            lines.append("")
            lines.append(f"{code(s.id)}: {code(s.description, 300)}")
        lines += tried_notes(bot, valid)
        for r in valid:
            lines += patch_summary(bot, r, a.sha)
    invalid = [r for r in a.reports if not r.valid]
    for r in invalid:
        lines += ["", f"**{code(r.path)}** — {len(r.problems)} problem"
                      f"{'s' if len(r.problems) != 1 else ''} (the same messages as "
                      "`arena validate`):", "",
                  block("\n".join(p.format() for p in r.problems))]
    if a.removed:
        lines += ["", "Removed: " + ", ".join(code(p) for p in a.removed[:MAX_LISTED])]
    lines.append("")
    if a.state is State.VALID:
        who = ("you or a maintainer can start a benchmark with `/bench`"
               if bot.challenge.authors_may_bench else
               "a maintainer can start a benchmark with `/bench`")
        lines.append(f"Next: {who}. A new push needs a new `/bench`.")
    elif a.state is State.INVALID:
        lines.append("Next: fix the lines above and push; this check runs again on every push. "
                     "Run `arena validate <file>` locally to see the same messages before you "
                     "push.")
    return "\n".join(lines) + footer(bot)


def blob_url(bot: Bot, sha: str, path: str) -> str:
    return f"{bot.repo_url}/blob/{sha}/{quote(path, safe='/')}"


def patch_summary(bot: Bot, r: FileReport, sha: str) -> list[str]:
    """The engine patch of a valid submission, for the maintainer who reads it before /bench:
    counts, escaped paths, its SHA-256 and a link to the file; never its text."""
    s = r.submission
    if s is None or s.patch is None:
        return []
    p = s.patch
    rule = bot.challenge.engines.get(s.engine_name)
    release = rule.releases.get(s.engine_version) if rule else None
    base = f"{code(s.engine_name)} {code(s.engine_version)}"
    if release is not None:
        base += f" (tag {code(release.tag)}" + (
            f", commit {code(short(release.commit))})" if release.commit else ")")
    out = ["", f"**Engine patch of {code(s.id)}:** [{code(p.path)}]({blob_url(bot, sha, p.path)})"
               f" against {base}: {p.files} file{'s' if p.files != 1 else ''}, "
               f"+{p.added} −{p.removed} lines, {p.bytes} bytes, SHA-256 {code(p.sha256)}."]
    if s.source is not None:
        out.append(f"Made from {code(s.source.repo)} at commit {code(s.source.commit)}.")
    shown = [code(path) for path in p.paths[:MAX_LISTED]]
    more = f" and {len(p.paths) - MAX_LISTED} more" if len(p.paths) > MAX_LISTED else ""
    out += ["", "Files: " + ", ".join(shown) + more + ".",
            "", "A maintainer reads the patch (the link above) before `/bench`. It is applied to "
                "a copy of the release's `vllm` package and served only in the sandbox."]
    return out


def annotations_for(a: Assessment) -> list[checks.Annotation]:
    out = []
    for p in a.policy:
        if not p.file.startswith("("):
            out.append(checks.Annotation(p.file, 1, p.message, "not allowed in this PR"))
    for r in a.reports:
        for p in r.problems:
            msg = f"{p.field}: {p.message}" if p.field else p.message
            # A patch's own problems are at its diff lines, in the patch file.
            where = p.file if p.file != r.path and p.file.endswith(".patch") else r.path
            out.append(checks.Annotation(where, p.line, msg, "arena validate"))
    return out


CONCLUSIONS = {State.VALID: "success", State.INVALID: "failure", State.ERROR: "neutral",
               State.NONE: "neutral"}


def answer(bot: Bot, a: Assessment, current_labels: list[str] | None) -> int:
    """Post the comment, the check run and the label. Each is tried even if another failed; a
    failure is logged and written to the job summary, and the exit code says so."""
    state = a.state
    body = render_comment(bot, a)
    failed = []
    shared: int | None = None
    try:
        shared = checks.earlier_owner_of_head(bot, a.number, a.sha, a.author)
        lookup_ok = True
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Listing the open pull requests", bot.now()))
        lookup_ok = False
    if shared is not None:
        body += (f"\n\nCommit `{short(a.sha)}` is also the head of #{shared}, an earlier pull "
                 "request by someone else, so no check run is set on it from here (a check run "
                 "belongs to the commit, and would show on that pull request too). Push a commit "
                 "of your own.")
    if state is not State.NONE:
        try:
            comments.upsert_state_comment(bot, a.number, COMMENT_KIND, state.value, body,
                                          sha=short(a.sha), head=a.sha)
            bot.say(f"answered on #{a.number}: {state.value}")
        except API_ERRORS as exc:
            failed.append(describe_failure(exc, "Posting the validation comment", bot.now()))
    try:
        if shared is not None or not lookup_ok:
            bot.say(f"no check run on {short(a.sha)} (shared head: #{shared})")
        else:
            checks.create_check_run(
                bot, name=checks.VALIDATE, sha=a.sha, status="completed",
                conclusion=CONCLUSIONS[state], title=_headline(a).lstrip("# "),
                summary=body, annotations=annotations_for(a), details_url=bot.pr_url(a.number))
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Creating the check run", bot.now()))
    try:
        labels.set_state_label(bot, a.number, labels.VALIDATION,
                               None if state is State.NONE else state.value, current_labels)
    except API_ERRORS as exc:
        failed.append(describe_failure(exc, "Setting the label", bot.now()))
    if failed or state is State.ERROR:
        for line in failed:
            bot.say(line)
        bot.summarize(body + ("\n\n" + "\n".join(f"- {f}" for f in failed) if failed else ""))
        return exitcodes.INFRA
    return exitcodes.OK


def on_pull_request(bot: Bot, event: dict[str, Any]) -> int:
    action = event.get("action")
    if action not in ("opened", "synchronize", "reopened"):
        bot.say(f"pull_request {action}: nothing to do")
        return exitcodes.OK
    pr = event["pull_request"]
    number, sha, author = int(pr["number"]), pr["head"]["sha"], pr["user"]["login"]
    author_id = pr["user"].get("id") if isinstance(pr["user"].get("id"), int) else None
    current = [lb["name"] for lb in pr.get("labels", []) if isinstance(lb, dict)]
    bot.say(f"validating #{number} at {short(sha)} by {author}")
    assessment = assess_pull_request(bot, number, sha, author, author_id)
    return answer(bot, assessment, current)
