"""Asking for a leaderboard rebuild: a workflow_dispatch of the site workflow."""

from __future__ import annotations

from bot.client import API_ERRORS, describe_failure
from bot.context import Bot


def dispatch_site(bot: Bot) -> str:
    """Dispatch the site workflow; return a sentence for the participant either way. A lost
    answer may mean a second rebuild, which is harmless, so no look-up is needed."""
    try:
        bot.repo.get_workflow(bot.site_workflow).create_dispatch(bot.default_branch, {},
                                                                 throw=True)
        bot.say(f"dispatched {bot.site_workflow}")
        return "The leaderboard is being rebuilt."
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, f"Dispatching {bot.site_workflow}", bot.now()))
        return "The leaderboard rebuild could not be started; it will catch up at the next one."
