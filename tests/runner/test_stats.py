"""Statistics of repeated passes: the figures a result reports about its TPS."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arena.stats import (
    pooled_variance,
    sample_variance,
    summarize,
    t_cdf,
    t_quantile,
    two_sided_quantile,
)

# Two-sided 95% critical values of Student's t, from published tables.
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 19: 2.093,
           30: 2.042, 60: 2.000, 120: 1.980}


@pytest.mark.parametrize("df,expected", sorted(T_TABLE.items()))
def test_t_quantile_matches_published_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_distribution_is_symmetric_and_tends_to_the_normal() -> None:
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7))
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_quantile(0.975, 100000) == pytest.approx(statistics.NormalDist().inv_cdf(0.975),
                                                      abs=1e-4)


def test_summary_of_three_passes() -> None:
    s = summarize([100.0, 102.0, 104.0])
    assert (s.n, s.mean, s.median, s.stdev) == (3, 102.0, 102.0, 2.0)
    half = 4.302653 * 2.0 / math.sqrt(3)
    assert s.ci95 == pytest.approx((102.0 - half, 102.0 + half), abs=1e-4)


def test_one_pass_has_no_spread() -> None:
    s = summarize([250.0])
    assert s.stdev == 0.0 and s.ci95 == (250.0, 250.0) and s.median == 250.0


def test_summarize_refuses_nothing() -> None:
    with pytest.raises(ValueError):
        summarize([])


@given(st.lists(st.floats(min_value=1, max_value=1e4), min_size=2, max_size=20))
def test_interval_contains_the_mean_and_widens_with_spread(xs: list[float]) -> None:
    s = summarize(xs)
    assert s.ci95[0] <= s.mean + 1e-9 and s.mean - 1e-9 <= s.ci95[1]
    assert s.ci95[1] - s.ci95[0] == pytest.approx(
        2 * t_quantile(0.975, len(xs) - 1) * s.stdev / math.sqrt(len(xs)), rel=1e-9, abs=1e-9)


def test_two_sided_quantiles_match_published_tables() -> None:
    # 99%: 2.750 at 30 degrees of freedom, 2.576 for the normal distribution.
    assert two_sided_quantile(0.99, 30) == pytest.approx(2.750, abs=5e-4)
    assert two_sided_quantile(0.99) == pytest.approx(2.5758, abs=1e-4)
    assert two_sided_quantile(0.95, 10) == pytest.approx(2.228, abs=5e-4)
    with pytest.raises(ValueError):
        two_sided_quantile(1.0, 3)


def test_pooled_variance_weights_estimates_by_their_degrees_of_freedom() -> None:
    groups = [[1.0, 2.0, 3.0], [10.0, 14.0], [5.0]]
    estimates = [(sample_variance(g), len(g) - 1) for g in groups if len(g) > 1]
    var, df = pooled_variance(estimates)
    # The textbook pooled variance: squared deviations from each group's mean over sum(n - 1).
    ss = sum(sum((x - statistics.fmean(g)) ** 2 for x in g) for g in groups)
    assert df == 3 and var == pytest.approx(ss / 3)
    assert pooled_variance([]) == (0.0, 0)
    assert pooled_variance([(4.0, 0)]) == (0.0, 0)
    assert pooled_variance([(1.44, 30), (4.0, 10)]) == (pytest.approx((43.2 + 40) / 40), 40)
    with pytest.raises(ValueError):
        pooled_variance([(-1.0, 3)])


def test_paired_interval_by_hand() -> None:
    from arena.stats import paired_interval

    # Differences 1, 2, 1, 3: mean 1.75, sample variance 2.75 / 3, standard error
    # sqrt(0.91667 / 4) = 0.47871; t(0.975, 3) = 3.182 (tables): half-width 1.5233.
    lo, hi = paired_interval([10.0, 12.0, 11.0, 15.0], [9.0, 10.0, 10.0, 12.0])
    assert (lo, hi) == pytest.approx((1.75 - 1.5233, 1.75 + 1.5233), abs=1e-3)
    # A constant difference is known exactly, however much both sides drift together.
    assert paired_interval([100.0, 150.0, 90.0], [98.0, 148.0, 88.0]) == (2.0, 2.0)
    assert paired_interval([1.0], [2.0]) is None
    with pytest.raises(ValueError, match="pairs"):
        paired_interval([1.0, 2.0], [1.0])


def test_paired_interval_is_narrower_than_welch_under_shared_drift() -> None:
    from arena.stats import paired_interval
    from leaderboard.compare import diff_interval

    drift = [0.0, 8.0, -5.0, 12.0, 3.0]
    a = [200.0 + d + e for d, e in zip(drift, [0.3, -0.2, 0.1, 0.0, -0.1])]
    b = [195.0 + d + e for d, e in zip(drift, [-0.1, 0.2, 0.0, 0.1, -0.2])]
    p, w = paired_interval(a, b), diff_interval(a, b)
    assert p is not None and w is not None
    assert p[0] > 0 and w[0] < 0  # the pairs see the gap; two separate runs could not
    assert p[1] - p[0] < (w[1] - w[0]) / 10
