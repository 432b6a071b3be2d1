"""Reading a pull request's files through the API, as data: which files it changes, and the bytes
of one file at one commit. Nothing from a pull request is ever checked out or executed."""

from __future__ import annotations

from dataclasses import dataclass

from github import GithubException

from arena.problems import Problem
from bot.context import Bot

# GitHub lists at most 3000 files of a pull request; a submission PR has a handful.
MAX_FILES = 300


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # added | removed | modified | renamed | copied | changed | unchanged
    previous_path: str | None = None

    @property
    def removed(self) -> bool:
        return self.status == "removed"

    def paths(self) -> list[str]:
        """Every path this change touches (a rename touches two)."""
        return [self.path] + ([self.previous_path] if self.previous_path else [])


class TooManyFiles(Exception):
    pass


def changed_files(bot: Bot, number: int) -> list[ChangedFile]:
    """The PR's changed files (one request per 100 files)."""
    out = []
    for f in bot.repo.get_pull(number).get_files():
        if len(out) >= MAX_FILES:
            raise TooManyFiles(f"the pull request changes more than {MAX_FILES} files")
        out.append(ChangedFile(f.filename, f.status, f.previous_filename or None))
    return out


def read_file_at(bot: Bot, path: str, sha: str, *, max_bytes: int,
                 what: str = "a submission") -> bytes | Problem:
    """The bytes of a regular file at a commit, or a Problem saying why it cannot be used: not a
    regular file (a symbolic link, a submodule, a folder), too large, or absent. API failures
    other than 404 propagate: they say nothing about the file."""
    try:
        content = bot.repo.get_contents(path, ref=sha)
    except GithubException as exc:
        if exc.status == 404:
            return Problem(path, 1, 1, "", f"does not exist at commit {sha[:12]}.")
        raise
    if isinstance(content, list):
        return Problem(path, 1, 1, "", "is a folder, not a file.")
    kind = content.type
    # GitHub follows a symbolic link to a regular file and answers with the target's path and
    # bytes; a link to anything else comes back as type "symlink".
    if kind == "symlink" or content.path != path:
        return Problem(path, 1, 1, "", "is a symbolic link. Commit the file itself.")
    if kind != "file":
        return Problem(path, 1, 1, "", f"is a {kind}, not a regular file. Commit the file itself.")
    if content.size > max_bytes:
        return Problem(path, 1, 1, "", f"is {content.size} bytes; {what} may be at most "
                                       f"{max_bytes} bytes.")
    if content.encoding != "base64":
        return Problem(path, 1, 1, "", "could not be read through the API (no content).")
    raw = content.decoded_content
    if len(raw) > max_bytes:
        return Problem(path, 1, 1, "", f"is {len(raw)} bytes; {what} may be at most "
                                       f"{max_bytes} bytes.")
    return raw
