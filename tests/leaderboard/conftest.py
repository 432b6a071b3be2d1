"""Fixtures for the leaderboard tests: schema-valid results made by hand, real verdict records
written through the results store, and whole challenge folders for site builds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest

from arena.store import ResultsStore
from leaderboard import sample

UTC = dt.timezone.utc


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A time in November 2026: tests read `at(3)` as 'day three'."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def run() -> Callable[..., dict[str, Any]]:
    """run("alice/x", 200, day=3) -> a verified result whose private median is 200 TPS, with a
    zero-width confidence interval unless `spread` is given."""

    def make(sid: str, tps: float | None = 200.0, *, day: int = 1, hour: int = 10,
             spread: float = 0.0, public: float | None = None, only_public: bool = False,
             **kw: Any) -> dict[str, Any]:
        if tps is None:
            kw.setdefault("private", None)
            kw.setdefault("public", None)
        elif only_public:
            kw.setdefault("private", None)
            kw.setdefault("public", (tps - spread, tps, tps + spread))
        else:
            kw.setdefault("private", (tps - spread, tps, tps + spread))
            pub = public if public is not None else tps
            kw.setdefault("public", (pub, pub, pub))
        return sample.make_result(sid, started_at=at(day, hour), **kw)

    return make


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    return ResultsStore(tmp_path / "store")


@pytest.fixture
def verdict(store: ResultsStore) -> Callable[..., dict[str, Any]]:
    """verdict("alice/x", "invalidate", day=4, run_id=...) -> a real record from the store."""

    def make(submission: str, action: str, *, day: int = 20, hour: int = 10,
             run_id: str | None = None, reason: str = "maintainer decision",
             by: str = "arena-maintainers") -> dict[str, Any]:
        return store.append_verdict(submission=submission, action=action, reason=reason, by=by,
                                    run_id=run_id, at=at(day, hour))

    return make
