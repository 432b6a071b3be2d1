"""Labels that show a pull request's state at a glance. Each group holds at most one label at a
time; the bot adds the one that fits and removes the rest of its group, and never touches
anyone else's labels."""

from __future__ import annotations

from typing import Iterable

from github import GithubException

from bot.context import Bot
from bot.writes import create_once

VALIDATION = {
    "valid": "arena: valid",
    "invalid": "arena: invalid",
    "error": "arena: check failed",
}
BENCHMARK = {
    "queued": "arena: queued",
    "verified": "arena: verified",
    "invalid": "arena: run invalid",
    "error": "arena: run error",
    "voided": "arena: run voided",
}
SUBMISSION = {
    "withdrawn": "arena: withdrawn",
    "invalidated": "arena: invalidated",
}
DIGEST = "arena: digest"
ALL = set(VALIDATION.values()) | set(BENCHMARK.values()) | set(SUBMISSION.values())


def current_labels(bot: Bot, number: int) -> list[str]:
    issue = bot.repo.get_issue(number)
    return [lb.name for lb in issue.get_labels()]


def set_state_label(bot: Bot, number: int, group: dict[str, str], state: str | None,
                    current: Iterable[str] | None = None) -> None:
    """Make `group[state]` the only label of its group on the issue (none when state is None).
    `current` (the issue's labels, e.g. from the event payload) saves a request."""
    have = set(current) if current is not None else set(current_labels(bot, number))
    want = group.get(state) if state else None
    issue = bot.repo.get_issue(number)
    if want and want not in have:
        # PyGithub's add_to_labels posts a bare list; the REST description documents only the
        # {"labels": [...]} form, so send that.
        # Adding a label that is there already changes nothing: writing again is the look.
        create_once(bot, f"adding the label {want!r}", lambda: bot.gh.requester.requestJsonAndCheck(
            "POST", f"{issue.url}/labels", input={"labels": [want]}))
    for name in group.values():
        if name != want and name in have:
            try:
                issue.remove_from_labels(name)
            except GithubException as exc:
                if exc.status != 404:  # already gone: the state we wanted
                    raise
