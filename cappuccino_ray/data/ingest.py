"""Import candles into the store: read, validate, merge with what is stored, write atomically.

A file is validated on its own (that report is what ``data import`` prints),
then merged with the stored dataset of the same exchange/symbol/interval: the
new candles win where timestamps overlap, previously gap-filled bars are
dropped so that real candles can fill them, and the union is validated again
(gaps between old and new data are reported and handled by the gap policy)
before it replaces the stored file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cappuccino_ray.config.data import DataConfig
from cappuccino_ray.data.readers import CANDLE_SUFFIXES, OHLCV, RawCandles, read_candles
from cappuccino_ray.data.store import DatasetInfo, dataset_path, read_dataset, write_dataset
from cappuccino_ray.data.validate import ValidationReport, validate_candles

__all__ = ["ImportResult", "import_files", "store_candles"]


@dataclass(frozen=True)
class ImportResult:
    """Outcome of storing one source.

    Attributes:
        report: Validation of the source's own candles.
        stored: Metadata of the dataset after the merge.
        replaced: Stored candles whose values the source changed.
    """

    report: ValidationReport
    stored: DatasetInfo
    replaced: int


def _real_rows(frame: pd.DataFrame) -> pd.DataFrame:
    real = frame[~frame["filled"].to_numpy()] if "filled" in frame.columns else frame
    return real[["timestamp", *OHLCV]]


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Union of stored and new real candles; the new ones win on shared timestamps."""
    old_ts = old["timestamp"].to_numpy()
    new_ts = new["timestamp"].to_numpy()
    overlap = np.isin(old_ts, new_ts)
    replaced = 0
    if overlap.any():
        pos = np.searchsorted(new_ts, old_ts[overlap])
        a = old.loc[overlap, list(OHLCV)].to_numpy()
        b = new[list(OHLCV)].to_numpy()[pos]
        replaced = int(np.any(a != b, axis=1).sum())
    merged = pd.concat([old[~overlap], new], ignore_index=True)
    order = np.argsort(merged["timestamp"].to_numpy(), kind="stable")
    return merged.iloc[order].reset_index(drop=True), replaced


def _merged(
    raw: RawCandles, stored: pd.DataFrame | None, gap_policy: str, max_gap_bars: int
) -> tuple[pd.DataFrame, ValidationReport, ValidationReport, int]:
    """Validate ``raw``, merge it into ``stored`` (if any) and validate the union.

    Returns:
        The frame to store, its report, the source's own report, and how many stored
        candles the source changed.
    """
    kwargs = {"interval": raw.interval, "symbol": raw.symbol, "gap_policy": gap_policy}
    frame, report = validate_candles(raw.frame, source=raw.source, max_gap_bars=max_gap_bars, **kwargs)
    if stored is None:
        return frame, report, report, 0
    merged, replaced = _merge(_real_rows(stored), _real_rows(frame))
    frame, merged_report = validate_candles(merged, source=raw.source, max_gap_bars=max_gap_bars, **kwargs)
    return frame, merged_report, report, replaced


def _stored(store_dir: str | Path, exchange: str, raw: RawCandles) -> pd.DataFrame | None:
    if not dataset_path(store_dir, exchange, raw.symbol, raw.interval).is_file():
        return None
    return read_dataset(store_dir, exchange, raw.symbol, raw.interval)


def store_candles(
    raw: RawCandles,
    *,
    store_dir: str | Path,
    exchange: str,
    gap_policy: str = "ffill",
    max_gap_bars: int = 48,
) -> ImportResult:
    """Validate ``raw`` and merge it into the store.

    Args:
        raw: Candles from a reader or a download.
        store_dir: Root of the store.
        exchange: Exchange id for the dataset path.
        gap_policy: ``ffill`` or ``refuse`` (see :func:`validate_candles`).
        max_gap_bars: Longest gap that ``ffill`` repairs.

    Returns:
        The source's report and the stored dataset's metadata.

    Raises:
        DataError: If the source or the merged dataset fails validation; the store is unchanged.
    """
    stored = _stored(store_dir, exchange, raw)
    frame, stored_report, report, replaced = _merged(raw, stored, gap_policy, max_gap_bars)
    info = write_dataset(store_dir, exchange, frame, stored_report)
    return ImportResult(report=report, stored=info, replaced=replaced)


def import_files(
    paths: Sequence[str | Path],
    cfg: DataConfig,
    *,
    symbol: str | None = None,
    interval: str | None = None,
    exchange: str | None = None,
) -> list[ImportResult]:
    """Import candle files into ``cfg.store_dir``, one dataset per symbol and interval.

    Args:
        paths: Files (see :func:`read_candles`); a folder stands for the candle files in it.
        cfg: Data config (store, gap policy, default exchange).
        symbol: Overrides the symbol inferred from each file name.
        interval: Overrides the inferred interval.
        exchange: Overrides ``cfg.exchange`` for the store path.

    Returns:
        One result per file, in order.

    Raises:
        DataError: If any file cannot be read or fails validation; then nothing is stored
            (every file is read, validated and merged in memory before the first write).
    """
    ex = exchange or cfg.exchange
    pending: dict[tuple[str, str], tuple[pd.DataFrame, ValidationReport]] = {}
    done: list[tuple[ValidationReport, tuple[str, str], int]] = []
    for path in _expand(paths):
        raw = read_candles(path, symbol=symbol, interval=interval)
        key = (raw.symbol, raw.interval)
        stored = pending[key][0] if key in pending else _stored(cfg.store_dir, ex, raw)
        frame, stored_report, report, replaced = _merged(raw, stored, cfg.gap_policy, cfg.max_gap_bars)
        pending[key] = (frame, stored_report)
        done.append((report, key, replaced))
    infos = {key: write_dataset(cfg.store_dir, ex, frame, rep) for key, (frame, rep) in pending.items()}
    return [ImportResult(report=rep, stored=infos[key], replaced=n) for rep, key, n in done]


_PATTERNS = tuple(f"*{suffix}" for suffix in CANDLE_SUFFIXES)


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for pat in _PATTERNS for f in p.glob(pat)))
        else:
            out.append(p)
    return out
