"""Shared pieces of the bot's Markdown. Every piece of untrusted text (names, descriptions, file
paths, logins from payloads, reasons typed by people) goes through arena.text.md_inline or
md_block; everything else here is the bot's own words."""

from __future__ import annotations

import datetime as dt

from arena.challenge import Challenge
from arena.text import md_block, md_inline
from bot.context import Bot

COMMANDS_HELP: tuple[tuple[str, str, str], ...] = (
    ("/bench [name] [sha] [track] [vs [login/name]]",
     "maintainers, or the author when the challenge allows it",
     "benchmark the submission at the commit you reviewed (named, or the head the bot last "
     "checked before your comment), on a track (default: its first); `vs` measures it against "
     "another submission in one job, interleaved (`vs` alone: its parent), and costs two runs"),
    ("/rerun [name]", "as /bench", "benchmark it again (after an error, or to check the noise)"),
    ("/cancel", "maintainers; the PR's author while a run is still queued",
     "cancel this PR's queued (or, maintainers, running) benchmark; a started run is recorded"),
    ("/status", "anyone", "show this PR's check, its runs and the author's quota"),
    ("/withdraw [name]", "the author and maintainers",
     "take the submission off the leaderboard (its results stay on record)"),
    ("/invalidate [login/name] <reason>", "maintainers",
     "mark the submission's runs invalid, with a reason"),
    ("/reinstate [login/name] [reason]", "maintainers",
     "undo the latest /withdraw or /invalidate still in force (one at a time; it says what "
     "still holds)"),
    ("/help", "anyone", "this list"),
)


def short(sha: str) -> str:
    return sha[:7]


def code(text: str, limit: int | None = 120) -> str:
    return md_inline(text, limit)


def block(text: str, info: str = "text") -> str:
    return md_block(text, info)


def when(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def help_text(challenge: Challenge) -> str:
    rows = ["| Command | Who | What it does |", "|---|---|---|"]
    for cmd, who, what in COMMANDS_HELP:
        rows.append(f"| `{cmd}` | {who} | {what} |")
    authors = ("Authors may start their own runs" if challenge.authors_may_bench
               else "Only maintainers start runs")
    return "\n".join([
        "**Commands** (one per line, at the start of a line, in a PR comment):",
        "",
        *rows,
        "",
        f"{authors}; each author gets {challenge.quota_runs_per_day} benchmark runs per 24 hours "
        "(every run of their submissions counts, whoever asked for it). Check a submission "
        "locally with `arena validate submissions/<login>/<name>.yaml`. A command you may not "
        f"use gets a 👎 reaction; more than {challenge.commands_per_hour} commands an hour get a "
        "😕 reaction and no answer.",
    ])


def footer(bot: Bot) -> str:
    parts = ["arena bot"]
    url = bot.run_url()
    if url:
        parts.append(f"[workflow run]({url})")
    parts.append("comment `/help` for commands")
    return "\n\n<sub>" + " · ".join(parts) + "</sub>"
