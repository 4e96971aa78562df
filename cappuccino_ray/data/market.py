"""``MarketData``: several symbols' candles aligned on one time index.

This is what the environment reads: arrays of shape ``(T, n_assets)`` for
open, high, low, close and volume, a boolean ``tradable`` mask (False for
gap-filled or halted bars) and the bars' open times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cappuccino_ray.errors import DataError
from cappuccino_ray.intervals import validate_interval

__all__ = ["MarketData"]


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned OHLCV arrays for several symbols.

    Attributes:
        timestamps: Bar open times, ``datetime64[ns]`` (UTC, naive), shape ``(T,)``.
        symbols: Symbol names, one per column.
        interval: Candle interval of every bar (e.g. ``"1h"``).
        open: Open prices, shape ``(T, n_assets)``.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Volume in base-asset units.
        tradable: False where a bar was gap-filled or is a zero-volume halt.
    """

    timestamps: np.ndarray
    symbols: tuple[str, ...]
    interval: str
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tradable: np.ndarray = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Check shapes and dtypes; default ``tradable`` to all True."""
        validate_interval(self.interval)
        t = len(self.timestamps)
        shape = (t, len(self.symbols))
        if self.tradable is None:
            object.__setattr__(self, "tradable", np.ones(shape, dtype=bool))
        for name in ("open", "high", "low", "close", "volume", "tradable"):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != shape:
                got = getattr(arr, "shape", type(arr).__name__)
                raise DataError(f"MarketData.{name} must have shape {shape}, got {got}")
        for name in ("open", "high", "low", "close", "volume"):
            arr = getattr(self, name)
            if arr.dtype != np.float64:
                object.__setattr__(self, name, arr.astype(np.float64))
        object.__setattr__(self, "timestamps", np.asarray(self.timestamps, dtype="datetime64[ns]"))
        if t > 1 and not np.all(np.diff(self.timestamps.astype(np.int64)) > 0):
            raise DataError("MarketData.timestamps must be strictly increasing")

    @property
    def n_bars(self) -> int:
        """Number of bars ``T``."""
        return len(self.timestamps)

    @property
    def n_assets(self) -> int:
        """Number of symbols."""
        return len(self.symbols)

    def slice(self, start: int, stop: int) -> MarketData:
        """Rows ``start:stop`` as a new ``MarketData`` (views, no copy)."""
        if not 0 <= start < stop <= self.n_bars:
            raise DataError(f"slice {start}:{stop} is outside 0:{self.n_bars}")
        s = slice(start, stop)
        return MarketData(
            timestamps=self.timestamps[s],
            symbols=self.symbols,
            interval=self.interval,
            open=self.open[s],
            high=self.high[s],
            low=self.low[s],
            close=self.close[s],
            volume=self.volume[s],
            tradable=self.tradable[s],
        )
