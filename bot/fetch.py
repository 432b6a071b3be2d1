"""`arena bot fetch-submission`: the bench job's only contact with the pull request. With a
read-only token it checks that the PR's head is still the commit a maintainer approved, reads
the submission file at that commit through the API as data, validates it, and writes its bytes.
Nothing from the PR is checked out or run."""

from __future__ import annotations

import sys
from pathlib import Path

from arena import exitcodes
from arena.files import write_bytes_atomic
from arena.problems import Problem
from arena.submission import location, validate_file
from arena.text import for_terminal
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.files import read_file_at
from bot.validation import base_index

HEAD_MOVED = "head-moved"


def head_of(bot: Bot, pr: int) -> str:
    return bot.repo.get_pull(pr).head.sha


def fetch_submission(bot: Bot, *, pr: int, sha: str, path: str, out: Path) -> int:
    def refuse(message: str) -> int:
        print(f"arena bot fetch-submission: refused: {for_terminal(message)}", file=sys.stderr)
        return exitcodes.INVALID

    login, stem = location(path, bot.challenge)
    if not (login and stem and path.endswith(".yaml")):
        return refuse(f"{path} is not a submission path (submissions/<login>/<name>.yaml).")
    try:
        head = head_of(bot, pr)
        if head != sha:
            return refuse(f"pull request #{pr} has moved: its head is {head[:12]}, not the "
                          f"approved commit {sha[:12]}. The run is void; a new /bench is needed.")
        bot.say(f"#{pr} head is still {sha[:12]}; reading {path}")
        raw = read_file_at(bot, path, sha, max_bytes=bot.challenge.max_submission_bytes)
    except API_ERRORS as exc:
        print(f"arena bot fetch-submission: {describe_failure(exc, 'Reading the submission')}",
              file=sys.stderr)
        return exitcodes.INFRA
    if isinstance(raw, Problem):
        return refuse(raw.format())
    # Parents resolve against this checkout of the default branch only, as `arena bench`
    # resolves them: validation refuses a parent that only the pull request adds.
    report = validate_file(raw, path_in_repo=path, challenge=bot.challenge,
                           index=base_index(bot.challenge))
    if not report.valid:
        for p in report.problems:
            print(p.format(), file=sys.stderr)
        return refuse(f"{path} at {sha[:12]} is not a valid submission.")
    write_bytes_atomic(out, raw)
    bot.say(f"wrote {out} ({len(raw)} bytes, {report.submission.id if report.submission else ''})")
    return exitcodes.OK
