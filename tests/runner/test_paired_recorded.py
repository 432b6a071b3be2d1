"""What pairing buys, on recorded data: the per-pass TPS of both engines of a real paired run
(vLLM's CPU build, the demo's ngram-k4 against plain, every engine sandboxed, on a busy shared
2-core machine), recorded with

    .venv/bin/python scripts/paired_passes.py --pairs 8 --record tests/runner/data/paired_passes.json

On the same passes, the interval of the difference from the pairs (Student's t on the pair
differences) is narrower than the interval the two series give read as two separate runs
(Welch) where the engines drifted together (the scored, private set of this run: what moved
from pass to pass moved both engines of a pair and cancels out of their difference), and no
narrower where they did not (its public set)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from arena.stats import diff_interval, paired_interval
from runner.paired import abba

DATA = json.loads((Path(__file__).parent / "data" / "paired_passes.json").read_text())


def test_the_data_is_a_paired_run_in_abba_order():
    assert DATA["format"] == "arena.paired-passes/1"
    assert (DATA["candidate"], DATA["other"]) == ("arena-maintainers/ngram-k4",
                                                  "arena-maintainers/plain")
    n = len(DATA["order"])
    assert [tuple(p) for p in DATA["order"]] == abba(n) and n >= 5
    for s in DATA["sets"].values():
        assert len(s["candidate"]) == len(s["other"]) == n


def intervals(name):
    s = DATA["sets"][name]
    a, b = s["candidate"], s["other"]
    paired, welch = paired_interval(a, b), diff_interval(a, b)
    assert paired is not None and welch is not None
    # The figures the script printed are these, both centred on the difference of means.
    assert s["paired_ci"] == pytest.approx(list(paired), abs=1e-3)
    assert s["unpaired_ci"] == pytest.approx(list(welch), abs=1e-3)
    mid = statistics.fmean(a) - statistics.fmean(b)
    assert sum(paired) / 2 == pytest.approx(mid) and sum(welch) / 2 == pytest.approx(mid)
    return a, b, paired, welch


def test_on_the_scored_set_the_paired_interval_is_narrower_than_two_separate_runs():
    # The private set is the one a paired block reports (the scored set). Its two engines'
    # passes moved together (load on the shared machine during the pass hit both turns), and
    # the pairs pin the difference down more tightly than the same passes as two runs: here
    # the pairs exclude 0 and Welch's interval does not.
    a, b, paired, welch = intervals("private")
    assert statistics.correlation(a, b) > 0.3
    assert paired[1] - paired[0] < 0.85 * (welch[1] - welch[0])
    assert paired[1] < 0 < welch[1]


def test_pairing_gains_nothing_where_the_engines_did_not_drift_together():
    # The public passes of the same run barely moved together: on a machine whose load comes
    # and goes faster than one request, pairing has nothing to cancel and its interval (n - 1
    # degrees of freedom instead of Welch's) is about as wide. What it removes is drift shared
    # by both engines: between runners and between hours, above all.
    a, b, paired, welch = intervals("public")
    assert abs(statistics.correlation(a, b)) < 0.3
    assert 0.9 < (paired[1] - paired[0]) / (welch[1] - welch[0]) < 1.2
