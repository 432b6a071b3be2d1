"""When two scores tie: the ranking's rule, written once.

`TieRule` is the rule every verdict of two scores comes from: the leaderboard's ranking groups
ties by it and every comparison shown anywhere takes its verdict from `TieRule.compare`
(leaderboard.ranking builds the board's rule, leaderboard.compare applies it). It lives in the
shared core so that the runner judges a paired run (`arena bench --vs`) by the same rule,
calibrated from the challenge alone (`TieRule.calibrated`); the board may widen it later with
its repeated runs, never narrow it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arena.challenge import Noise
from arena.stats import two_sided_quantile

BETTER, WORSE, TIE = "better", "worse", "tie"  # TieRule.compare's verdicts


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


def calibrated_rule(noise: Noise) -> TieRule:
    """The rule from the challenge's calibrated noise alone: the board's rule before any
    configuration has been measured twice (leaderboard.ranking.tie_rule on an empty board)."""
    return TieRule(
        confidence=noise.confidence, relative=noise.relative, sigma=noise.sigma,
        df=noise.degrees_of_freedom,
        quantile=two_sided_quantile(noise.confidence, noise.degrees_of_freedom),
        calibrated_sigma=noise.sigma, calibrated_df=noise.degrees_of_freedom,
        source=noise.source, board_sigma=None, board_df=0, board_configs=0, board_runs=0,
        board_capped=0)
