"""The GitHub client the bot uses: PyGithub with a retry policy that never duplicates a write and
never sleeps for long, and helpers that turn API failures into sentences for people.

Policy:
- Reads (GET) and idempotent writes (PATCH, PUT, DELETE) are retried on 5xx, timeouts and
  connection errors, a few times with a short backoff.
- POST creates things (comments, check runs, issues, dispatches) and is never retried here: a
  502 or a timeout may come after GitHub already created it. Callers that create things re-check
  before creating again (see `bot.comments.post_comment`). The one PATCH that adds rather than
  sets (a check run's annotations) goes through `without_patch_retries` for the same reason.
- Rate limits are waited out only when the wait is short (`max_wait` seconds, from Retry-After or
  x-ratelimit-reset); otherwise the call fails at once with a message that says until when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import requests
from github import Auth, Github, GithubException
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.GithubRetry import GithubRetry
from github.Requester import Requester
from urllib3 import Retry

USER_AGENT = "arena-bot"
T = TypeVar("T")

# Methods whose repetition leaves GitHub in the same state as one call.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ClientSettings:
    """How the bot talks to GitHub. The entry point fills this from the environment."""

    api_url: str = "https://api.github.com"
    timeout_s: int = 20
    retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 60.0  # the longest rate-limit wait the bot accepts
    request_interval_s: float = 0.0
    write_interval_s: float = 1.0  # GitHub asks integrations to space content-creating writes


class BoundedRetry(GithubRetry):
    """GithubRetry that retries only idempotent methods and refuses long rate-limit waits."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):  # type: ignore[override]
        if response is not None and response.status in (403, 429):
            wait = retry_after_seconds(response.headers)
            if wait is not None and self.max_rate_limit_wait is not None \
                    and wait > self.max_rate_limit_wait:
                body: Any = {"message": f"rate limited for {wait:.0f} s"}
                raise RateLimitExceededExceedsMaxWait(response.status, body,
                                                      dict(response.headers), wait=wait)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retry_after_seconds(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def make_retry(settings: ClientSettings) -> Retry:
    return BoundedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        backoff_factor=settings.backoff_s,
        backoff_max=max(settings.backoff_s * 8, 1.0),
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=list(range(500, 600)) + [429],
        raise_on_status=False,  # hand the last response to PyGithub, which raises with its body
        respect_retry_after_header=True,
        retry_after_max=int(max(settings.max_wait_s, 1)),
        secondary_rate_wait=min(60.0, settings.max_wait_s),
        max_rate_limit_wait=settings.max_wait_s,
    )


def make_github(token: str, settings: ClientSettings) -> Github:
    """A lazy PyGithub client: objects are fetched only when a missing attribute is read."""
    return Github(
        auth=Auth.Token(token),
        base_url=settings.api_url.rstrip("/"),
        timeout=int(settings.timeout_s),
        user_agent=USER_AGENT,
        per_page=100,
        retry=make_retry(settings),
        seconds_between_requests=settings.request_interval_s or None,
        seconds_between_writes=settings.write_interval_s or None,
        lazy=True,
    )


def without_patch_retries(gh: Github) -> Requester:
    """A requester like `gh`'s that never repeats a PATCH, for the one PATCH that adds to what is
    there: a check run's annotations (GitHub appends each update's annotations to the earlier
    ones). Repeating it after a timeout or a 5xx that GitHub applied anyway would show each
    annotation twice; the caller looks before sending again (`bot.checks`). A failed connect
    sent nothing and is still retried."""
    kwargs = gh.requester.kwargs
    retry = kwargs.get("retry")
    if isinstance(retry, Retry) and retry.allowed_methods:
        kwargs["retry"] = retry.new(allowed_methods=frozenset(retry.allowed_methods) - {"PATCH"})
    return Requester(**kwargs)


# -- failures -----------------------------------------------------------------------------------

API_ERRORS = (GithubException, requests.exceptions.RequestException)


def status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, GithubException) else None


def is_rate_limited(exc: BaseException) -> bool:
    if isinstance(exc, RateLimitExceededExceedsMaxWait):
        return True
    if isinstance(exc, GithubException) and exc.status in (403, 429):
        message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else ""
        return exc.status == 429 or "rate limit" in message.lower() or \
            (exc.headers or {}).get("x-ratelimit-remaining") == "0"
    return False


def maybe_applied(exc: BaseException) -> bool:
    """True when a failed write may still have happened on GitHub's side: a 5xx answer, a
    timeout or a broken connection. A 4xx answer means GitHub refused the request."""
    if isinstance(exc, GithubException):
        return exc.status >= 500
    return isinstance(exc, requests.exceptions.RequestException)


def rate_limit_reset(exc: BaseException, now: dt.datetime) -> dt.datetime | None:
    """When a rate-limited request may be tried again, if GitHub said."""
    if isinstance(exc, RateLimitExceededExceedsMaxWait) and exc.wait:
        return now + dt.timedelta(seconds=exc.wait)
    headers = getattr(exc, "headers", None) or {}
    lower = {str(k).lower(): v for k, v in dict(headers).items()}
    if "retry-after" in lower:
        secs = retry_after_seconds({"Retry-After": lower["retry-after"]})
        if secs is not None:
            return now + dt.timedelta(seconds=secs)
    reset = lower.get("x-ratelimit-reset")
    if reset and str(reset).isdigit():
        return dt.datetime.fromtimestamp(int(reset), dt.timezone.utc)
    return None


def describe_failure(exc: BaseException, what: str, now: dt.datetime | None = None) -> str:
    """One sentence for people: what failed and whether it is worth trying again soon."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if is_rate_limited(exc):
        until = rate_limit_reset(exc, now)
        when = f" until {until.strftime('%H:%M UTC')}" if until else ""
        return f"{what} failed: GitHub's API rate limit is used up{when}."
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{what} failed: GitHub did not answer in time."
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"{what} failed: the connection to GitHub broke."
    if isinstance(exc, requests.exceptions.RequestException):
        return f"{what} failed: {type(exc).__name__}."
    if isinstance(exc, GithubException):
        message = ""
        if isinstance(exc.data, dict) and isinstance(exc.data.get("message"), str):
            message = exc.data["message"][:200]
        if exc.status >= 500:
            return f"{what} failed: GitHub answered {exc.status} (a problem on GitHub's side)."
        if exc.status == 404:
            return f"{what} failed: GitHub answered 404 (not found, or not visible to the bot)."
        if exc.status in (401, 403):
            return (f"{what} failed: GitHub answered {exc.status} ({message or 'forbidden'}); "
                    "the workflow's token may lack a permission.")
        return f"{what} failed: GitHub answered {exc.status} ({message or 'error'})."
    return f"{what} failed: {type(exc).__name__}."


def with_rate_limit_wait(call: Callable[[], T], *, max_wait_s: float,
                         sleep: Callable[[float], None]) -> T:
    """Run a non-idempotent call; if GitHub refused it for a rate limit that resets soon, wait
    and run it once more. A refused request was not applied, so running it again is safe."""
    try:
        return call()
    except GithubException as exc:
        if not is_rate_limited(exc):
            raise
        now = dt.datetime.now(dt.timezone.utc)
        reset = rate_limit_reset(exc, now)
        wait = (reset - now).total_seconds() + 0.5 if reset else None
        if wait is None or wait > max_wait_s:
            raise
        sleep(max(0.0, wait))
        return call()
