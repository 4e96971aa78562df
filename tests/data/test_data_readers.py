"""Every reader gives the same standard frame; symbols and intervals are inferred or overridden."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from cappuccino_ray.data.readers import (
    candles_from_ccxt,
    infer_interval,
    infer_symbol,
    normalise_symbol,
    read_candles,
)
from cappuccino_ray.errors import DataError

ISO = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]
MS = [1704067200000, 1704070800000, 1704074400000]
ROWS = [(10.0, 12.0, 9.0, 11.0, 5.0), (11.0, 13.0, 10.0, 12.0, 6.0), (12.0, 12.5, 11.0, 11.5, 0.0)]


def csv_text(header: bool = True, times: list[str] | list[int] = ISO) -> str:
    lines = ["timestamp,open,high,low,close,volume"] if header else []
    lines += [f"{t},{','.join(map(str, r))}" for t, r in zip(times, ROWS, strict=True)]
    return "\n".join(lines) + "\n"


def check(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert frame["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-01-01T00:00")
    np.testing.assert_array_equal(frame[["open", "high", "low", "close", "volume"]].to_numpy(), ROWS)


def test_csv_and_gzip_csv(tmp_path: Path) -> None:
    plain = tmp_path / "BTCUSDT_1h.csv"
    plain.write_text(csv_text())
    gz = tmp_path / "ETHUSDT_1h.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(csv_text())
    a, b = read_candles(plain), read_candles(gz)
    check(a.frame)
    check(b.frame)
    assert (a.symbol, a.interval, b.symbol, b.interval) == ("BTC/USDT", "1h", "ETH/USDT", "1h")


def test_binance_kline_csv_without_header(tmp_path: Path) -> None:
    extra = ",1704070799999,123.4,42,1.0,2.0,0"  # close time, quote volume, trades, taker volumes, ignore
    lines = [f"{t},{','.join(map(str, r))}{extra}" for t, r in zip(MS, ROWS, strict=True)]
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines) + "\n")
    raw = read_candles(path)
    check(raw.frame)
    assert (raw.symbol, raw.interval) == ("BTC/USDT", "1h")
    # Binance data from 2025 on uses microseconds: told apart by magnitude.
    path.write_text("\n".join(f"{t * 1000},{','.join(map(str, r))}" for t, r in zip(MS, ROWS, strict=True)))
    check(read_candles(path).frame)


def test_parquet_and_freqtrade_feather(tmp_path: Path) -> None:
    df = pd.DataFrame(ROWS, columns=["open", "high", "low", "close", "volume"])
    df.insert(0, "date", pd.to_datetime(ISO, utc=True))
    feather.write_feather(df, tmp_path / "BTC_USDT-1h.feather")
    raw = read_candles(tmp_path / "BTC_USDT-1h.feather")
    check(raw.frame)
    assert raw.symbol == "BTC/USDT"
    indexed = df.set_index("date")  # a datetime index instead of a column
    pq.write_table(pa.Table.from_pandas(indexed), tmp_path / "SOL-USD.parquet")
    raw = read_candles(tmp_path / "SOL-USD.parquet")
    check(raw.frame)
    assert (raw.symbol, raw.interval) == ("SOL/USD", "1h")  # interval from the spacing


def test_ccxt_rows() -> None:
    frame = candles_from_ccxt([[t, *r] for t, r in zip(MS, ROWS, strict=True)])
    check(frame)
    assert len(candles_from_ccxt([])) == 0
    with pytest.raises(DataError, match="row 1 has 3 values"):
        candles_from_ccxt([[1, 2, 3]])


def test_overrides_and_inference(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(csv_text())
    with pytest.raises(DataError, match="pass --symbol"):
        read_candles(path)
    raw = read_candles(path, symbol="btc-usd", interval="1h")
    assert (raw.symbol, raw.interval) == ("BTC/USD", "1h")
    assert infer_symbol("BTCUSDT_1h.csv.gz") == "BTC/USDT"
    assert infer_symbol("BTC_USDT-1h.feather") == "BTC/USDT"
    assert infer_symbol("ETH_BTC-5m.feather") == "ETH/BTC"
    assert normalise_symbol("LINKUSD") == "LINK/USD"
    step = np.int64(300 * 10**9)
    assert infer_interval(np.arange(10, dtype=np.int64) * step) == "5m"
    assert infer_interval(np.array([0, 7 * 10**9], dtype=np.int64)) is None


def test_name_and_spacing_disagree(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_5m.csv"
    path.write_text(csv_text())
    with pytest.raises(DataError, match="file name says 5m but most timestamps are 1h apart"):
        read_candles(path)
    assert read_candles(path, interval="1h").interval == "1h"


def test_missing_column_names_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match=r"BTCUSDT_1h\.csv: missing column\(s\) volume"):
        read_candles(path)


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_candles(tmp_path / "nope.csv")
    empty = tmp_path / "BTCUSDT_1h.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_candles(empty)
    odd = tmp_path / "BTCUSDT_1h.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        read_candles(odd)
    bad_time = tmp_path / "ETHUSDT_1h.csv"
    bad_time.write_text("timestamp,open,high,low,close,volume\nyesterday,1,2,0.5,1.5,3\n")
    with pytest.raises(DataError, match="row 1: timestamp 'yesterday' is not a date"):
        read_candles(bad_time)
