"""Market data for a search: load once, cut the hold-out, resample per interval.

The hold-out is cut on the base-interval series BEFORE resampling, so every
interval's search period ends at the same moment and no search trial ever
sees a hold-out bar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.config.data import DataConfig
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.intervals import interval_minutes

__all__ = ["SearchData", "iso_time", "load_base_market", "split_markets"]


@dataclass(frozen=True)
class SearchData:
    """Search-period and hold-out markets per interval, and the data window."""

    markets: dict[str, MarketData]
    """Interval -> search-period market (what the trials see)."""
    full: dict[str, MarketData]
    """Interval -> the whole market, search period and hold-out (for the final evaluation:
    features at the hold-out's first bars need the bars before it)."""
    holdout_rows: dict[str, int]
    """Interval -> row of ``full`` where the hold-out starts."""
    start: str
    """Open time of the first bar (ISO, UTC)."""
    end: str
    """Open time of the last bar."""
    holdout_start: str
    """Open time of the first hold-out bar."""

    def window(self) -> dict[str, str]:
        """The ``data_window`` section of the report."""
        return {"start": self.start, "end": self.end, "holdout_start": self.holdout_start}


def iso_time(ts: Any) -> str:
    """A bar time as ISO text in UTC to the second, e.g. ``"2023-04-30T23:00:00Z"``."""
    return str(np.datetime_as_string(np.datetime64(ts, "s"))) + "Z"


def load_base_market(data: str | Path | DataConfig | None, config_dir: str | Path = "configs") -> MarketData:
    """Load the base-interval market from ``data``.

    Args:
        data: A :class:`DataConfig`, a data config YAML, a folder of candle files
            (one file per symbol, as ``cappuccino-ray data import`` reads them), or
            ``None`` for ``<config_dir>/data.yaml``.
        config_dir: Where ``data.yaml`` lives when ``data`` is ``None``.

    Returns:
        Aligned, validated candles at the data's base interval.
    """
    from cappuccino_ray import data as data_pkg
    from cappuccino_ray.config import load_config

    if isinstance(data, DataConfig):
        return data_pkg.load_market(data)
    path = Path(data).expanduser() if data is not None else Path(config_dir) / "data.yaml"
    if path.is_dir():
        return _load_folder(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such data config or candle folder; pass --data PATH")
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(
            f"--data {path}: a single file that is not a data config YAML; pass the folder holding "
            "the candle files (one per symbol) or a data config .yaml"
        )
    return data_pkg.load_market(load_config(DataConfig, path))


def _load_folder(folder: Path) -> MarketData:
    """Candle files in ``folder`` (one per symbol), validated and aligned via a temporary store.

    The files go through the same import as ``cappuccino-ray data import``
    (validation, gap repair, halt detection), so a folder and the store give
    the same market.
    """
    import tempfile

    from cappuccino_ray import data as data_pkg

    with tempfile.TemporaryDirectory(prefix="cappuccino_data_") as tmp:
        cfg = DataConfig(source="store", store_dir=tmp)
        results = data_pkg.import_files([folder], cfg)
        if not results:
            raise DataError(
                f"{folder}: no candle files (csv, csv.gz, parquet, feather, json) found; "
                "put the candle files there or pass another folder with --data"
            )
        intervals = {r.stored.interval for r in results}
        if len(intervals) != 1:
            raise DataError(f"{folder}: files of several intervals {sorted(intervals)}; keep one interval")
        symbols = tuple(dict.fromkeys(r.stored.symbol for r in results))
        cfg = dataclasses.replace(
            cfg, symbols=symbols, base_interval=intervals.pop(), exchange=results[0].stored.exchange
        )
        return data_pkg.load_market(cfg)


def split_markets(base: MarketData, intervals: Iterable[str], holdout_fraction: float) -> SearchData:
    """Cut the hold-out off ``base`` and resample both parts to each of ``intervals``.

    Args:
        base: Candles at the finest interval.
        intervals: Intervals the search trains on (none finer than ``base.interval``).
        holdout_fraction: Share of the latest bars held out.

    Returns:
        The per-interval markets and the window.
    """
    from cappuccino_ray.data import resample
    from cappuccino_ray.validation import holdout_split

    search_range, hold_range = holdout_split(base.n_bars, holdout_fraction)
    search = base.slice(search_range.start, search_range.stop)
    hold = base.slice(hold_range.start, hold_range.stop)
    markets: dict[str, MarketData] = {}
    full: dict[str, MarketData] = {}
    rows: dict[str, int] = {}
    for iv in dict.fromkeys(intervals):
        if interval_minutes(iv) < interval_minutes(base.interval):
            raise DataError(
                f"interval {iv} is finer than the data's {base.interval}; "
                f"use {base.interval}-or-coarser intervals or finer data"
            )
        same = iv == base.interval
        markets[iv] = search if same else resample(search, iv)
        full[iv] = base if same else resample(base, iv)
        # The first bar that opens at or after the cut: no hold-out bar is ever searched.
        rows[iv] = int(np.searchsorted(full[iv].timestamps, hold.timestamps[0], side="left"))
        if rows[iv] >= full[iv].n_bars - 1:
            raise DataError(f"the hold-out is shorter than two {iv} bars; use more data or a larger fraction")
    return SearchData(
        markets=markets,
        full=full,
        holdout_rows=rows,
        start=iso_time(base.timestamps[0]),
        end=iso_time(base.timestamps[-1]),
        holdout_start=iso_time(hold.timestamps[0]),
    )
