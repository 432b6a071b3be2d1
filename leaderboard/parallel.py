"""Spreading the site build over processes: validation and page rendering are CPU-bound and
independent per file. Workers are forked (Linux), so they inherit the data and the compiled
templates instead of receiving them pickled; elsewhere, or for small jobs, everything runs in
this process.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
from typing import Any, Callable, Iterator, Sequence

PARALLEL_MIN = 400  # below this many items, worker processes cost more than they save


def worker_count(n_items: int, jobs: int | None) -> int:
    """How many processes to use for `n_items`: `jobs` (default: one per core), at most 8,
    and 1 for small jobs or where fork is not the way to start processes."""
    if sys.platform != "linux" or n_items < PARALLEL_MIN:
        return 1
    want = jobs if jobs is not None else (os.cpu_count() or 1)
    return max(1, min(want, 8, n_items // (PARALLEL_MIN // 2)))


WORK: dict[str, Any] = {}


def pool_map(fn: Callable[[Any], Any], work: Sequence[Any], jobs: int, **state: Any) -> list:
    """`fn` over `work` in `jobs` forked processes that inherit `state` (read by `fn` from
    WORK), in order. Serial when jobs == 1."""
    WORK.clear()
    WORK.update(state)
    try:
        if jobs <= 1:
            return [fn(i) for i in work]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            return pool.map(fn, work, chunksize=max(1, len(work) // (jobs * 4)))
    finally:
        WORK.clear()


@contextlib.contextmanager
def started(fn: Callable[[Any], Any], work: Sequence[Any], jobs: int,
            **state: Any) -> Iterator[Callable[[], list]]:
    """Start `fn` over `work` in `jobs` forked processes and give back a function that waits
    for the results, so that this process can do other work meanwhile. Serial (run when the
    results are asked for) when jobs == 1. Workers still running on exit are terminated."""
    WORK.clear()
    WORK.update(state)
    pool = None
    try:
        if jobs <= 1:
            yield lambda: [fn(i) for i in work]
            return
        # Objects made so far are shared with the workers and never freed by them: keep the
        # collector off them, so it neither spends time on them nor copies their pages.
        gc.freeze()
        pool = multiprocessing.get_context("fork").Pool(jobs)
        pending = pool.map_async(fn, work, chunksize=1)
        yield pending.get
        pool.close()
        pool.join()
        pool = None
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        gc.unfreeze()
        WORK.clear()
