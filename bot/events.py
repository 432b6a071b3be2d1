"""Which handler answers which GitHub Actions event."""

from __future__ import annotations

from typing import Any

from arena import exitcodes
from bot import commands, validation
from bot.context import Bot


def route(bot: Bot, event_name: str, payload: dict[str, Any]) -> int:
    if event_name in ("pull_request_target", "pull_request"):
        return validation.on_pull_request(bot, payload)
    if event_name == "issue_comment":
        return commands.on_issue_comment(bot, payload)
    bot.say(f"event {event_name}: nothing to do")
    return exitcodes.OK
