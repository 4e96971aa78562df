"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado).

All Sharpe ratios here are **per period** (not annualised) and kurtosis is
the raw fourth standardised moment (3 for a normal distribution, not excess).

* PSR (Bailey & López de Prado 2012, "The Sharpe ratio efficient frontier"):
  ``Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))``.
* Expected maximum Sharpe of ``N`` unskilled trials (Bailey & López de Prado
  2014, "The deflated Sharpe ratio", eq. 6, with the Euler-Mascheroni constant
  ``gamma``): ``sqrt(V) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))``.
* DSR: the PSR against that expected maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from cappuccino_ray.errors import DataError
from cappuccino_ray.validation._metrics import per_bar_sharpe

__all__ = [
    "SharpeStats",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "sharpe_stats",
]


def probabilistic_sharpe_ratio(
    sr: float,
    sr_benchmark: float,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark``.

    Args:
        sr: Observed per-period Sharpe ratio.
        sr_benchmark: Per-period Sharpe ratio to beat.
        n_obs: Number of return observations ``T`` (at least 2).
        skew: Skewness of the returns.
        kurtosis: Kurtosis of the returns (3 for normal; not excess).

    Returns:
        The PSR, in ``[0, 1]``.

    Raises:
        DataError: If ``n_obs < 2`` or the moments give a non-positive variance.
    """
    if n_obs < 2:
        raise DataError(f"the PSR needs at least 2 observations, got n_obs={n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if not var > 0:
        raise DataError(
            f"skew={skew} and kurtosis={kurtosis} give a non-positive Sharpe variance for SR={sr}; "
            "check that kurtosis is the raw (not excess) kurtosis"
        )
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)
    return float(norm.cdf(z))


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` trials without skill.

    Args:
        sr_variance: Variance of the trials' per-period Sharpe ratios.
        n_trials: Number of (independent) trials ``N``; 1 gives 0.

    Returns:
        The expected maximum per-period Sharpe ratio.

    Raises:
        DataError: If ``sr_variance < 0`` or ``n_trials < 1``.
    """
    if sr_variance < 0:
        raise DataError(f"sr_variance must be >= 0, got {sr_variance}")
    if n_trials < 1:
        raise DataError(f"n_trials must be >= 1, got {n_trials}")
    if n_trials == 1:
        return 0.0
    g = np.euler_gamma
    z = (1.0 - g) * norm.ppf(1.0 - 1.0 / n_trials) + g * norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sr_variance) * z)


def deflated_sharpe_ratio(
    sr: float,
    sr_variance: float,
    n_trials: int,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Probability that the selected trial's true Sharpe ratio is above zero skill.

    Args:
        sr: Observed per-period Sharpe ratio of the selected trial.
        sr_variance: Variance of all trials' per-period Sharpe ratios.
        n_trials: Number of trials tried.
        n_obs: Number of return observations of the selected trial.
        skew: Skewness of its returns.
        kurtosis: Kurtosis of its returns (not excess).

    Returns:
        The DSR, in ``[0, 1]``.
    """
    sr0 = expected_max_sharpe(sr_variance, n_trials)
    return probabilistic_sharpe_ratio(sr, sr0, n_obs, skew=skew, kurtosis=kurtosis)


@dataclass(frozen=True)
class SharpeStats:
    """Per-period Sharpe ratio and the return moments the PSR/DSR need.

    Attributes:
        sr: Per-period Sharpe ratio, ``mean / std(ddof=1)`` (0 without volatility).
        skew: Skewness (population moments).
        kurtosis: Kurtosis, not excess (3 for normal; population moments).
        n_obs: Number of returns.
    """

    sr: float
    skew: float
    kurtosis: float
    n_obs: int


def sharpe_stats(returns: Sequence[float] | np.ndarray) -> SharpeStats:
    """Per-period Sharpe ratio, skewness and kurtosis of a return series.

    Args:
        returns: Per-bar returns (at least 2).

    Returns:
        The statistics; skew 0 and kurtosis 3 for a series without volatility.

    Raises:
        DataError: If fewer than 2 finite returns are given.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r)):
        raise DataError(f"need a 1-D series of at least 2 finite returns, got shape {r.shape}")
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if m2 < 1e-24:
        return SharpeStats(0.0, 0.0, 3.0, int(r.size))
    return SharpeStats(
        sr=float(per_bar_sharpe(r)),
        skew=float(np.mean(d**3)) / m2**1.5,
        kurtosis=float(np.mean(d**4)) / m2**2,
        n_obs=int(r.size),
    )
