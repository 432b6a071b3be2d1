"""Writes that must happen once: a comment, a check run, a workflow dispatch, the digest issue,
a label.

GitHub may apply a POST and still answer with an error (a 5xx, a timeout, a broken
connection: `bot.client.maybe_applied`), and the client never retries a POST (bot/client.py).
So the one safe way to write is: write; when the failure may have been applied anyway, wait a
little and look for what the write made (by a nonce, an external id, a run name) before writing
again. A refusal (4xx) was not applied and is raised at once.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from bot.client import API_ERRORS, maybe_applied
from bot.context import Bot

T = TypeVar("T")


def create_once(bot: Bot, what: str, create: Callable[[], T],
                find: Callable[[], T | None] | None = None, *, attempts: int = 2,
                pause_s: float = 1.0, retry_when_unsure: bool = False) -> T:
    """`create()` at most `attempts` times, looking with `find()` after each failure that may
    have been applied; what `find` returns counts as created. `find` None: the write is
    idempotent (adding a label), so writing again is the look. The pause grows with each try
    (`pause_s`, then twice that, ...; never longer than the bot's longest wait).

    A look that fails itself raises, since writing again could duplicate the thing, unless
    `retry_when_unsure` (a duplicate costs little: a comment). Raises the last API error when
    nothing was made."""
    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            return create()
        except API_ERRORS as exc:
            last = exc
            if not maybe_applied(exc):
                raise
            if find is None and attempt == attempts - 1:
                raise
            bot.say(f"{what} failed ({type(exc).__name__}); "
                    + ("trying once more" if find is None else
                       "checking whether it happened anyway"))
            bot.sleep(min(pause_s * (attempt + 1), bot.max_wait_s))
            if find is None:
                continue
            try:
                found = find()
            except API_ERRORS as exc2:
                if not retry_when_unsure:
                    raise
                last = exc2
                continue
            if found is not None:
                return found
    assert last is not None
    raise last
