"""Statistics of repeated measurements, done once, here: median, mean, sample standard deviation
and the 95% confidence interval of the mean (Student's t); pooled variances of groups of repeated
measurements and two-sided quantiles, which the leaderboard's tie rule (leaderboard.ranking)
rests on.

Every figure a result reports about repeated passes comes from `summarize`, so the runner, the
benchmark scripts and anything that re-derives a figure from a result agree to the last digit.
The t quantile is computed here (regularized incomplete beta function, bisection) rather than
taken from a table, so it is right for any number of passes without a scientific-library
dependency.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one quantity (tokens/s of each timed pass)."""

    n: int
    mean: float
    median: float
    stdev: float  # sample standard deviation (n - 1); 0 for a single value
    ci95: tuple[float, float]  # 95% confidence interval of the mean; (mean, mean) when n == 1

    @property
    def cv(self) -> float:
        """Coefficient of variation (stdev / mean), 0 when the mean is 0."""
        return self.stdev / self.mean if self.mean else 0.0


def summarize(values: Iterable[float]) -> Summary:
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("summarize() needs at least one value")
    n = len(xs)
    mean = statistics.fmean(xs)
    median = statistics.median(xs)
    if n == 1:
        return Summary(1, mean, median, 0.0, (mean, mean))
    sd = statistics.stdev(xs)
    half = t_quantile(1 - (1 - CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, median, sd, (mean - half, mean + half))


def sample_variance(values: Sequence[float]) -> float:
    """The sample variance (n - 1) of at least two values."""
    if len(values) < 2:
        raise ValueError("sample_variance() needs at least two values")
    return statistics.variance([float(v) for v in values])


def pooled_variance(estimates: Iterable[tuple[float, int]]) -> tuple[float, int]:
    """Independent variance estimates of one quantity, (variance, degrees of freedom) each,
    pooled: weighted by their degrees of freedom, which add up. Estimates with no degrees of
    freedom add nothing; (0.0, 0) when none has any."""
    total = df = 0
    for var, k in estimates:
        if k < 0 or var < 0 or not math.isfinite(var):
            raise ValueError(f"not a variance estimate: ({var}, {k})")
        total += var * k
        df += k
    return (total / df, df) if df else (0.0, 0)


def two_sided_quantile(confidence: float, df: int | None = None) -> float:
    """The q with P(|T| < q) = confidence for Student's t with `df` degrees of freedom, or for
    the standard normal distribution when df is None."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    p = 1 - (1 - confidence) / 2
    if df is None:
        return statistics.NormalDist().inv_cdf(p)
    return t_quantile(p, df)


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t distribution with `df` degrees of freedom."""
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    if df < 1:
        raise ValueError("df must be at least 1")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x > (a + 1) / (a + b + 2):
        return 1 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return math.exp(ln_front) * f / a


def paired_interval(a: Sequence[float], b: Sequence[float],
                    confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The interval for the mean of the pair differences a[i] - b[i] (Student's t, n - 1
    degrees of freedom): a[i] and b[i] measured side by side (one pair of a paired run), so
    what drifts between pairs (the runner, the hour) cancels out of each difference. None
    under two pairs. Raises ValueError when the sequences differ in length."""
    if len(a) != len(b):
        raise ValueError(f"paired_interval() needs pairs: {len(a)} values against {len(b)}")
    if len(a) < 2:
        return None
    d = [float(x) - float(y) for x, y in zip(a, b)]
    mean = statistics.fmean(d)
    half = two_sided_quantile(confidence, len(d) - 1) * math.sqrt(sample_variance(d) / len(d))
    return (mean - half, mean + half)


# Student's quantile by bisection costs a few hundred microseconds; a board compares every
# entry twice, at a handful of distinct degrees of freedom.
_quantile = functools.lru_cache(maxsize=1024)(two_sided_quantile)


def diff_interval(a: Sequence[float], b: Sequence[float],
                  confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Welch's interval for mean(a) - mean(b): unequal variances, Welch–Satterthwaite degrees
    of freedom rounded down (a slightly wider interval, never a narrower one)."""
    if len(a) < 2 or len(b) < 2:
        return None
    d = statistics.fmean(a) - statistics.fmean(b)
    va, vb = sample_variance(a) / len(a), sample_variance(b) / len(b)
    se2 = va + vb
    if se2 == 0:
        return (d, d)
    df = se2 * se2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    half = _quantile(confidence, max(1, math.floor(df))) * math.sqrt(se2)
    return (d - half, d + half)
