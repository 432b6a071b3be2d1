"""Who may do what: the repository's collaborators with write, maintain or admin permission are
maintainers; everyone else is a participant.

Authority is never decided from a login string held in a file: a GitHub login can be renamed,
freed and registered again by someone else, while a collaborator's permission belongs to the
account (GitHub resolves the login to the account that holds it now). challenge.yaml's
`maintainers` list is contact information only and grants nothing."""

from __future__ import annotations

from github import GithubException

from bot.context import Bot

MAINTAINER_PERMISSIONS = ("admin", "maintain", "write")


def is_maintainer(bot: Bot, login: str) -> bool:
    """The collaborator permission API (one request per login and process)."""
    if not login or login.lower().endswith("[bot]"):
        return False
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
