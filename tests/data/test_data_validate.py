"""Validation: each error names file, symbol, row and fix; each repair is made and reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cappuccino_ray.config import DataConfig
from cappuccino_ray.data import import_files, read_candles, read_dataset
from cappuccino_ray.data.validate import validate_candles
from cappuccino_ray.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
H = pd.Timestamp("2024-01-01T00:00")


def frame(hours: list[float], rows: list[tuple[float, ...]] | None = None) -> pd.DataFrame:
    rows = rows or [(10.0, 11.0, 9.0, 10.5, 1.0)] * len(hours)
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
    ts = (H + pd.to_timedelta(hours, unit="h")).to_numpy().astype("datetime64[ns]")
    df.insert(0, "timestamp", ts)
    return df


def run(df: pd.DataFrame, **kw: object) -> tuple[pd.DataFrame, object]:
    args: dict[str, object] = {"interval": "1h", "source": "f.csv", "symbol": "BTC/USD", **kw}
    return validate_candles(df, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((np.nan, 11.0, 9.0, 10.5, 1.0), r"row 2 \(2024-01-01T01:00Z\): open is missing \(NaN\)"),
        ((10.0, 11.0, 9.0, 10.5, np.nan), r"row 2 \(2024-01-01T01:00Z\): volume is missing"),
        ((10.0, 11.0, -9.0, 10.5, 1.0), r"row 2 \(2024-01-01T01:00Z\): low is not positive"),
        ((0.0, 11.0, 9.0, 10.5, 1.0), r"row 2 .*: open is not positive"),
        ((10.0, 11.0, 9.0, 10.5, -1.0), r"row 2 .*: volume is negative"),
        ((10.0, 9.0, 11.0, 10.5, 1.0), r"row 2 .*: high is below low"),
    ],
)
def test_value_errors_name_file_symbol_row(row: tuple[float, ...], message: str) -> None:
    good = (10.0, 11.0, 9.0, 10.5, 1.0)
    with pytest.raises(DataError, match=r"^f\.csv \(BTC/USD 1h\): " + message + ".*fix or delete"):
        run(frame([0, 1, 2], [good, row, good]))


def test_off_grid_timestamp_is_an_error() -> None:
    with pytest.raises(DataError, match=r"row 2 \(2024-01-01T01:30Z\) is off the 1h grid.*--interval"):
        run(frame([0, 1.5, 2]))


def test_conflicting_duplicate_is_an_error_exact_duplicate_is_dropped() -> None:
    a, b = (10.0, 11.0, 9.0, 10.5, 1.0), (10.0, 11.0, 9.0, 10.6, 1.0)
    with pytest.raises(DataError, match="rows 2 and 3 share the timestamp 2024-01-01T01:00Z"):
        run(frame([0, 1, 1], [a, a, b]))
    out, rep = run(frame([0, 1, 1, 2], [a, b, b, a]))
    assert len(out) == 3 and rep.rows == 4 and rep.rows_out == 3  # type: ignore[attr-defined]
    assert rep.repairs == ("dropped 1 exact duplicate rows (first at 2024-01-01T01:00Z)",)  # type: ignore[attr-defined]


def test_unsorted_rows_are_sorted_and_reported() -> None:
    rows = [(float(i), 20.0, 1.0, float(i), 1.0) for i in (3, 1, 2)]
    out, rep = run(frame([2, 0, 1], rows))
    np.testing.assert_array_equal(out["open"], [1.0, 2.0, 3.0])
    assert "sorted 3 rows into time order" in rep.repairs[0]  # type: ignore[attr-defined]


def test_open_close_outside_range_widens_high_low() -> None:
    out, rep = run(frame([0, 1], [(12.0, 11.0, 9.0, 10.0, 1.0), (10.0, 11.0, 9.5, 9.0, 1.0)]))
    np.testing.assert_array_equal(out["high"], [12.0, 11.0])
    np.testing.assert_array_equal(out["low"], [9.0, 9.0])
    assert rep.repairs[0].startswith("widened high/low on 2 bars")  # type: ignore[attr-defined]


def test_gap_filled_flat_at_previous_close_not_tradable() -> None:
    rows = [(10.0, 11.0, 9.0, 10.5, 2.0), (10.5, 12.0, 10.0, 11.0, 0.0), (11.0, 13.0, 10.5, 12.0, 3.0)]
    out, rep = run(frame([0, 1, 4], rows))
    assert list(out["timestamp"]) == [H + pd.Timedelta(hours=h) for h in range(5)]
    np.testing.assert_array_equal(out.loc[2:3, ["open", "high", "low", "close"]].to_numpy(), 11.0)
    np.testing.assert_array_equal(out["volume"], [2.0, 0.0, 0.0, 0.0, 3.0])
    np.testing.assert_array_equal(out["tradable"], [True, False, False, False, True])  # a halt, 2 fills
    np.testing.assert_array_equal(out["filled"], [False, False, True, True, False])
    assert [(g.after, g.missing) for g in rep.gaps] == [(H + pd.Timedelta(hours=1), 2)]  # type: ignore[attr-defined]
    assert rep.halts == (H + pd.Timedelta(hours=1),)  # type: ignore[attr-defined]
    assert "filled 2 missing bars in 1 gaps" in rep.repairs[0]  # type: ignore[attr-defined]


def test_gap_policy_refuse_and_max_gap_bars() -> None:
    with pytest.raises(
        DataError, match=r"1 gaps .*2 bars missing after 2024-01-01T01:00Z.*gap_policy is refuse"
    ):
        run(frame([0, 1, 4]), gap_policy="refuse")
    with pytest.raises(DataError, match="longer than max_gap_bars=1; raise max_gap_bars"):
        run(frame([0, 1, 4]), max_gap_bars=1)
    out, _ = run(frame([0, 1, 4]), max_gap_bars=2)
    assert len(out) == 5


def test_empty_is_an_error() -> None:
    with pytest.raises(DataError, match="no candles"):
        run(frame([]))


def needs_shared(sub: str) -> Path:
    folder = SHARED / sub
    if not folder.is_dir():
        pytest.skip(f"real market data not found at {folder} (the shared data folder beside the project)")
    return folder


COINS = ["BTC", "ETH", "SOL", "LTC", "XRP", "ADA", "LINK"]


def test_real_hourly_data_imports_with_three_gaps_and_one_halt(tmp_path: Path) -> None:
    folder = needs_shared("crypto_1h")
    cfg = DataConfig(store_dir=str(tmp_path), exchange="binance")
    results = import_files([folder], cfg)
    assert sorted(r.report.symbol for r in results) == sorted(f"{c}/USDT" for c in COINS)
    for r in results:
        rep = r.report
        assert rep.rows == 17_513
        assert (rep.first, rep.last) == (pd.Timestamp("2021-05-01T00:00"), pd.Timestamp("2023-04-30T23:00"))
        assert [(str(g.after), g.missing) for g in rep.gaps] == [
            ("2021-08-13 01:00:00", 4),
            ("2021-09-29 06:00:00", 2),
            ("2023-03-24 12:00:00", 1),
        ]
        assert rep.halts == (pd.Timestamp("2023-03-24T12:00"),)
        assert r.stored.rows == 17_520
    stored = read_dataset(tmp_path, "binance", "BTC/USDT", "1h")
    assert (~stored["tradable"]).sum() == 8  # 7 filled hours + the halt


def test_real_5m_data_halts_then_missing_slots() -> None:
    folder = needs_shared("crypto_5m")
    raw = read_candles(folder / "BTCUSDT_5m.csv.gz")
    assert (raw.symbol, raw.interval) == ("BTC/USDT", "5m")
    out, rep = validate_candles(raw.frame, interval="5m", source=raw.source, symbol=raw.symbol)
    assert rep.rows == 78_608
    assert rep.halts == tuple(pd.date_range("2023-03-24T11:30", "2023-03-24T12:35", freq="5min"))
    assert [(str(g.after), g.missing) for g in rep.gaps] == [("2023-03-24 12:35:00", 16)]
    day = out[(out["timestamp"] >= "2023-03-24T11:30") & (out["timestamp"] < "2023-03-24T14:00")]
    assert len(day) == 30 and not day["tradable"].any()
    assert out.set_index("timestamp").loc["2023-03-24T14:00", "tradable"]
