"""The command parser: what counts as a command in a comment and what does not."""

from __future__ import annotations

import pytest

from bot.commands import MAX_COMMANDS, is_bot_user, parse_commands


def names(body: str) -> list[tuple[str, str]]:
    return [(c.name, c.args) for c in parse_commands(body)]


@pytest.mark.parametrize("body, expected", [
    ("/bench", [("bench", "")]),
    ("/BENCH", [("bench", "")]),
    ("/Bench.", [("bench", "")]),
    ("/bench!!!", [("bench", "")]),
    ("/bench, please", [("bench", "please")]),
    ("  /bench", [("bench", "")]),  # up to three spaces
    ("thanks!\n/status\n", [("status", "")]),
    ("/bench fast", [("bench", "fast")]),
    ("/invalidate: the drafter was fitted to the public prompts.",
     [("invalidate", "the drafter was fitted to the public prompts.")]),
    ("/reinstate alice/fast checked again", [("reinstate", "alice/fast checked again")]),
    ("/help\r\n/status\r\n", [("help", ""), ("status", "")]),
    ("/status\n/status", [("status", "")]),  # each command once per comment
    ("/benchmark", [("benchmark", "")]),  # unknown, answered as such
    ("/bench l4 vs alice/plain", [("bench", "l4 vs alice/plain")]),  # track and pairing
    ("/Bench vs.", [("bench", "vs.")]),
])
def test_commands_are_found(body, expected):
    assert names(body) == expected


@pytest.mark.parametrize("body", [
    "please /bench",  # not at the start of a line
    "> /bench",  # quoted
    ">> /bench",
    "    /bench",  # indented code
    "\t/bench",
    "```\n/bench\n```",  # fenced code
    "~~~md\n/bench\n~~~",
    "````\n```\n/bench\n```\n````",  # a longer fence is closed only by a longer one
    "<!-- /bench -->",
    "<!--\n/bench\n-->",
    "<!-- unclosed\n/bench",
    "`/bench`",
    "/usr/bin/python crashed",  # a path, not a command
    "\\/bench",
    "\u200b/bench",
    "",
])
def test_non_commands_are_ignored(body):
    assert parse_commands(body) == []


def test_text_after_a_closed_fence_is_read_again():
    assert names("```\n/bench\n```\n/status") == [("status", "")]


def test_line_numbers_survive_html_comments():
    [cmd] = parse_commands("<!--\nx\n-->\n/help")
    assert cmd.line == 4


def test_a_paste_of_many_commands_is_capped():
    body = "\n".join(f"/cmd{i}" for i in range(20))
    assert len(parse_commands(body)) == MAX_COMMANDS


def test_unknown_commands_get_a_suggestion():
    [cmd] = parse_commands("/bnech")
    assert not cmd.known and cmd.suggestion == "bench"
    [cmd] = parse_commands("/xyzzy")
    assert cmd.suggestion is None


@pytest.mark.parametrize("user, is_bot", [
    ({"login": "alice", "type": "User"}, False),
    ({"login": "dependabot[bot]", "type": "Bot"}, True),
    ({"login": "github-actions[bot]", "type": "Bot"}, True),
    ({"login": "renovate[bot]", "type": "User"}, True),
    ({"login": "arena-bot", "type": "User"}, True),  # the bot itself, as configured
    (None, True),
])
def test_bots_are_ignored_including_itself(user, is_bot):
    assert is_bot_user(user, "arena-bot") is is_bot
