"""Statistics of repeated measurements, done once, here: median, mean, sample standard deviation
and the 95% confidence interval of the mean (Student's t); pooled variances of groups of repeated
measurements and two-sided quantiles; the interval for the difference of two runs (Welch), and
the tie rule (`TieRule`, built from the challenge's calibrated noise and the board's repeated
runs by `tie_rule_from_noise`), which the ranking (leaderboard.ranking), every comparison
(leaderboard.compare) and the bot judge by.

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
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from arena.challenge import Noise

CONFIDENCE = 0.95
BETTER, WORSE, TIE = "better", "worse", "tie"  # TieRule.compare's verdicts


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
    # Two passes in floats, each sum correctly rounded (math.fsum): the same figure as
    # statistics.variance to the last digit or two, at a hundredth of its cost (that one sums
    # in exact fractions; a board of 10,000 entries asks for tens of thousands of these).
    xs = [float(v) for v in values]
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) * (x - mean) for x in xs) / (len(xs) - 1)


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


# -- Comparisons: the interval for a difference, and when two scores tie -------------------------

# Student's quantile by bisection costs a few hundred microseconds; a board compares every
# entry twice, at a handful of distinct degrees of freedom.
@functools.lru_cache(maxsize=1024)
def _quantile(confidence: float, df: int) -> float:
    return two_sided_quantile(confidence, df)


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


@dataclass(frozen=True)
class TieRule:
    """When two scores tie: the noise they are judged against and the quantile for the
    challenge's confidence. `tied` is the rule, written once: `rank` groups by it (through
    `compare`), the feed uses it to say that a new record is within the noise, and every
    comparison of two runs (leaderboard.compare) takes its verdict from `compare`."""

    confidence: float
    relative: bool  # sigma is a fraction of the score, not tokens/s
    sigma: float  # the figure used: calibrated, or pooled with the board's repeats when larger
    df: int
    quantile: float  # two-sided Student t quantile at `confidence`, `df` degrees of freedom
    calibrated_sigma: float
    calibrated_df: int
    source: str
    board_sigma: float | None  # from repeated runs of one configuration on this board
    board_df: int
    board_configs: int  # configurations measured more than once
    board_runs: int  # their runs
    board_capped: int  # configurations whose spread counted as `unstable_factor` sigmas
    widened: bool = False  # the board's repeats, pooled with the calibration, raised sigma

    def noise_at(self, tps: float) -> float:
        """The run-to-run sigma, in tokens/s, at a score of `tps`."""
        return self.sigma * tps if self.relative else self.sigma

    def margin(self, tps: float) -> float:
        """The smallest gap below a score of `tps` that is not a tie."""
        return self.quantile * self.noise_at(tps) * math.sqrt(2)

    def tied(self, faster: float, slower: float) -> bool:
        """A real difference of this size cannot be told from run-to-run noise."""
        return abs(faster - slower) < self.margin(max(faster, slower))

    def compare(self, a: float, b: float) -> str:
        """The verdict on score `a` against score `b`: "tie" when `tied`, else "better" (a is
        faster) or "worse". `rank` groups with it; every comparison shown anywhere uses it."""
        if self.tied(a, b):
            return TIE
        return BETTER if a > b else WORSE

    def describe(self, tps: float | None = None) -> str:
        """The rule in words, with its figures (at a score of `tps` when sigma is relative)."""
        unit = (f"{self.sigma:.2%} of the score" if self.relative else f"{self.sigma:.2f} tok/s")
        cal = (f"{self.calibrated_sigma:.2%} of the score" if self.relative
               else f"{self.calibrated_sigma:.2f} tok/s")
        words = (f"Two entries share a rank when the gap between their scores is smaller than "
                 f"t × σ × √2: the gap two runs of one configuration would exceed only "
                 f"{1 - self.confidence:.0%} of the time (two-sided, confidence "
                 f"{self.confidence:.0%}). σ = {unit}, the run-to-run noise: ")
        board = ""
        if self.board_df:
            board = (f"{self.board_runs} repeated runs of {self.board_configs} "
                     f"configuration{'s' if self.board_configs != 1 else ''} on this board ("
                     + (f"{self.board_sigma:.2%}" if self.relative
                        else f"{self.board_sigma:.2f} tok/s")
                     + f", {self.board_df} degrees of freedom"
                     + (f"; {self.board_capped} too scattered to count in full" if
                        self.board_capped else "") + ")")
        if self.widened:
            words += (f"the challenge's calibrated figure ({cal}, weighted as "
                      f"{self.calibrated_df} degrees of freedom) pooled with {board}, which "
                      f"show more noise than calibrated")
        else:
            words += (f"the challenge's calibrated figure, weighted as {self.calibrated_df} "
                      f"degrees of freedom")
            if board:
                words += (f"; the {board} do not show more, and the board may widen the "
                          f"ties, never narrow them")
        words += (f"; t = {self.quantile:.2f}, Student's t at {self.df} degrees of freedom.")
        if tps is not None:
            words += f" At {tps:,.1f} tok/s a gap under {self.margin(tps):,.1f} tok/s is a tie."
        return words


def tie_rule_from_noise(noise: "Noise", groups: Iterable[Sequence[float]]) -> TieRule:
    """The calibrated noise (challenge.yaml, `ranking.noise`) pooled with the spread of repeated
    runs of one configuration: each group holds one configuration's scores."""
    estimates = []
    capped = runs = 0
    for values in groups:
        if len(values) < 2:
            continue
        mean = math.fsum(values) / len(values)
        if noise.relative:
            if mean <= 0:
                continue
            values = [v / mean for v in values]
        var = sample_variance(values)
        # No configuration widens the ties by more than an unstable run could (in the
        # calibration's units: values are fractions of their mean when sigma is relative).
        cap = noise.unstable_factor * noise.sigma
        if var > cap * cap:
            var, capped = cap * cap, capped + 1
        estimates.append((var, len(values) - 1))
        runs += len(values)
    board_var, board_df = pooled_variance(estimates)
    var, df = pooled_variance([(noise.sigma ** 2, noise.degrees_of_freedom),
                               (board_var, board_df)])
    widened = board_df > 0 and var > noise.sigma ** 2
    if not widened:
        # The board can show the noise larger than calibrated, never smaller: a quiet
        # configuration can be chosen (a slow one, in tokens/s), and re-run to narrow the
        # ties around a rival. Lowering sigma is a maintainer's edit to challenge.yaml.
        var, df = noise.sigma ** 2, noise.degrees_of_freedom
    return TieRule(
        confidence=noise.confidence, relative=noise.relative, sigma=math.sqrt(var), df=df,
        quantile=two_sided_quantile(noise.confidence, df), calibrated_sigma=noise.sigma,
        calibrated_df=noise.degrees_of_freedom, source=noise.source,
        board_sigma=math.sqrt(board_var) if board_df else None, board_df=board_df,
        board_configs=len(estimates), board_runs=runs, board_capped=capped, widened=widened)



def calibrated_rule(noise: "Noise") -> TieRule:
    """The rule from the challenge's calibrated noise alone: the board's rule before any
    configuration has been measured twice. The runner judges a paired run (`arena bench --vs`)
    by it; the board may widen it later with its repeated runs, never narrow it."""
    return tie_rule_from_noise(noise, ())

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
