"""Probability of backtest overfitting by combinatorially symmetric CV.

Bailey, Borwein, López de Prado and Zhu (2015), "The probability of backtest
overfitting". The ``(T, N)`` matrix of per-bar returns of ``N`` trials is cut
into ``S`` contiguous row blocks (the first ``T % S`` rows are dropped, as in
the reference ``pypbo``). For each of the ``C(S, S/2)`` ways to pick half the
blocks as in-sample (the rest, in order, is out-of-sample):

1. the trial ``n*`` with the best in-sample Sharpe is selected (first on ties);
2. its out-of-sample rank ``r`` among the ``N`` trials (1 = worst, ties
   averaged) gives ``w = r / (N + 1)`` and the logit ``log(w / (1 - w))``.

PBO is the share of logits ``<= 0``: how often the in-sample winner ends at or
below the out-of-sample median.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from cappuccino_ray.errors import DataError

__all__ = ["PBOResult", "probability_of_backtest_overfitting"]

_MAX_COMBINATIONS = 200_000

Metric = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Result of :func:`probability_of_backtest_overfitting`.

    Attributes:
        pbo: Share of combinations whose in-sample winner is at or below the
            out-of-sample median, in ``[0, 1]``.
        logits: The logit of each combination, shape ``(C(S, S/2),)``.
        is_best: In-sample winner (trial index) of each combination.
        is_performance: The winner's in-sample metric in each combination.
        oos_performance: The winner's out-of-sample metric in each combination.
        prob_oos_loss: Share of combinations whose winner's out-of-sample metric is < 0.
        degradation_slope: Slope of the least-squares line of out-of-sample on
            in-sample metric of the winners (negative = overfitting).
        n_partitions: ``S``.
        n_rows_used: Rows used after dropping the first ``T % S``.
    """

    pbo: float
    logits: np.ndarray
    is_best: np.ndarray
    is_performance: np.ndarray
    oos_performance: np.ndarray
    prob_oos_loss: float
    degradation_slope: float
    n_partitions: int
    n_rows_used: int


def _sharpe_from_sums(s1: np.ndarray, s2: np.ndarray, n: int, centre: np.ndarray) -> np.ndarray:
    """Per-period Sharpe (ddof=1) from sums of centred values; 0 without volatility."""
    mean = centre + s1 / n
    var = np.maximum(s2 - s1**2 / n, 0.0) / (n - 1)
    sd = np.sqrt(var)
    out = np.zeros_like(mean)
    ok = sd > 1e-12
    out[ok] = mean[ok] / sd[ok]
    return out


def probability_of_backtest_overfitting(
    returns_matrix: np.ndarray,
    n_partitions: int = 16,
    *,
    metric: Metric | None = None,
) -> PBOResult:
    """Estimate the probability of backtest overfitting (CSCV).

    Args:
        returns_matrix: Per-bar returns, shape ``(bars, trials)``.
        n_partitions: Number of row blocks ``S`` (even, at least 2).
        metric: Optional ``(rows, trials) -> (trials,)`` performance function;
            the default is the per-period Sharpe ratio (computed from block
            sums, fast enough for ``S = 16``).

    Returns:
        A :class:`PBOResult` with ``.pbo`` and ``.logits``.

    Raises:
        DataError: If the matrix or ``n_partitions`` is unusable.
    """
    m = np.asarray(returns_matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise DataError(f"returns_matrix must have shape (bars, trials) with >= 2 trials, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise DataError("returns_matrix has NaN or infinite values; fill or drop those bars first")
    s = n_partitions
    if isinstance(s, bool) or not isinstance(s, int) or s < 2 or s % 2:
        raise DataError(f"n_partitions must be an even whole number >= 2, got {n_partitions!r}")
    if math.comb(s, s // 2) > _MAX_COMBINATIONS:
        raise DataError(f"n_partitions={s} gives too many combinations; use 16 or fewer")
    t, n_trials = m.shape
    block = t // s
    if block < 2:
        raise DataError(f"{t} bars are too few for {s} partitions; need at least {2 * s} bars")
    m = m[t % s :]
    blocks = m.reshape(s, block, n_trials)
    combos = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.int64)
    mask = np.zeros((len(combos), s), dtype=bool)
    mask[np.arange(len(combos))[:, None], combos] = True

    if metric is None:
        centre = m.mean(axis=0)
        d = blocks - centre
        b1, b2 = d.sum(axis=1), (d**2).sum(axis=1)  # (S, N)
        n_half = block * (s // 2)
        w = mask.astype(np.float64)
        r_is = _sharpe_from_sums(w @ b1, w @ b2, n_half, centre)
        r_oos = _sharpe_from_sums((1 - w) @ b1, (1 - w) @ b2, n_half, centre)
    else:
        r_is = np.stack([np.asarray(metric(blocks[row].reshape(-1, n_trials))) for row in mask])
        r_oos = np.stack([np.asarray(metric(blocks[~row].reshape(-1, n_trials))) for row in mask])

    best = np.argmax(r_is, axis=1)
    rows = np.arange(len(combos))
    oos_rank = rankdata(r_oos, axis=1)[rows, best]
    w_bar = oos_rank / (n_trials + 1)
    logits = np.log(w_bar / (1.0 - w_bar))
    is_perf, oos_perf = r_is[rows, best], r_oos[rows, best]
    slope = float(np.polyfit(is_perf, oos_perf, 1)[0]) if np.ptp(is_perf) > 0 else 0.0
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        is_best=best,
        is_performance=is_perf,
        oos_performance=oos_perf,
        prob_oos_loss=float(np.mean(oos_perf < 0)),
        degradation_slope=slope,
        n_partitions=s,
        n_rows_used=int(m.shape[0]),
    )
