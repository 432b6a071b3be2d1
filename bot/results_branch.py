"""Appending to the results store on GitHub: the `results` branch, written only through the
Contents API, one new file per record (arena.store's layout), never an edit or a deletion.

Two publishers writing at once can collide: GitHub answers 409 when the branch moved under a
commit. The write is then tried again (it adds a new file, so there is nothing to merge) with a
growing, jittered pause, so both records land. A write that GitHub applied but whose answer was
lost shows up as "already exists" on the next try; it counts as done when the stored bytes are
ours.
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable, Iterator

from github import GithubException, InputGitTreeElement

from bot.context import Bot

MAX_ATTEMPTS = 8

BRANCH_README = """# arena results store

This branch is written by the arena bot only, by appending files; nothing here is edited or
deleted. Layout (see arena/store.py):

    results/<login>/<name>/<run-id>.json   one benchmark run's result
    verdicts/<id>.json                      one maintainer or author verdict record

The leaderboard site and the bot read this branch and nothing else.
"""


class StoreWriteError(Exception):
    """The record could not be stored; the message says why, for people."""


def record_text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message", ""))


def _branch_missing(exc: GithubException) -> bool:
    msg = _message(exc).lower()
    return exc.status in (404, 422) and "branch" in msg and "not found" in msg


def _already_exists(exc: GithubException) -> bool:
    return exc.status == 422 and "sha" in _message(exc).lower()


def create_branch(bot: Bot) -> None:
    """Create the results branch as an orphan holding only a README (three requests). Git
    objects are addressed by content, so repeating a step after a lost answer is harmless."""
    repo = bot.repo
    tree = repo.create_git_tree([InputGitTreeElement("README.md", "100644", "blob",
                                                     content=BRANCH_README)])
    commit = repo.create_git_commit("Start the arena results store", tree, [])
    try:
        repo.create_git_ref(f"refs/heads/{bot.results_branch}", commit.sha)
    except GithubException as exc:
        if not (exc.status == 422 and "exists" in _message(exc).lower()):
            raise
    bot.say(f"created the {bot.results_branch} branch")


def append_record(bot: Bot, path: str, doc: dict[str, Any], message: str) -> None:
    """Add one new file to the results branch, or raise StoreWriteError."""
    text = record_text(doc)
    created_branch = False
    for attempt in range(MAX_ATTEMPTS):
        try:
            bot.repo.create_file(path, message, text, branch=bot.results_branch)
            bot.say(f"stored {path} on {bot.results_branch}")
            return
        except GithubException as exc:
            if exc.status == 409:
                pause = min(0.5 * 2 ** attempt, 8.0) * (0.5 + random.random())
                bot.say(f"the {bot.results_branch} branch moved while writing {path}; "
                        f"trying again in {pause:.1f} s")
                bot.sleep(pause)
                continue
            if _branch_missing(exc) and not created_branch:
                create_branch(bot)
                created_branch = True
                continue
            if _already_exists(exc):
                if stored_text(bot, path) == text:
                    bot.say(f"{path} was already stored (an earlier try landed)")
                    return
                raise StoreWriteError(f"{path} already exists on the {bot.results_branch} "
                                      "branch with other content; records are never rewritten."
                                      ) from exc
            raise
    raise StoreWriteError(f"the {bot.results_branch} branch kept moving: {path} was not stored "
                          f"after {MAX_ATTEMPTS} tries.")


def stored_text(bot: Bot, path: str) -> str | None:
    try:
        content = bot.repo.get_contents(path, ref=bot.results_branch)
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise
    if isinstance(content, list) or content.encoding != "base64":
        return None
    return content.decoded_content.decode("utf-8", errors="replace")


def stored_docs(bot: Bot, wanted: Callable[[str], bool], *, limit: int,
                newest_first: bool = False) -> Iterator[dict[str, Any]]:
    """The JSON objects stored at the paths `wanted` picks: the last `limit` in path order
    (record names start with their time), oldest or newest first; a file that is not a JSON
    object is passed over. One request for the branch's tree, one per file read; nothing when
    there is no results branch yet."""
    try:  # one request: GitHub takes a branch name for the tree
        tree = bot.repo.get_git_tree(bot.results_branch, recursive=True)
    except GithubException as exc:
        if exc.status in (404, 409):  # no results branch yet (409: an empty repository)
            return
        raise
    paths = sorted(e.path for e in tree.tree if e.type == "blob" and wanted(e.path))[-limit:]
    for path in reversed(paths) if newest_first else paths:
        text = stored_text(bot, path)
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            continue
        if isinstance(doc, dict):
            yield doc
