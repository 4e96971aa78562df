"""A look-ahead checker: does changing the future change any feature of the past?

:func:`find_lookahead` recomputes a feature function on a copy of the market
whose every OHLCV value after bar ``cut`` is replaced, and reports each
feature whose value at or before ``cut`` moved. A past-only feature set gives
an empty report; a feature that peeks at bar ``t + 1`` is named.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import DataError
from cappuccino_ray.features._compute import FeatureSet

__all__ = ["find_lookahead", "perturb_after"]


def perturb_after(md: MarketData, cut: int, *, seed: int = 0) -> MarketData:
    """A copy of ``md`` with every open, high, low, close and volume after bar ``cut`` changed.

    Prices are rescaled by random factors (keeping ``low <= open, close <= high``),
    volumes by a log-normal factor; bars ``<= cut`` are untouched.

    Args:
        md: The market.
        cut: Last bar kept as is.
        seed: Seed of the replacement values.

    Returns:
        The perturbed market.
    """
    if not 0 <= cut < md.n_bars - 1:
        raise DataError(f"cut must be in [0, {md.n_bars - 2}] to leave bars to change, got {cut}")
    rng = np.random.default_rng(seed)
    n = md.n_bars - cut - 1
    shape = (n, md.n_assets)
    scale = np.exp(rng.uniform(-0.3, 0.3, shape))
    opens = md.open.copy()
    closes = md.close.copy()
    highs = md.high.copy()
    lows = md.low.copy()
    volumes = md.volume.copy()
    opens[cut + 1 :] *= scale * np.exp(rng.uniform(-0.02, 0.02, shape))
    closes[cut + 1 :] *= scale * np.exp(rng.uniform(-0.02, 0.02, shape))
    top = np.maximum(opens[cut + 1 :], closes[cut + 1 :])
    bottom = np.minimum(opens[cut + 1 :], closes[cut + 1 :])
    highs[cut + 1 :] = top * np.exp(rng.uniform(0.001, 0.05, shape))
    lows[cut + 1 :] = bottom * np.exp(-rng.uniform(0.001, 0.05, shape))
    noise = np.exp(rng.standard_normal(shape))
    volumes[cut + 1 :] = volumes[cut + 1 :] * noise + rng.uniform(1.0, 2.0, shape)
    return MarketData(
        timestamps=md.timestamps,
        symbols=md.symbols,
        interval=md.interval,
        open=opens,
        high=highs,
        low=lows,
        close=closes,
        volume=volumes,
        tradable=md.tradable,
    )


def find_lookahead(
    features: Callable[[MarketData], FeatureSet],
    md: MarketData,
    cut: int,
    *,
    seed: int = 0,
    atol: float = 1e-6,
) -> dict[str, int]:
    """Features whose value at some bar ``<= cut`` depends on bars after ``cut``.

    Args:
        features: A feature function of a market, e.g. ``compute_features``.
        md: The market.
        cut: Bars ``> cut`` are changed; bars ``<= cut`` must keep their features.
        seed: Seed of the replacement values.
        atol: Largest absolute difference tolerated.

    Returns:
        Feature name -> first bar ``<= cut`` whose value changed; empty when
        every feature is past-only on this market and cut.
    """
    before = features(md)
    after = features(perturb_after(md, cut, seed=seed))
    if before.names != after.names or before.values.shape != after.values.shape:
        raise DataError("the feature function returned different names or shapes for the same market length")
    diff = np.abs(before.values[: cut + 1].astype(np.float64) - after.values[: cut + 1].astype(np.float64))
    moved = np.nan_to_num(diff, nan=np.inf) > atol  # (cut + 1, n_assets, F)
    report: dict[str, int] = {}
    for k, name in enumerate(before.names):
        rows = np.flatnonzero(moved[:, :, k].any(axis=1))
        if rows.size:
            report[name] = int(rows[0])
    return report
