from __future__ import annotations

import numpy as np

from cappuccino_ray.data.market import MarketData


def make_market(open_, close, tradable=None, interval="1h"):
    """A MarketData from open/close tables (rows = bars, columns = assets)."""
    open_ = np.asarray(open_, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    t, n = open_.shape
    stamps = np.datetime64("2024-01-01T00:00", "ns") + np.arange(t) * np.timedelta64(1, "h")
    if interval == "1d":
        stamps = np.datetime64("2024-01-01T00:00", "ns") + np.arange(t) * np.timedelta64(1, "D")
    return MarketData(
        timestamps=stamps,
        symbols=tuple(f"C{i}" for i in range(n)),
        interval=interval,
        open=open_,
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        close=close,
        volume=np.ones((t, n)),
        tradable=None if tradable is None else np.asarray(tradable, dtype=bool),
    )


def causal_features(md: MarketData, n_features: int = 7) -> np.ndarray:
    """Simple past-only features: scaled log returns of bars <= t, in every column."""
    lr = np.zeros_like(md.close)
    lr[1:] = np.log(md.close[1:] / md.close[:-1]) * 50
    return np.repeat(lr[:, :, None], n_features, axis=2).astype(np.float32)
