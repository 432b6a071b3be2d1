"""Who owns a submission folder: the numeric GitHub account id that first benchmarked a
submission in it, recorded on the results branch as `owners/<login>.json` (appended once, never
edited).

A login is only a name: it can be renamed, freed and registered again by someone else. The
folder `submissions/<login>/` belongs to the account, so a pull request by another account
touching it is refused (validation, /bench, /withdraw), whatever login that account holds now.
"""

from __future__ import annotations

import json
from typing import Any

from bot.context import Bot
from bot.results_branch import StoreWriteError, append_record, stored_text

OWNER_FORMAT = "arena.owner/1"


def owner_relpath(login: str) -> str:
    return f"owners/{login.lower()}.json"


def folder_owner(bot: Bot, login: str) -> int | None:
    """The account id recorded for the folder, or None when nobody has claimed it yet."""
    text = stored_text(bot, owner_relpath(login))
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    uid = doc.get("id") if isinstance(doc, dict) else None
    return uid if isinstance(uid, int) and not isinstance(uid, bool) else None


def claim_folder(bot: Bot, *, login: str, user_id: int, pr: int, at: str) -> int:
    """Record `user_id` as the folder's owner unless someone already is; returns the owner."""
    current = folder_owner(bot, login)
    if current is not None:
        return current
    doc: dict[str, Any] = {"format": OWNER_FORMAT, "folder": f"submissions/{login}",
                           "login": login, "id": user_id, "pr": pr, "at": at}
    try:
        append_record(bot, owner_relpath(login), doc,
                      f"owner of submissions/{login}: account {user_id} (#{pr})")
    except StoreWriteError:
        current = folder_owner(bot, login)  # a rival claim landed first
        if current is None:
            raise
        return current
    return user_id


def not_owner_message(login: str, owner: int, user_id: int | None) -> str:
    who = f"account #{user_id}" if user_id is not None else "another account"
    return (f"submissions/{login}/ belongs to GitHub account #{owner}, the first to benchmark a "
            f"submission there; this pull request is by {who}. A renamed or re-registered login "
            "cannot act for the folder's earlier owner. Use your own login's folder, or ask a "
            "maintainer if this is wrong.")
