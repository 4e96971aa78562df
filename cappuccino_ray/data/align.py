"""Align several symbols' validated candles on one time index as a :class:`MarketData`.

The index is the union of the symbols' timestamps. A symbol without a bar at
some timestamp of the index gets a flat bar at its previous close with zero
volume, not tradable (the same repair as a gap fill).

The symbols' date ranges must agree: with ``policy="refuse"`` (the default) a
symbol that starts later or ends earlier than another is an error naming it;
with ``policy="trim"`` every symbol is cut to the span they all cover. Neither
invents prices before a symbol's first candle or after its last.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.readers import OHLCV
from cappuccino_ray.data.validate import iso
from cappuccino_ray.errors import DataError

__all__ = ["align"]


def _span_check(frames: Mapping[str, pd.DataFrame], policy: str) -> tuple[np.int64, np.int64]:
    firsts = {s: np.int64(f["timestamp"].to_numpy().astype(np.int64)[0]) for s, f in frames.items()}
    lasts = {s: np.int64(f["timestamp"].to_numpy().astype(np.int64)[-1]) for s, f in frames.items()}
    lo, hi = max(firsts.values()), min(lasts.values())
    if hi < lo:
        raise DataError(
            "the symbols' date ranges do not overlap ("
            + ", ".join(f"{s}: {iso(firsts[s])}..{iso(lasts[s])}" for s in frames)
            + "); trade symbols with data over the same period"
        )
    if policy == "refuse":
        late = [s for s in frames if firsts[s] > min(firsts.values())]
        early = [s for s in frames if lasts[s] < max(lasts.values())]
        if late or early:
            parts = [f"{s} starts at {iso(firsts[s])}" for s in late]
            parts += [f"{s} ends at {iso(lasts[s])}" for s in early]
            raise DataError(
                f"symbols cover different periods ({'; '.join(parts)}; others run "
                f"{iso(min(firsts.values()))}..{iso(max(lasts.values()))}); set align_policy: trim in "
                "configs/data.yaml to use the common period, or import data covering it"
            )
    return lo, hi


def _union_grid(times: list[np.ndarray], lo: np.int64, hi: np.int64) -> np.ndarray:
    """Sorted union of ``times`` within ``[lo, hi]``; cheap when all symbols share one index."""
    first = times[0]
    if all(len(t) == len(first) and np.array_equal(t, first) for t in times[1:]):
        grid = first
    else:
        both = np.sort(np.concatenate(times))
        grid = both[np.r_[True, both[1:] != both[:-1]]]
    return grid[(grid >= lo) & (grid <= hi)]


def align(frames: Mapping[str, pd.DataFrame], interval: str, *, policy: str = "refuse") -> MarketData:
    """Put several symbols' candles on one time index.

    Args:
        frames: Symbol -> validated frame (``timestamp``, OHLCV, optional ``tradable``), time-ordered.
        interval: The frames' common interval.
        policy: ``refuse`` raises if the date ranges differ; ``trim`` keeps the common span.

    Returns:
        The aligned market, symbols in the order given.

    Raises:
        DataError: If no frames are given, one is empty, or the ranges differ under ``refuse``.
    """
    if not frames:
        raise DataError("no symbols to align; list at least one symbol in configs/data.yaml")
    for s, f in frames.items():
        if len(f) == 0:
            raise DataError(f"{s}: no candles to align; import data for it")
    lo, hi = _span_check(frames, policy)
    grid = _union_grid([f["timestamp"].to_numpy().astype(np.int64) for f in frames.values()], lo, hi)
    n, k = len(grid), len(frames)
    arrays = {c: np.empty((n, k), dtype=np.float64) for c in OHLCV}
    tradable = np.zeros((n, k), dtype=bool)
    for j, f in enumerate(frames.values()):
        ts = f["timestamp"].to_numpy().astype(np.int64)
        # The symbol's latest bar at or before each grid time: never a later one.
        src = np.searchsorted(ts, grid, "right") - 1
        present = ts[src] == grid
        for c in OHLCV:
            arrays[c][:, j] = f[c].to_numpy(dtype=np.float64)[src]
        flags = f["tradable"].to_numpy(dtype=bool) if "tradable" in f.columns else np.ones(len(ts), bool)
        tradable[:, j] = present & flags[src]
        if not present.all():
            close = arrays["close"][~present, j]
            for c in ("open", "high", "low"):
                arrays[c][~present, j] = close
            arrays["volume"][~present, j] = 0.0
    return MarketData(
        timestamps=grid.astype("datetime64[ns]"),
        symbols=tuple(frames),
        interval=interval,
        tradable=tradable,
        **arrays,
    )
