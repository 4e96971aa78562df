"""Trading metrics of one segment from its per-bar portfolio values.

Conventions (365 days of 24-hour trading, risk-free rate 0):

* per-bar **simple** returns ``r_t = V_t / V_{t-1} - 1`` over the value series
  ``V_0..V_n`` (``V_0`` is the value before the first bar);
* ``sharpe = mean(r) / std(r, ddof=1) * sqrt(periods_per_year(interval))``,
  and 0 when the segment has no volatility (a flat or constant-growth series)
  or fewer than two returns;
* ``sortino`` uses the downside deviation ``sqrt(mean(min(r, 0)^2))`` over all
  returns, and is 0 when no bar loses;
* ``annual_return`` is geometric: ``(V_n / V_0) ** (ppy / n) - 1`` (saturated
  near 1e304 so that a short segment with a big move stays finite);
* ``max_drawdown`` is a positive fraction, ``max_t (1 - V_t / max_{s<=t} V_s)``;
* ``calmar = annual_return / max_drawdown`` (0 without a drawdown);
* ``turnover = traded value / mean portfolio value`` over the segment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cappuccino_ray.errors import DataError
from cappuccino_ray.intervals import periods_per_year

__all__ = ["SegmentMetrics", "annualised_sharpe", "per_bar_sharpe", "segment_metrics", "simple_returns"]

# Below this per-bar standard deviation a segment counts as having no volatility.
_ZERO_VOL = 1e-12


@dataclass(frozen=True)
class SegmentMetrics:
    """Metrics of one evaluated segment (ratios annualised, fractions not in %).

    Attributes:
        total_return: ``V_n / V_0 - 1``.
        annual_return: Geometric annualised return.
        annual_volatility: Annualised standard deviation of per-bar returns.
        sharpe: Annualised Sharpe ratio (risk-free rate 0; 0 without volatility).
        sortino: Annualised Sortino ratio (target 0; 0 without losing bars).
        max_drawdown: Largest peak-to-trough loss, as a positive fraction.
        calmar: ``annual_return / max_drawdown`` (0 without a drawdown).
        turnover: Traded value over the mean portfolio value.
        fees_paid: Fees paid, in quote currency.
        n_trades: Number of orders filled.
        n_forced_sales: Number of forced sales (holding limit reached).
        n_bars: Number of per-bar returns.
    """

    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    turnover: float
    fees_paid: float
    n_trades: int
    n_forced_sales: int
    n_bars: int

    def to_dict(self) -> dict[str, float | int]:
        """The metrics as a plain mapping (for Tune reports and JSON)."""
        return dataclasses.asdict(self)


def simple_returns(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-bar simple returns of a positive value series.

    Args:
        values: Portfolio values ``V_0..V_n``.

    Returns:
        ``V[1:] / V[:-1] - 1``, shape ``(n,)``.

    Raises:
        DataError: If the series is not 1-D, has NaNs or non-positive values.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 1:
        raise DataError(f"a value series must be 1-D and non-empty, got shape {v.shape}")
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise DataError("a value series must be finite and positive; check the portfolio values")
    return v[1:] / v[:-1] - 1.0


def per_bar_sharpe(returns: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-bar Sharpe ratio ``mean / std(ddof=1)`` along the first axis (0 without volatility).

    Args:
        returns: Per-bar returns: one series, or a ``(bars, series)`` matrix (one ratio per column).

    Returns:
        The ratio (a 0-d array for one series), 0 where there are fewer than 2 bars or no volatility.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[0] < 2:
        return np.zeros(r.shape[1:])
    sd = r.std(axis=0, ddof=1)
    ok = sd >= _ZERO_VOL
    return np.where(ok, r.mean(axis=0) / np.where(ok, sd, 1.0), 0.0)


def annualised_sharpe(returns: Sequence[float] | np.ndarray, interval: str) -> float:
    """Annualised Sharpe ratio of per-bar returns (0 without volatility).

    Args:
        returns: Per-bar simple returns.
        interval: Candle interval, for the periods per year.

    Returns:
        ``per_bar_sharpe(returns) * sqrt(periods_per_year(interval))``.
    """
    return float(per_bar_sharpe(returns)) * math.sqrt(periods_per_year(interval))


def _max_drawdown(v: np.ndarray) -> float:
    peak = np.maximum.accumulate(v)
    return float(np.max(1.0 - v / peak))


def _total(x: float | Sequence[float] | np.ndarray) -> float:
    return float(np.sum(np.asarray(x, dtype=np.float64)))


def segment_metrics(
    values: Sequence[float] | np.ndarray,
    *,
    interval: str,
    fees: float | Sequence[float] | np.ndarray = 0.0,
    traded_value: float | Sequence[float] | np.ndarray = 0.0,
    n_trades: int | Sequence[int] | np.ndarray = 0,
    forced_sales: int | Sequence[int] | np.ndarray = 0,
) -> SegmentMetrics:
    """Compute the metrics of one segment from its per-bar portfolio values.

    Args:
        values: Portfolio values ``V_0..V_n``, ``V_0`` before the first bar.
        interval: Candle interval, for annualising.
        fees: Fees paid (a total or a per-bar array), in quote currency.
        traded_value: Value traded (a total or a per-bar array), in quote currency.
        n_trades: Orders filled (a total or a per-bar array).
        forced_sales: Forced sales (a total or a per-bar array).

    Returns:
        The segment's :class:`SegmentMetrics`.

    Raises:
        DataError: If the value series is malformed.

    Example:
        >>> m = segment_metrics([100.0, 110.0, 99.0, 108.9], interval="1d")
        >>> round(m.total_return, 4), round(m.max_drawdown, 4)
        (0.089, 0.1)
    """
    v = np.asarray(values, dtype=np.float64)
    r = simple_returns(v)
    n = int(r.size)
    ppy = periods_per_year(interval)
    total = float(v[-1] / v[0] - 1.0)
    # In log space, saturated so that a short segment with a big move stays finite.
    annual = math.expm1(min(math.log(v[-1] / v[0]) * ppy / n, 700.0)) if n > 0 else 0.0
    sd = float(r.std(ddof=1)) if n >= 2 else 0.0
    vol = sd * math.sqrt(ppy)
    sharpe = annualised_sharpe(r, interval)
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if n > 0 else 0.0
    sortino = float(r.mean()) / downside * math.sqrt(ppy) if downside > _ZERO_VOL else 0.0
    mdd = _max_drawdown(v)
    calmar = annual / mdd if mdd > _ZERO_VOL else 0.0
    mean_value = float(v.mean())
    return SegmentMetrics(
        total_return=total,
        annual_return=annual,
        annual_volatility=vol,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=mdd,
        calmar=calmar,
        turnover=_total(traded_value) / mean_value,
        fees_paid=_total(fees),
        n_trades=round(_total(n_trades)),
        n_forced_sales=round(_total(forced_sales)),
        n_bars=n,
    )
