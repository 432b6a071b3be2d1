"""`arena bot fetch-submission`: the bench job's only contact with the pull request. With a
read-only token it checks that the PR's head is still the commit a maintainer approved, reads
the submission file at that commit through the API as data, validates it, and writes its bytes;
the engine patch it names, read and checked the same way, is written beside it. Nothing from the
PR is checked out or run."""

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
from bot.validation import api_patch_reader, base_index

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
    patch_bytes: dict[str, bytes] = {}
    reader = api_patch_reader(bot, path, sha)

    def keep(name: str, max_bytes: int) -> bytes | Problem:
        got = reader(name, max_bytes)
        if isinstance(got, bytes):
            patch_bytes[name] = got
        return got
    try:
        report = validate_file(raw, path_in_repo=path, challenge=bot.challenge,
                               index=base_index(bot.challenge), read_patch=keep)
    except API_ERRORS as exc:
        print(f"arena bot fetch-submission: {describe_failure(exc, 'Reading the patch')}",
              file=sys.stderr)
        return exitcodes.INFRA
    if not report.valid:
        for p in report.problems:
            print(p.format(), file=sys.stderr)
        return refuse(f"{path} at {sha[:12]} is not a valid submission.")
    sub = report.submission
    if sub is not None and sub.patch is not None:
        # The validated bytes, beside the YAML where `arena bench` reads them (a plain name).
        name = sub.patch.path.rsplit("/", 1)[-1]
        write_bytes_atomic(out.with_name(name), patch_bytes[name])
        bot.say(f"wrote {out.with_name(name)} (engine patch, SHA-256 {sub.patch.sha256})")
    write_bytes_atomic(out, raw)
    bot.say(f"wrote {out} ({len(raw)} bytes, {sub.id if sub else ''})")
    return exitcodes.OK
