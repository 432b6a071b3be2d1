"""Check runs on the PR's head commit: `arena/validate` (with annotations on the offending YAML
lines) and `arena/benchmark`. GitHub takes at most 50 annotations per request, so the rest go in
follow-up updates of the same check run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from bot.client import API_ERRORS, with_rate_limit_wait, without_patch_retries
from bot.context import Bot
from bot.writes import create_once

VALIDATE = "arena/validate"
BENCHMARK = "arena/benchmark"
ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATIONS = 500  # beyond this a participant learns nothing new; the summary says how many
MAX_TEXT = 60000


@dataclass(frozen=True)
class Annotation:
    path: str
    line: int
    message: str
    title: str = ""
    level: str = "failure"

    def to_api(self) -> dict[str, Any]:
        line = max(1, int(self.line))
        out: dict[str, Any] = {"path": self.path, "start_line": line, "end_line": line,
                               "annotation_level": self.level, "message": self.message[:4000]}
        if self.title:
            out["title"] = self.title[:255]
        return out


def _output(title: str, summary: str, annotations: list[Annotation], text: str | None = None
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title[:255], "summary": summary[:MAX_TEXT]}
    if text:
        out["text"] = text[:MAX_TEXT]
    if annotations:
        out["annotations"] = [a.to_api() for a in annotations]
    return out


NO_CHECK = "none"  # in a queued comment's marker: no check run may be set for this run


class NoCheck(Exception):
    """No check run is set: the commit's checks belong to an earlier PR by someone else."""


def earlier_owner_of_head(bot: Bot, number: int, sha: str, author: str) -> int | None:
    """The number of an older open pull request by someone else whose head is `sha`, if any.

    A check run belongs to a commit, not to a pull request: anyone can open a PR whose head is
    another author's commit, and a failing check posted from it would show on the victim's PR.
    The first PR with a commit as its head owns the checks on it; later PRs by other people set
    none there (one request per 100 open PRs)."""
    for pull in bot.repo.get_pulls(state="open", sort="created", direction="asc"):
        if pull.number >= number:
            continue  # later PRs (numbers only grow) never take the commit's checks away
        if pull.head.sha == sha and (pull.user.login or "").lower() != author.lower():
            return pull.number
    return None


def _find_by_external_id(bot: Bot, sha: str, name: str, external_id: str) -> Any | None:
    commit = bot.repo.get_commit(sha)
    for run in commit.get_check_runs(check_name=name):
        if run.external_id == external_id:
            return run
    return None


def create_check_run(bot: Bot, *, name: str, sha: str, status: str, title: str, summary: str,
                     conclusion: str | None = None, text: str | None = None,
                     annotations: list[Annotation] = (),  # type: ignore[assignment]
                     details_url: str | None = None) -> Any:
    """Create a check run, then add annotations past the first 50 in batches. A create that may
    have happened despite an error is looked up (by its external id) before trying again."""
    annotations = list(annotations)[:MAX_ANNOTATIONS]
    first, rest = annotations[:ANNOTATIONS_PER_REQUEST], annotations[ANNOTATIONS_PER_REQUEST:]
    external_id = secrets.token_hex(8)
    kwargs: dict[str, Any] = dict(name=name, head_sha=sha, status=status, external_id=external_id,
                                  output=_output(title, summary, first, text))
    if conclusion:
        kwargs["conclusion"] = conclusion
        kwargs["completed_at"] = bot.now()
    if details_url:
        kwargs["details_url"] = details_url
    run = create_once(bot, f"creating check run {name}",
                      lambda: bot.repo.create_check_run(**kwargs),
                      lambda: _find_by_external_id(bot, sha, name, external_id))
    if rest:
        _add_annotations(bot, run, sha=sha, name=name, external_id=external_id,
                         sent=len(first), batches=[
                             _output(title, summary, rest[i:i + ANNOTATIONS_PER_REQUEST], text)
                             for i in range(0, len(rest), ANNOTATIONS_PER_REQUEST)])
    return run


def _add_annotations(bot: Bot, run: Any, *, sha: str, name: str, external_id: str, sent: int,
                     batches: list[dict[str, Any]]) -> None:
    """Send the annotations past the first 50, one update per batch. GitHub appends each
    update's annotations to those already there, so an update is never repeated blindly: after
    a failure that may have been applied, the check run's annotation count says whether it was."""
    requester = without_patch_retries(bot.gh)
    for output in batches:
        expected = sent + len(output["annotations"])

        def update(output: dict[str, Any] = output) -> Any:
            return with_rate_limit_wait(
                lambda: requester.requestJsonAndCheck("PATCH", run.url, input={"output": output}),
                max_wait_s=bot.max_wait_s, sleep=bot.sleep)

        def applied(expected: int = expected) -> Any | None:
            found = _find_by_external_id(bot, sha, name, external_id)
            count = found.output.annotations_count if found is not None else 0
            return found if (count or 0) >= expected else None

        create_once(bot, f"adding annotations to check run {name}", update, applied)
        sent = expected


def complete_check_run(bot: Bot, check_run_id: int | None, *, sha: str, name: str,
                       conclusion: str, title: str, summary: str, text: str | None = None,
                       details_url: str | None = None) -> Any:
    """Finish the check run created when the work was queued, or create a finished one when
    there is none (a run started by hand) or it cannot be updated."""
    if check_run_id:
        run = bot.repo.get_check_run(int(check_run_id))
        kwargs: dict[str, Any] = dict(status="completed", conclusion=conclusion,
                                      completed_at=bot.now(),
                                      output=_output(title, summary, [], text))
        if details_url:
            kwargs["details_url"] = details_url
        try:
            run.edit(**kwargs)
            return run
        except API_ERRORS as exc:
            bot.say(f"updating check run {check_run_id} failed ({type(exc).__name__}); "
                    "creating a new one")
    return create_check_run(bot, name=name, sha=sha, status="completed", conclusion=conclusion,
                            title=title, summary=summary, text=text, details_url=details_url)

