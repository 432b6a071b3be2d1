"""Bot-owned comments: found again by a hidden marker on their first line AND by the bot's login
(anyone can paste a marker into their own comment), created without duplicates, edited in place.

A marker is an HTML comment, invisible on GitHub:

    <!-- arena-bot kind=validation state=invalid sha=0123abc nonce=9f2c41d0 -->

It is always the very first line of the body, so untrusted text later in the comment can never
pose as one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from bot.client import API_ERRORS, with_rate_limit_wait
from bot.context import Bot
from bot.writes import create_once

MARKER_RE = re.compile(r"\A<!-- arena-bot((?: [a-z_]+=[A-Za-z0-9._/:@+-]*)*) -->")
_VALUE_RE = re.compile(r"[A-Za-z0-9._/:@+-]*")
# GitHub refuses comment bodies over 65536 characters.
MAX_BODY = 65000
# Looking further back than this many comments (newest first) costs pages for no benefit.
MAX_COMMENTS_SCANNED = 1000
PAGE = 100  # the client's per_page (bot.client.make_github)


def marker(kind: str, **fields: Any) -> str:
    parts = [f"kind={kind}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not _VALUE_RE.fullmatch(text):
            raise ValueError(f"marker value {text!r} for {key} has characters markers cannot hold")
        parts.append(f"{key}={text}")
    return f"<!-- arena-bot {' '.join(parts)} -->"


def parse_marker(body: str | None) -> dict[str, str] | None:
    """The fields of the marker at the start of `body`, or None when it has none."""
    if not body:
        return None
    m = MARKER_RE.match(body)
    if not m:
        return None
    out = {}
    for token in m.group(1).split():
        key, _, value = token.partition("=")
        out[key] = value
    return out if "kind" in out else None


def is_bot_login(login: str | None, bot_login: str) -> bool:
    return bool(login) and login.lower() == bot_login.lower()  # type: ignore[union-attr]


@dataclass
class OwnComment:
    comment: Any  # github.IssueComment
    fields: dict[str, str]

    @property
    def id(self) -> int:
        return self.comment.id

    @property
    def kind(self) -> str:
        return self.fields.get("kind", "")


class OwnComments(list):  # type: ignore[type-arg]
    """own_comments' answer; `complete` when it saw the whole thread (one short page)."""

    complete = False


def own_comments(bot: Bot, number: int) -> list[OwnComment]:
    """The bot's marked comments on an issue or PR, oldest first. Read newest first (from the
    last page back, one request per 100), so however long the thread, the bot's recent comments
    are found: a flood of comments can only push back comments older than the newest
    MAX_COMMENTS_SCANNED."""
    issue = bot.repo.get_issue(number)
    listing = issue.get_comments()
    first = listing.get_page(0)  # one request; a short thread ends here
    complete = len(first) < PAGE
    newest_first = reversed(first) if complete else listing.reversed
    out = OwnComments()
    out.complete = complete
    for i, c in enumerate(newest_first):
        if i >= MAX_COMMENTS_SCANNED:
            break
        if not is_bot_login(c.user.login if c.user else None, bot.login):
            continue
        fields = parse_marker(c.body)
        if fields is not None:
            out.append(OwnComment(c, fields))
    out.reverse()
    return out


def find_latest(comments: Iterable[OwnComment], kind: str, **match: str) -> OwnComment | None:
    found = None
    for c in comments:
        if c.kind == kind and all(c.fields.get(k) == str(v) for k, v in match.items()):
            found = c
    return found


def clip(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    return body[: MAX_BODY - 200] + "\n\n_(cut: the message was longer than GitHub allows)_\n"


def post_comment(bot: Bot, number: int, body: str) -> Any:
    """Create a comment once (bot.writes): if GitHub fails in a way that may still have created
    it (5xx, timeout), look for it by the nonce in its marker before creating it again; a rate
    limit that resets soon is waited out. Raises the last API error when the comment cannot be
    made."""
    body = clip(body)
    fields = parse_marker(body)
    nonce = fields.get("nonce") if fields else None
    issue = bot.repo.get_issue(number)

    def create() -> Any:
        return with_rate_limit_wait(lambda: issue.create_comment(body),
                                    max_wait_s=bot.max_wait_s, sleep=bot.sleep)

    def find() -> Any | None:
        return next((c.comment for c in own_comments(bot, number)
                     if c.fields.get("nonce") == nonce), None)

    if nonce is None:  # nothing to find it by: one try
        return create()
    # A failed look is retried: the worst that can come of it is the comment shown twice (three
    # times if every look fails), never a silent bot.
    return create_once(bot, f"creating a comment on #{number}", create, find, attempts=3,
                       pause_s=2.0, retry_when_unsure=True)


def with_nonce(kind: str, **fields: Any) -> str:
    """A marker with a fresh nonce, for a comment about to be created."""
    return marker(kind, **fields, nonce=secrets.token_hex(4))


def edit_comment(bot: Bot, comment: Any, body: str) -> Any:
    """Edit a bot comment (PATCH, safe to repeat); skipped when nothing changed. The caller keeps
    the marker's nonce so the comment can still be found by it."""
    body = clip(body)
    if comment.body != body:
        comment.edit(body)
    return comment


def _anchor(bot: Bot, number: int, kind: str) -> OwnComment | None:
    """The bot's first comment of `kind`, oldest first: near the top of the thread (it was made
    when the PR opened), so a flood of later comments cannot push it away."""
    for i, c in enumerate(bot.repo.get_issue(number).get_comments()):
        if i >= MAX_COMMENTS_SCANNED:
            return None
        if not is_bot_login(c.user.login if c.user else None, bot.login):
            continue
        fields = parse_marker(c.body)
        if fields is not None and fields.get("kind") == kind:
            return OwnComment(c, fields)
    return None


def _far_sticky(bot: Bot, number: int, kind: str) -> OwnComment | None:
    """The sticky comment when the newest comments do not hold it: the one the anchor's marker
    names (`latest`), or the anchor itself."""
    anchor = _anchor(bot, number, kind)
    if anchor is None:
        return None
    pointer = anchor.fields.get("latest", "")
    if pointer.isdigit() and int(pointer) != anchor.id:
        try:
            target = bot.repo.get_issue(number).get_comment(int(pointer))
        except API_ERRORS:
            return anchor
        fields = parse_marker(target.body)
        if is_bot_login(target.user.login if target.user else None, bot.login) \
                and fields is not None and fields.get("kind") == kind:
            return OwnComment(target, fields)
    return anchor


def find_sticky(bot: Bot, number: int, kind: str,
                existing: list[OwnComment] | None = None) -> OwnComment | None:
    """The current sticky comment of `kind`, however long the thread: among the newest
    comments, or through the anchor's pointer (see upsert_state_comment)."""
    mine = existing if existing is not None else own_comments(bot, number)
    found = find_latest(mine, kind)
    if found is not None or getattr(mine, "complete", False):
        return found
    return _far_sticky(bot, number, kind)


def upsert_state_comment(bot: Bot, number: int, kind: str, state: str, body_without_marker: str,
                         *, existing: list[OwnComment] | None = None, **fields: Any) -> Any:
    """The sticky comment of `kind`: edited in place while its state is unchanged, a new comment
    (which notifies people) when the state changes. The first comment of the kind (the anchor)
    keeps the id of the current one in its marker (`latest`), so the bot finds it again even
    when a flood of comments has pushed it out of the newest pages."""
    latest = find_sticky(bot, number, kind, existing)
    if latest is not None and latest.fields.get("state") == state:
        body = marker(kind, state=state, **fields, nonce=latest.fields.get("nonce"),
                      latest=latest.fields.get("latest")) + "\n" + body_without_marker
        return edit_comment(bot, latest.comment, body)
    body = with_nonce(kind, state=state, **fields) + "\n" + body_without_marker
    new = post_comment(bot, number, body)
    if latest is not None:  # there is an earlier one: point the anchor at the new comment
        try:
            anchor = _anchor(bot, number, kind)
            if anchor is not None and anchor.id != new.id:
                f = {k: v for k, v in anchor.fields.items() if k != "kind"}
                f["latest"] = new.id
                rest = (anchor.comment.body or "").partition("\n")[2]
                edit_comment(bot, anchor.comment, marker(kind, **f) + "\n" + rest)
        except API_ERRORS:
            bot.say(f"could not point the first {kind} comment at the new one")
    return new
