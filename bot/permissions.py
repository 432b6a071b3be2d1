"""Who may do what: challenge.yaml's maintainers and the repository's collaborators with write,
maintain or admin permission are maintainers; everyone else is a participant."""

from __future__ import annotations

from github import GithubException

from bot.context import Bot

MAINTAINER_PERMISSIONS = ("admin", "maintain", "write")


def is_maintainer(bot: Bot, login: str) -> bool:
    """challenge.yaml first (no request), then the collaborator permission API (one request)."""
    if bot.challenge.is_maintainer(login):
        return True
    return _collaborator_permission(bot, login.lower()) in MAINTAINER_PERMISSIONS


def _collaborator_permission(bot: Bot, login: str) -> str:
    cache = bot.permission_cache
    if login not in cache:
        try:
            cache[login] = bot.repo.get_collaborator_permission(login)
        except GithubException as exc:
            if exc.status != 404:  # 404: no such user, so certainly no permission
                raise
            cache[login] = "none"
    return cache[login]
