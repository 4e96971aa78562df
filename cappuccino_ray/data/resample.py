"""Resample a ``MarketData`` to a coarser interval, vectorised with ``numpy.ufunc.reduceat``.

Aggregation: open = first, high = max, low = min, close = last, volume = sum.
Bars are labelled by their open time on the epoch grid, so 4h bars open at
00:00, 04:00, ... UTC and daily bars at midnight UTC.

Rules:
- A coarse bar is tradable when its first constituent bar is tradable: orders
  fill at a bar's open, and the coarse open is the first constituent's open, so
  that price must come from real trading (not a halt or a gap fill).
- Incomplete buckets at either end (the data starts or stops inside a coarse
  bar) are dropped: their open or close would belong to a different time than
  the label says. An interior bucket is aggregated from whichever bars it has
  (data from the store is gap-filled, so this only happens for hand-built data).
"""

from __future__ import annotations

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import DataError
from cappuccino_ray.intervals import interval_minutes, interval_ns, validate_interval

__all__ = ["resample"]


def resample(md: MarketData, interval: str) -> MarketData:
    """Aggregate ``md`` to the coarser ``interval``.

    Args:
        md: Candles at a finer interval.
        interval: Target interval; its length must be a whole multiple of ``md.interval``.

    Returns:
        ``md`` itself if the interval is the same, else the resampled market.

    Raises:
        DataError: If ``interval`` is finer than the data (the message says which data to
            get) or not a whole multiple of it, or no complete bar remains.
    """
    validate_interval(interval)
    src_min = interval_minutes(md.interval)
    dst_min = interval_minutes(interval)
    if dst_min == src_min:
        return md
    if dst_min < src_min:
        raise DataError(
            f"{interval} bars were asked for but the data is {md.interval}; import or download {interval} "
            f"(or finer) candles, e.g. `cappuccino-ray data download --interval {interval}`, and set "
            f"base_interval: {interval} in configs/data.yaml"
        )
    if dst_min % src_min != 0:
        raise DataError(
            f"cannot build {interval} bars from {md.interval} data ({dst_min} is not a multiple of "
            f"{src_min} minutes); use a base interval that divides {interval}"
        )
    ratio = dst_min // src_min
    ts = md.timestamps.astype(np.int64)
    width = interval_ns(interval)
    bucket = ts // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, len(ts)])
    keep = np.ones(len(starts), dtype=bool)
    if len(starts) and counts[0] < ratio:
        keep[0] = False
    if len(starts) and counts[-1] < ratio:
        keep[-1] = False
    if not keep.any():
        raise DataError(
            f"no complete {interval} bar in {md.n_bars} {md.interval} bars; use more data "
            f"(at least {ratio} bars aligned to the {interval} grid)"
        )
    lasts = np.r_[starts[1:], len(ts)] - 1
    starts_k, lasts_k = starts[keep], lasts[keep]
    # reduceat over all buckets then select kept ones: one pass per field.
    high = np.maximum.reduceat(md.high, starts, axis=0)[keep]
    low = np.minimum.reduceat(md.low, starts, axis=0)[keep]
    volume = np.add.reduceat(md.volume, starts, axis=0)[keep]
    return MarketData(
        timestamps=(bucket[starts_k] * width).astype("datetime64[ns]"),
        symbols=md.symbols,
        interval=interval,
        open=md.open[starts_k],
        high=high,
        low=low,
        close=md.close[lasts_k],
        volume=volume,
        tradable=md.tradable[starts_k],
    )
