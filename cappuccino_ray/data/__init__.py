"""The market-data layer: readers, validation, the Parquet store, resampling, alignment, downloads.

:func:`load_market` is the one entry point the rest of the project needs: it
returns a :class:`MarketData` for a :class:`DataConfig`, from the synthetic
generator or the local store, at any interval at least as coarse as the data.
"""

from __future__ import annotations

import dataclasses

from cappuccino_ray.config.data import DataConfig
from cappuccino_ray.data.align import align
from cappuccino_ray.data.ingest import ImportResult, import_files, store_candles
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.readers import RawCandles, candles_from_ccxt, infer_symbol, read_candles
from cappuccino_ray.data.resample import resample
from cappuccino_ray.data.store import DatasetInfo, list_datasets, read_dataset, read_info
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.data.validate import Gap, ValidationReport, validate_candles

__all__ = [
    "DatasetInfo",
    "Gap",
    "ImportResult",
    "MarketData",
    "RawCandles",
    "ValidationReport",
    "align",
    "candles_from_ccxt",
    "generate_market",
    "import_files",
    "infer_symbol",
    "list_datasets",
    "load_market",
    "read_candles",
    "read_dataset",
    "read_info",
    "resample",
    "store_candles",
    "validate_candles",
]


def load_market(cfg: DataConfig, interval: str | None = None) -> MarketData:
    """The market for ``cfg`` at ``interval`` (default ``cfg.base_interval``).

    ``source: synthetic`` generates ``cfg.synthetic.n_bars`` bars at the base interval,
    named after ``cfg.symbols``; ``source: store`` reads each symbol's stored dataset at
    the base interval from ``cfg.exchange`` and aligns them (``cfg.align_policy``).
    Either is then resampled to ``interval``.

    Args:
        cfg: Data configuration.
        interval: Target interval; must be a whole multiple of the base interval.

    Returns:
        The aligned market.

    Raises:
        DataError: If a stored dataset is missing (the message gives the command that
            fetches it), the symbols' periods differ under ``refuse``, or ``interval``
            is finer than the data.
    """
    target = interval or cfg.base_interval
    if cfg.source == "synthetic":
        s = cfg.synthetic
        md = generate_market(
            s.n_bars,
            n_assets=len(cfg.symbols),
            interval=cfg.base_interval,
            seed=s.seed,
            start=s.start,
            planted_signal=s.planted_signal,
        )
        md = dataclasses.replace(md, symbols=tuple(cfg.symbols))
    else:
        frames = {
            sym: read_dataset(cfg.store_dir, cfg.exchange, sym, cfg.base_interval) for sym in cfg.symbols
        }
        md = align(frames, cfg.base_interval, policy=cfg.align_policy)
    return resample(md, target)
