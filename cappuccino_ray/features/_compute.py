"""Scaled, past-only features for every asset of a :class:`MarketData`, all at once.

Indicators come from :mod:`cappuccino_ray.features._indicators` in textbook
units and are mapped here to roughly ``[-5, 5]`` and clipped (see
:data:`CLIP`). Rows before the feature set's warm-up are 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import DataError
from cappuccino_ray.features import _indicators as ind
from cappuccino_ray.features._filters import rolling_mean
from cappuccino_ray.intervals import bars_per_day, days_to_bars

__all__ = [
    "BASE_FEATURES",
    "CLIP",
    "ROLLING_FEATURES",
    "FeatureSet",
    "FeatureWindows",
    "compute_features",
    "feature_windows",
    "warmup_bars",
]

#: The 7 features per asset used in both phases.
BASE_FEATURES: tuple[str, ...] = ("log_return", "macd_hist", "rsi", "cci", "dx", "atr_frac", "volume_z")
#: The 4 extra features per asset of phase 2 (windows in days).
ROLLING_FEATURES: tuple[str, ...] = ("close_vs_7d", "close_vs_30d", "volume_vs_7d", "volume_vs_30d")
#: Every feature is clipped to ``[-CLIP, CLIP]``.
CLIP = 5.0

_MACD = (12, 26, 9)
_RSI_N = 14
_CCI_N = 20
_DX_N = 14
_ATR_N = 14
_MIN_STAT_BARS = 20
# A 4 %-a-day random walk: the reference scale of daily-equivalent ranges and of
# multi-day price deviations.
_DAILY_VOL_REF = 0.04
_SIGMA_FLOOR = 1e-6
_VOLUME_EPS = 0.01


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Features of every asset on every bar.

    Attributes:
        values: float32 array of shape ``(T, n_assets, F)``; rows before ``warmup`` are 0.
        names: Feature names, length ``F``, in the order of the last axis.
        warmup: First bar index at which every feature is fully warmed up.
    """

    values: np.ndarray
    names: tuple[str, ...]
    warmup: int

    @property
    def n_features(self) -> int:
        """Number of features per asset ``F``."""
        return len(self.names)

    def feature(self, name: str) -> np.ndarray:
        """The ``(T, n_assets)`` values of one feature, by name."""
        if name not in self.names:
            raise DataError(f"unknown feature {name!r}; this set has {', '.join(self.names)}")
        return self.values[:, :, self.names.index(name)]


@dataclass(frozen=True)
class FeatureWindows:
    """Bar counts of the interval-dependent windows (the others are fixed in bars).

    Attributes:
        stat: Bars of the volatility EMA and the volume z-score: one day, at least 20.
        d7: Bars in 7 days.
        d30: Bars in 30 days.
    """

    stat: int
    d7: int
    d30: int


def feature_windows(interval: str) -> FeatureWindows:
    """The window lengths in bars for ``interval`` (e.g. 7 days at ``"1h"`` is 168 bars).

    Args:
        interval: Candle interval.

    Returns:
        The windows.
    """
    return FeatureWindows(
        stat=max(_MIN_STAT_BARS, days_to_bars(1, interval)),
        d7=days_to_bars(7, interval),
        d30=days_to_bars(30, interval),
    )


def warmup_bars(interval: str, *, rolling: bool = False) -> int:
    """First bar index at which every feature of the set is defined.

    Args:
        interval: Candle interval.
        rolling: Whether the phase-2 rolling features are included.

    Returns:
        The warm-up length in bars.
    """
    w = feature_windows(interval)
    _, slow, signal = _MACD
    base = max(w.stat, slow + signal - 2, _RSI_N, _CCI_N - 1, _DX_N, _ATR_N)
    return max(base, w.d30 - 1) if rolling else base


def _check_market(md: MarketData) -> None:
    """Raise :class:`DataError` on values the indicators cannot take."""
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(md, name)
        if not np.all(np.isfinite(arr)):
            raise DataError(
                f"market {name} has NaN or infinite values; validate and repair the data "
                "(gap filling) before computing features"
            )
    for name in ("open", "high", "low", "close"):
        if np.any(getattr(md, name) <= 0):
            raise DataError(f"market {name} has non-positive prices; repair or drop those candles")
    if np.any(md.volume < 0):
        raise DataError("market volume has negative values; repair or drop those candles")


class _Columns:
    """The market's OHLCV as contiguous ``(n_assets, T)`` float64 arrays (time last)."""

    def __init__(self, md: MarketData) -> None:
        self.interval = md.interval
        self.high = np.ascontiguousarray(md.high.T)
        self.low = np.ascontiguousarray(md.low.T)
        self.close = np.ascontiguousarray(md.close.T)
        self.volume = np.ascontiguousarray(md.volume.T)


def _base_features(m: _Columns, w: FeatureWindows) -> Iterator[np.ndarray]:
    """The 7 base features, scaled, in :data:`BASE_FEATURES` order (one at a time, to save memory)."""
    high, low, close = m.high, m.low, m.close
    r, _ = ind.log_returns(close)
    sigma = np.maximum(ind.ewm_volatility(r, w.stat)[0], _SIGMA_FLOOR)
    yield r / sigma
    yield 2.0 * ind.macd_hist(close, *_MACD)[0] / close / sigma
    yield (ind.rsi(close, _RSI_N)[0] - 50.0) / 25.0
    yield ind.cci(high, low, close, _CCI_N)[0] / 100.0
    yield (ind.dx(high, low, close, _DX_N)[0] - 25.0) / 25.0
    atr_daily = ind.atr(high, low, close, _ATR_N)[0] / close * np.sqrt(bars_per_day(m.interval))
    yield 1.5 * np.log(np.maximum(atr_daily, 1e-12) / _DAILY_VOL_REF)
    yield ind.volume_zscore(m.volume, w.stat)[0]


def _rolling_features(m: _Columns, w: FeatureWindows) -> Iterator[np.ndarray]:
    """The 4 rolling features, scaled, in :data:`ROLLING_FEATURES` order."""
    for days, bars in ((7, w.d7), (30, w.d30)):
        mean_close = rolling_mean(m.close, bars)
        mean_close[:, : bars - 1] = m.close[:, : bars - 1]  # Not yet defined: log(1) = 0.
        yield np.log(m.close / mean_close) / (_DAILY_VOL_REF * np.sqrt(days))
    for bars in (w.d7, w.d30):
        # Volume relative to its mean; the eps (1 % of the mean) bounds a zero-volume bar at log(1/101).
        mean_vol = np.maximum(rolling_mean(m.volume, bars), 0.0)
        eps = _VOLUME_EPS * mean_vol + 1e-12
        yield np.log((m.volume + eps) / (mean_vol + eps))


def compute_features(md: MarketData, *, rolling: bool = False) -> FeatureSet:
    """Compute the scaled, past-only features of every asset.

    Bar ``t``'s features read bars ``<= t`` only (causal filters, rolling
    windows ending at ``t``). Every value is finite and in ``[-CLIP, CLIP]``;
    rows before ``warmup`` are 0.

    Args:
        md: Aligned market data (prices > 0, volume >= 0, no NaN).
        rolling: Add the phase-2 :data:`ROLLING_FEATURES` after the base ones.

    Returns:
        The feature set, ``values`` of shape ``(T, n_assets, 7 or 11)``.

    Raises:
        DataError: If the market has NaN, non-positive prices, negative
            volume, or too few bars to warm the features up.
    """
    _check_market(md)
    warmup = warmup_bars(md.interval, rolling=rolling)
    if md.n_bars <= warmup:
        what = "with the 30-day rolling features " if rolling else ""
        raise DataError(
            f"{md.n_bars} bars of {md.interval} are too few to compute features {what}"
            f"(warm-up is {warmup} bars); load more history or use a coarser interval"
        )
    w = feature_windows(md.interval)
    m = _Columns(md)
    columns = _base_features(m, w)
    names = BASE_FEATURES
    if rolling:
        columns = itertools.chain(columns, _rolling_features(m, w))
        names = BASE_FEATURES + ROLLING_FEATURES
    values = np.empty((md.n_bars, md.n_assets, len(names)), dtype=np.float32)
    for k, col in enumerate(columns):
        np.clip(col, -CLIP, CLIP, out=col)
        # A last guard: the formulas above avoid NaN by construction.
        np.copyto(col, 0.0, where=np.isnan(col))
        values[:, :, k] = col.T
    values[:warmup] = 0.0
    return FeatureSet(values=values, names=names, warmup=warmup)
