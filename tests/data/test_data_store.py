"""The Parquet store (round trip, atomic writes, merges), alignment, ``load_market`` and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cappuccino_ray.atomic import atomic_write
from cappuccino_ray.cli import EXIT_USER_ERROR, main
from cappuccino_ray.config import DataConfig, SyntheticConfig
from cappuccino_ray.data import (
    align,
    import_files,
    list_datasets,
    load_market,
    read_dataset,
    read_info,
    validate_candles,
)
from cappuccino_ray.data.store import dataset_path, write_dataset
from cappuccino_ray.errors import DataError

H = pd.Timestamp("2024-01-01T00:00")


def write_csv(path: Path, hours: list[int], price: float = 10.0, volume: float = 1.0) -> Path:
    ts = [(H + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in hours]
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [
        f"{t},{price + i},{price + i + 1},{price + i - 1},{price + i + 0.5},{volume}"
        for i, t in enumerate(ts)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def cfg_for(tmp_path: Path, **kw: object) -> DataConfig:
    return DataConfig(source="store", store_dir=str(tmp_path / "store"), exchange="test", **kw)  # type: ignore[arg-type]


def test_round_trip_keeps_values_flags_and_metadata(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "BTCUSD_1h.csv", [0, 1, 2, 5, 6])
    (res,) = import_files([src], cfg_for(tmp_path))
    stored = read_dataset(tmp_path / "store", "test", "BTC/USD", "1h")
    frame, _ = validate_candles(
        pd.read_csv(src, parse_dates=["timestamp"]).assign(
            timestamp=lambda d: d["timestamp"].dt.tz_localize(None).astype("datetime64[ns]")
        ),
        interval="1h",
        source="x",
        symbol="BTC/USD",
    )
    pd.testing.assert_frame_equal(stored, frame)
    path = dataset_path(tmp_path / "store", "test", "BTC/USD", "1h")
    assert path == tmp_path / "store" / "test" / "BTC-USD" / "1h.parquet"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["rows"] == 7 and sidecar["first"] == "2024-01-01T00:00:00Z"
    assert sidecar["gaps"] == [{"after": "2024-01-01T02:00:00Z", "missing": 2}]
    assert sidecar["source"] == str(src)
    assert read_info(tmp_path / "store", "test", "BTC/USD", "1h").to_dict() == {**sidecar}
    assert [i.symbol for i in list_datasets(tmp_path / "store")] == ["BTC/USD"]
    assert res.stored.rows == 7


def test_failed_write_leaves_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.parquet"
    atomic_write(target, lambda p: p.write_bytes(b"old"))

    def half_then_crash(p: Path) -> None:
        p.write_bytes(b"new but only ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_bytes() == b"old"
    assert sorted(x.name for x in target.parent.iterdir()) == ["x.parquet"]  # no temp file left


def test_failed_dataset_write_keeps_stored_dataset(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    import_files([write_csv(tmp_path / "BTCUSD_1h.csv", [0, 1, 2])], cfg)
    before = read_dataset(cfg.store_dir, "test", "BTC/USD", "1h")
    frame, report = validate_candles(before.iloc[:, :6], interval="1h", source="y", symbol="BTC/USD")
    bad = frame.assign(close=["not", "a", "number"])  # pyarrow refuses it mid-build
    with pytest.raises((ValueError, TypeError)):
        write_dataset(cfg.store_dir, "test", bad, report)
    pd.testing.assert_frame_equal(read_dataset(cfg.store_dir, "test", "BTC/USD", "1h"), before)
    # A merge that fails validation leaves the store as it was, too.
    with pytest.raises(DataError, match="gap_policy is refuse"):
        import_files([write_csv(tmp_path / "BTCUSD_1h.csv", [9])], cfg_for(tmp_path, gap_policy="refuse"))
    pd.testing.assert_frame_equal(read_dataset(cfg.store_dir, "test", "BTC/USD", "1h"), before)


def test_merge_appends_replaces_and_fills_old_gaps_with_real_candles(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    import_files([write_csv(tmp_path / "BTCUSD_1h.csv", [0, 1, 4])], cfg)  # hours 2, 3 gap-filled
    (res,) = import_files([write_csv(tmp_path / "BTCUSD_1h.csv", [1, 2, 3, 5], price=50.0)], cfg)
    stored = read_dataset(cfg.store_dir, "test", "BTC/USD", "1h")
    assert len(stored) == 6 and not stored["filled"].any()
    np.testing.assert_array_equal(stored["open"], [10.0, 50.0, 51.0, 52.0, 12.0, 53.0])
    assert res.replaced == 1  # hour 1 had different values
    assert read_info(cfg.store_dir, "test", "BTC/USD", "1h").gaps == ()


def test_one_import_merges_files_of_one_dataset_and_stores_all_or_nothing(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_csv(tmp_path / "a" / "BTCUSD_1h.csv", [0, 1, 4])
    second = write_csv(tmp_path / "b" / "BTCUSD_1h.csv", [1, 2, 3, 5], price=50.0)
    res = import_files([first, second], cfg)
    stored = read_dataset(cfg.store_dir, "test", "BTC/USD", "1h")
    np.testing.assert_array_equal(stored["open"], [10.0, 50.0, 51.0, 52.0, 12.0, 53.0])  # merged in memory
    assert [r.replaced for r in res] == [0, 1]
    assert res[0].stored == res[1].stored  # one write: both name the dataset as stored
    # A bad file anywhere in the call: nothing of the call is stored, not even the good files before it.
    eth = write_csv(tmp_path / "ETHUSD_1h.csv", [0, 1, 2])
    bad = tmp_path / "SOLUSD_1h.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0,x,1\n")
    with pytest.raises(DataError, match="row 1: close 'x' is not a number"):
        import_files([eth, bad], cfg)
    assert [i.symbol for i in list_datasets(cfg.store_dir)] == ["BTC/USD"]


def test_align_fills_missing_and_refuses_or_trims_different_spans() -> None:
    a = pd.DataFrame(
        {
            "timestamp": (H + pd.to_timedelta([0, 1, 2, 3], unit="h")).astype("datetime64[ns]"),
            "open": [1.0, 2.0, 3.0, 4.0],
            "high": [1.5, 2.5, 3.5, 4.5],
            "low": [0.5, 1.5, 2.5, 3.5],
            "close": [1.2, 2.2, 3.2, 4.2],
            "volume": [1.0, 1.0, 1.0, 1.0],
        }
    )
    b = a.iloc[[0, 1, 3]].reset_index(drop=True)  # misses hour 2
    md = align({"A": a, "B": b}, "1h")
    assert md.symbols == ("A", "B") and md.n_bars == 4
    np.testing.assert_array_equal(md.close[:, 1], [1.2, 2.2, 2.2, 4.2])
    np.testing.assert_array_equal(md.open[2], [3.0, 2.2])
    np.testing.assert_array_equal(md.volume[:, 1], [1, 1, 0, 1])
    np.testing.assert_array_equal(md.tradable[:, 1], [True, True, False, True])
    late = a.iloc[1:].reset_index(drop=True)
    with pytest.raises(DataError, match=r"B starts at 2024-01-01T01:00Z.*align_policy: trim"):
        align({"A": a, "B": late}, "1h")
    md = align({"A": a, "B": late}, "1h", policy="trim")
    assert str(md.timestamps[0])[:13] == "2024-01-01T01" and md.n_bars == 3
    np.testing.assert_array_equal(md.close[:, 0], [2.2, 3.2, 4.2])  # no bar taken from before the span


def test_load_market_synthetic_and_store(tmp_path: Path) -> None:
    syn = DataConfig(
        symbols=("BTC/USD", "ETH/USD"), base_interval="5m", synthetic=SyntheticConfig(n_bars=600)
    )
    md = load_market(syn, "1h")
    assert md.symbols == ("BTC/USD", "ETH/USD") and md.interval == "1h" and md.n_bars == 50
    again = load_market(syn, "1h")
    np.testing.assert_array_equal(md.close, again.close)  # same seed, same market
    cfg = cfg_for(tmp_path, symbols=("BTC/USD", "ETH/USD"))
    with pytest.raises(DataError, match="cappuccino-ray data import FILE --symbol BTC/USD --interval 1h"):
        load_market(cfg)
    import_files([write_csv(tmp_path / "BTCUSD_1h.csv", list(range(10)))], cfg)
    import_files([write_csv(tmp_path / "ETHUSD_1h.csv", list(range(10)), price=100.0)], cfg)
    md = load_market(cfg, "2h")
    assert md.n_bars == 5 and md.interval == "2h"
    np.testing.assert_array_equal(md.open[:, 1], [100.0, 102.0, 104.0, 106.0, 108.0])
    with pytest.raises(DataError, match="import or download 5m"):
        load_market(cfg, "5m")


def test_cli_import_list_show_and_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(tmp_path / "BTC_USD-1h.csv", [0, 1, 3])
    store = str(tmp_path / "store")
    assert main(["data", "import", str(src), "--store", store, "--exchange", "test"]) == 0
    out = capsys.readouterr().out
    assert "BTC/USD 1h from" in out and "3 rows" in out and "1 bar missing after 2024-01-01T01:00Z" in out
    assert main(["data", "list", "--store", store]) == 0
    assert "BTC/USD" in capsys.readouterr().out
    assert main(["data", "show", "BTC/USD", "--interval", "1h", "--store", store, "--exchange", "test"]) == 0
    assert '"rows": 4' in capsys.readouterr().out
    assert main(["data", "show", "ETH/USD", "--interval", "1h", "--store", store]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: no stored 1h candles for ETH/USD") and err.count("\n") == 1
