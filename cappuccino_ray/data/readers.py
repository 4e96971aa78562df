"""Readers for candle files: CSV, gzip CSV, Parquet, freqtrade feather, Binance klines, ccxt rows.

Every reader returns the same shape: a :class:`pandas.DataFrame` with columns
``timestamp`` (``datetime64[ns]``, naive UTC, the bar's open time), ``open``,
``high``, ``low``, ``close`` and ``volume`` (float64), in file order. Nothing is
repaired here; :mod:`cappuccino_ray.data.validate` checks and repairs.

The symbol is inferred from the file name (``BTCUSDT_1h.csv.gz`` and
``BTC_USDT-1h.feather`` both give ``BTC/USDT``) and the interval from the name
or, failing that, from the most common spacing of the timestamps. Both can be
given explicitly instead.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from cappuccino_ray.errors import ConfigError, DataError, brief
from cappuccino_ray.intervals import INTERVALS, interval_ns, validate_interval

__all__ = [
    "CANDLE_SUFFIXES",
    "OHLCV",
    "RawCandles",
    "candles_from_ccxt",
    "infer_interval",
    "infer_symbol",
    "normalise_symbol",
    "read_candles",
]

#: The value columns every candle frame carries, in order.
OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "date", "time", "datetime", "open_time", "opentime", "ts", "start"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v"),
}
# Quote currencies recognised at the end of a separator-less pair such as BTCUSDT.
_QUOTES: tuple[str, ...] = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "BTC", "ETH")
#: File name endings (lower case) that :func:`read_candles` reads, and how: the one list of
#: supported files. ``.txt`` files are read as CSV when named, but not collected from folders.
_FORMATS: dict[str, str] = {
    ".csv.gz": "csv",
    ".csv": "csv",
    ".txt.gz": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".feather": "feather",
    ".json": "json",
}
#: The endings a folder import collects.
CANDLE_SUFFIXES: tuple[str, ...] = tuple(s for s in _FORMATS if not s.startswith(".txt"))
_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@dataclass(frozen=True)
class RawCandles:
    """Candles as read from one source, before validation.

    Attributes:
        frame: Columns ``timestamp`` (datetime64[ns], UTC-naive open time) and OHLCV floats.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        interval: Candle interval, e.g. ``"1h"``.
        source: Where the candles came from (a path or ``"ccxt:<exchange>"``).
    """

    frame: pd.DataFrame
    symbol: str
    interval: str
    source: str


def normalise_symbol(symbol: str) -> str:
    """Return a unified ``BASE/QUOTE`` symbol from ``BTC/USD``, ``BTC-USD``, ``btc_usd`` or ``BTCUSDT``.

    Raises:
        DataError: If no base and quote can be told apart.
    """
    s = symbol.strip().upper()
    parts = [p for p in re.split(r"[/\-_:]", s) if p]
    if len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            return f"{s[: -len(quote)]}/{quote}"
    raise DataError(f"cannot tell base from quote in symbol {symbol!r}; write it as BASE/QUOTE, e.g. BTC/USD")


def _suffix(name: str) -> str | None:
    """The supported ending of a file name (the longest, ``.csv.gz`` before ``.csv``), or ``None``."""
    lower = name.lower()
    return next((s for s in _FORMATS if lower.endswith(s)), None)


def _stem(path: Path) -> str:
    suffix = _suffix(path.name)
    return path.name[: -len(suffix)] if suffix else path.stem


def infer_symbol(path: str | Path) -> str | None:
    """Infer the unified symbol from a file name, or ``None`` if it cannot be told.

    ``BTCUSDT_1h.csv.gz`` -> ``BTC/USDT``; ``BTC_USDT-1h.feather`` -> ``BTC/USDT``;
    ``BTCUSDT-5m-2024-01.csv`` (Binance monthly klines) -> ``BTC/USDT``.
    """
    stem = _stem(Path(path))
    tokens = [t for t in re.split(r"[\-_. ]", stem) if t]
    words = [t for t in tokens if t.isalpha()]
    if len(words) >= 2 and tokens.index(words[1]) == tokens.index(words[0]) + 1:
        candidate = f"{words[0]}/{words[1]}"
    elif words:
        candidate = words[0]
    else:
        return None
    try:
        return normalise_symbol(candidate)
    except DataError:
        return None


def _interval_from_name(path: Path) -> str | None:
    tokens = re.split(r"[\-_. ]", _stem(path))
    found = [t for t in tokens if t in INTERVALS]
    return found[-1] if found else None


def infer_interval(timestamps: np.ndarray) -> str | None:
    """The supported interval equal to the most common spacing of ``timestamps`` (int64 ns), or ``None``."""
    ts = np.asarray(timestamps, dtype=np.int64)
    if len(ts) < 2:
        return None
    diffs = np.diff(np.sort(ts))
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    step = int(values[np.argmax(counts)])
    return next((name for name in INTERVALS if interval_ns(name) == step), None)


def _epoch_to_ns(values: np.ndarray) -> np.ndarray:
    """Epoch numbers in s, ms, us or ns (told apart by magnitude) to int64 ns."""
    v = np.asarray(values)
    if len(v) == 0:
        return v.astype(np.int64)
    top = float(np.nanmax(np.abs(v)))
    unit = "s" if top < 1e11 else "ms" if top < 1e14 else "us" if top < 1e17 else "ns"
    return (v.astype(np.int64)) * _NS[unit]


def _timestamps_to_ns(col: pd.Series, source: str) -> np.ndarray:
    """Any timestamp column (datetime, epoch number or ISO string) to int64 ns UTC."""
    if pd.api.types.is_datetime64_any_dtype(col):
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise DataError(f"{source}: row {row + 1}: timestamp is empty; fix or delete that row")
        s = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz is not None else col
        return s.astype("datetime64[ns]").to_numpy().astype(np.int64)
    if pd.api.types.is_numeric_dtype(col):
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise DataError(f"{source}: row {row + 1}: timestamp is empty; fix or delete that row")
        return _epoch_to_ns(col.to_numpy())
    try:
        parsed = pd.to_datetime(col, utc=True, format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{source}: cannot read the timestamp column ({brief(exc)}); "
            "use ISO-8601 UTC or epoch milliseconds"
        ) from exc
    bad = parsed.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: row {row + 1}: timestamp {str(col.iloc[row])[:40]!r} is not a date; "
            "use ISO-8601 UTC (2024-01-01T00:00:00Z) or epoch milliseconds"
        )
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(f"{source}: row {row + 1}: timestamp is empty; fix or delete that row")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]").to_numpy().astype(np.int64)


def _standardise(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rename known column aliases, check required columns, build the standard frame."""
    lower = {str(c).strip().lower(): c for c in df.columns}
    picked: dict[str, str] = {}
    for std, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lower:
                picked[std] = lower[alias]
                break
    missing = [c for c in ("timestamp", *OHLCV) if c not in picked]
    if missing:
        have = ", ".join(map(str, df.columns))
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)} (found: {have}); "
            "a candle file needs timestamp (or date), open, high, low, close, volume"
        )
    out = pd.DataFrame(
        {"timestamp": _timestamps_to_ns(df[picked["timestamp"]], source).astype("datetime64[ns]")}
    )
    for c in OHLCV:
        col = df[picked[c]]
        if not pd.api.types.is_numeric_dtype(col):
            numbers = pd.to_numeric(col, errors="coerce")
            text = col.astype("string").str.strip()
            bad = numbers.isna().to_numpy() & col.notna().to_numpy() & (text != "").fillna(False).to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{source}: row {row + 1}: {c} {str(col.iloc[row])[:40]!r} is not a number; "
                    "fix or delete that row"
                )
            col = numbers
        out[c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _first_line(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return fh.readline()


def _first_non_utf8_line(path: Path) -> int | None:
    """The 1-based number of the first line that is not valid UTF-8, or ``None``."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return None


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    first = _first_line(path).strip()
    if not first:
        raise DataError(f"{source}: the file is empty; export candles into it or pick another file")
    head = first.split(",")[0].strip().strip('"')
    headerless = bool(re.fullmatch(r"-?\d+(\.\d+)?", head))
    read_opts = pacsv.ReadOptions(autogenerate_column_names=headerless)
    try:
        table = pacsv.read_csv(path, read_options=read_opts)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{source}: not a readable CSV file ({brief(exc)})") from exc
    # pyarrow reads a text column holding non-UTF-8 bytes as binary; only then is the file
    # read again, to say on which line.
    line = _first_non_utf8_line(path) if any(pa.types.is_binary(t) for t in table.schema.types) else None
    if line is not None:
        raise DataError(
            f"{source}: line {line} holds bytes that are not UTF-8 text; "
            "fix that line or save the file as UTF-8"
        )
    df = table.to_pandas()
    if headerless:
        # Binance kline / ccxt layout: open time, open, high, low, close, volume, ...
        if df.shape[1] < 6:
            raise DataError(
                f"{source}: a file without a header needs at least 6 columns "
                "(open time, open, high, low, close, volume); add a header naming the columns"
            )
        df = df.iloc[:, :6]
        df.columns = ["timestamp", *OHLCV]
    return df


def _read_frame(path: Path, source: str) -> pd.DataFrame:
    kind = _FORMATS.get(_suffix(path.name) or "")
    try:
        if kind == "csv":
            return _read_csv(path, source)
        if kind == "parquet":
            df = pq.read_table(path).to_pandas()
        elif kind == "feather":
            df = feather.read_table(path).to_pandas()
        elif kind == "json":
            df = pd.read_json(path)
            if list(df.columns) == list(range(df.shape[1])):
                df = df.iloc[:, :6]
                df.columns = ["timestamp", *OHLCV]
        else:
            raise DataError(
                f"{source}: unknown file type; use {', '.join(CANDLE_SUFFIXES[:-1])} or "
                f"{CANDLE_SUFFIXES[-1]} (ccxt rows)"
            )
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"{source}: cannot read the file ({brief(exc)}); check that it is a {kind or 'candle'} file, "
            "or export the candles again"
        ) from exc
    if isinstance(df.index, pd.DatetimeIndex) and not any(
        str(c).lower() in _ALIASES["timestamp"] for c in df.columns
    ):
        df = df.reset_index(names="timestamp")
    return df


def read_candles(path: str | Path, *, symbol: str | None = None, interval: str | None = None) -> RawCandles:
    """Read one candle file.

    Args:
        path: A ``.csv``, ``.csv.gz``, ``.parquet``, ``.feather`` or ``.json`` file. CSV files may
            have a header (``timestamp``/``date``, open, high, low, close, volume) or none
            (Binance kline layout: epoch open time first, in s, ms or us).
        symbol: Overrides the symbol inferred from the file name.
        interval: Overrides the interval inferred from the name or the timestamps.

    Returns:
        The candles, unvalidated, in file order.

    Raises:
        DataError: If the file is missing, unreadable, lacks a column, or its symbol or
            interval cannot be inferred.
    """
    p = Path(path)
    source = str(p)
    if not p.is_file():
        raise DataError(f"{source}: file not found; check the path")
    frame = _standardise(_read_frame(p, source), source)
    sym = normalise_symbol(symbol) if symbol else infer_symbol(p)
    if sym is None:
        raise DataError(f"{source}: cannot infer the symbol from the file name; pass --symbol BASE/QUOTE")
    iv = _resolve_interval(p, frame, interval, source)
    return RawCandles(frame=frame, symbol=sym, interval=iv, source=source)


def _resolve_interval(path: Path, frame: pd.DataFrame, interval: str | None, source: str) -> str:
    if interval is not None:
        try:
            return validate_interval(interval)
        except ConfigError as exc:
            raise DataError(f"{source}: {exc}") from exc
    named = _interval_from_name(path)
    spaced = infer_interval(frame["timestamp"].to_numpy().astype(np.int64))
    if named and spaced and named != spaced:
        raise DataError(
            f"{source}: the file name says {named} but most timestamps are {spaced} apart; "
            "pass --interval to say which is right"
        )
    found = named or spaced
    if found is None:
        raise DataError(f"{source}: cannot infer the candle interval; pass --interval (e.g. 5m or 1h)")
    return found


def candles_from_ccxt(rows: Sequence[Sequence[float]], *, source: str = "ccxt") -> pd.DataFrame:
    """Turn ccxt OHLCV rows ``[ms, open, high, low, close, volume]`` into a candle frame.

    Raises:
        DataError: If a row has fewer than 6 values.
    """
    if len(rows) == 0:
        return pd.DataFrame(
            {"timestamp": np.array([], dtype="datetime64[ns]"), **{c: np.array([], float) for c in OHLCV}}
        )
    short = [i for i, r in enumerate(rows) if len(r) < 6]
    if short:
        raise DataError(f"{source}: row {short[0] + 1} has {len(rows[short[0]])} values; ccxt rows have 6")
    arr = np.array([list(r[:6]) for r in rows], dtype=np.float64)
    frame = pd.DataFrame({"timestamp": (arr[:, 0].astype(np.int64) * 10**6).astype("datetime64[ns]")})
    for i, c in enumerate(OHLCV, start=1):
        frame[c] = arr[:, i]
    return frame
