"""The local candle store: one Parquet file per exchange/symbol/interval, plus a JSON sidecar.

Layout under ``DataConfig.store_dir``::

    <exchange>/<BASE-QUOTE>/<interval>.parquet   # timestamp, open, high, low, close, volume, tradable, filled
    <exchange>/<BASE-QUOTE>/<interval>.json      # source, first/last, rows, gaps, halts, imported_at

Both files are written atomically (a temp file in the same folder, then
``os.replace``), so a reader sees the old dataset or the new one, never half of
one. The metadata is also embedded in the Parquet file's schema, which is the
source of truth; the sidecar is a readable copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cappuccino_ray.atomic import atomic_write, write_json_atomic
from cappuccino_ray.data.readers import OHLCV
from cappuccino_ray.data.validate import ValidationReport, iso
from cappuccino_ray.errors import DataError

__all__ = [
    "DatasetInfo",
    "dataset_path",
    "list_datasets",
    "read_dataset",
    "read_info",
    "write_dataset",
]

_META_KEY = b"cappuccino_ray"
COLUMNS: tuple[str, ...] = ("timestamp", *OHLCV, "tradable", "filled")


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of one stored dataset.

    Attributes:
        exchange: Exchange id (e.g. ``coinbase``).
        symbol: Unified symbol (e.g. ``BTC/USD``).
        interval: Candle interval.
        path: The Parquet file.
        source: Where the candles last came from (file path or ``ccxt:<exchange>``).
        first: ISO open time of the first bar.
        last: ISO open time of the last bar.
        rows: Rows stored (gap-filled bars included).
        gaps: ``{"after": iso, "missing": n}`` per gap that was filled.
        halts: ISO open times of zero-volume halt bars.
        imported_at: ISO time of the last write (UTC).
    """

    exchange: str
    symbol: str
    interval: str
    path: Path
    source: str
    first: str
    last: str
    rows: int
    gaps: tuple[dict[str, Any], ...]
    halts: tuple[str, ...]
    imported_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "interval": self.interval,
            "source": self.source,
            "first": self.first,
            "last": self.last,
            "rows": self.rows,
            "gaps": list(self.gaps),
            "halts": list(self.halts),
            "imported_at": self.imported_at,
        }


def _symbol_dir(symbol: str) -> str:
    return symbol.replace("/", "-").replace(":", "-")


def dataset_path(store_dir: str | Path, exchange: str, symbol: str, interval: str) -> Path:
    """The Parquet file of one dataset (it may not exist yet)."""
    return Path(store_dir) / exchange / _symbol_dir(symbol) / f"{interval}.parquet"


def write_dataset(
    store_dir: str | Path,
    exchange: str,
    frame: pd.DataFrame,
    report: ValidationReport,
) -> DatasetInfo:
    """Store a validated frame (from :func:`validate_candles`) as one dataset, replacing any old one.

    Args:
        store_dir: Root of the store.
        exchange: Exchange id for the path.
        frame: Columns ``timestamp``, OHLCV, ``tradable``, ``filled``.
        report: The validation report of ``frame`` (gives symbol, interval, gaps, halts).

    Returns:
        The stored dataset's metadata.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"cannot store {report.symbol}: frame lacks {', '.join(missing)}; validate it first")
    path = dataset_path(store_dir, exchange, report.symbol, report.interval)
    ts = frame["timestamp"].to_numpy().astype("datetime64[ns]")
    info = DatasetInfo(
        exchange=exchange,
        symbol=report.symbol,
        interval=report.interval,
        path=path,
        source=report.source,
        first=iso(ts[0], seconds=True),
        last=iso(ts[-1], seconds=True),
        rows=len(frame),
        gaps=tuple({"after": iso(g.after, seconds=True), "missing": g.missing} for g in report.gaps),
        halts=tuple(iso(h, seconds=True) for h in report.halts),
        imported_at=iso(datetime.now(UTC), seconds=True),
    )
    meta = json.dumps(info.to_dict()).encode()
    arrays = [pa.array(ts.astype("datetime64[ms]"), type=pa.timestamp("ms", tz="UTC"))]
    arrays += [pa.array(frame[c].to_numpy(dtype=np.float64)) for c in OHLCV]
    arrays += [pa.array(frame[c].to_numpy(dtype=bool)) for c in ("tradable", "filled")]
    table = pa.Table.from_arrays(arrays, names=list(COLUMNS)).replace_schema_metadata({_META_KEY: meta})
    # Dictionary encoding gains nothing on float prices and costs 4x the write time.
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", use_dictionary=False))
    write_json_atomic(path.with_suffix(".json"), info.to_dict())
    return info


def _missing_message(store_dir: str | Path, exchange: str, symbol: str, interval: str) -> str:
    return (
        f"no stored {interval} candles for {symbol} on {exchange} under {store_dir}; run "
        f"`cappuccino-ray data import FILE --symbol {symbol} --interval {interval} --exchange {exchange}` "
        f"or `cappuccino-ray data download --exchange {exchange} --symbols {symbol} --interval {interval} "
        "--since YYYY-MM-DD`"
    )


def read_dataset(store_dir: str | Path, exchange: str, symbol: str, interval: str) -> pd.DataFrame:
    """Read one dataset as a frame with columns ``timestamp`` (datetime64[ns], UTC-naive), OHLCV, flags.

    Raises:
        DataError: If the dataset does not exist (the message says which command fetches it).
    """
    path = dataset_path(store_dir, exchange, symbol, interval)
    if not path.is_file():
        raise DataError(_missing_message(store_dir, exchange, symbol, interval))
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet file ({exc}); re-import this dataset") from exc
    ts = table.column("timestamp").to_numpy().astype("datetime64[ns]")
    frame = pd.DataFrame({"timestamp": ts})
    for c in COLUMNS[1:]:
        frame[c] = table.column(c).to_numpy()
    return frame


def read_info(store_dir: str | Path, exchange: str, symbol: str, interval: str) -> DatasetInfo:
    """Metadata of one dataset, read from its Parquet file.

    Raises:
        DataError: If the dataset does not exist.
    """
    path = dataset_path(store_dir, exchange, symbol, interval)
    if not path.is_file():
        raise DataError(_missing_message(store_dir, exchange, symbol, interval))
    return _info_from_file(path)


def _info_from_file(path: Path) -> DatasetInfo:
    try:
        meta = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet file ({exc}); re-import this dataset") from exc
    if meta is None:
        raise DataError(f"{path}: not written by cappuccino-ray (no metadata); re-import it")
    d = json.loads(meta)
    return DatasetInfo(
        exchange=d["exchange"],
        symbol=d["symbol"],
        interval=d["interval"],
        path=path,
        source=d["source"],
        first=d["first"],
        last=d["last"],
        rows=int(d["rows"]),
        gaps=tuple(d["gaps"]),
        halts=tuple(d["halts"]),
        imported_at=d["imported_at"],
    )


def list_datasets(store_dir: str | Path) -> list[DatasetInfo]:
    """Every dataset in the store, sorted by exchange, symbol and interval."""
    root = Path(store_dir)
    if not root.is_dir():
        return []
    infos = [_info_from_file(p) for p in root.glob("*/*/*.parquet")]
    return sorted(infos, key=lambda i: (i.exchange, i.symbol, i.interval))
