"""Benchmark of the data pipeline: 7 coins x 2 years of 5-minute candles.

Generates the candles with ``generate_market`` and writes one gzip CSV per coin
to a temp folder (not timed). Then, in a fresh child process (so that its peak
memory is the pipeline's own), times:

- import: read + validate + store every file (``import_files``);
- load: read the store and align the coins (``load_market`` at 5m);
- resample: 5m -> 5m, 15m, 30m, 1h, 4h;
- features: ``compute_features(md, rolling=True)`` for each of the five intervals.

Baseline, in the same child after the peak memory is taken: the plain pandas way
(``pandas.read_csv`` with date parsing, and ``DataFrame.resample(...).agg``
per coin and interval).

Usage: ``.venv/bin/python bench/bench_data.py [--years 2] [--coins 7]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from cappuccino_ray.data import generate_market
from cappuccino_ray.intervals import SEARCH_INTERVALS, bars_per_day


def write_files(folder: Path, years: float, coins: int) -> list[Path]:
    n = int(years * 365 * bars_per_day("5m"))
    md = generate_market(n, n_assets=coins, interval="5m", seed=3, start="2022-01-01T00:00", halt_prob=1e-4)
    paths = []
    ts = pa.array(md.timestamps.astype("datetime64[s]"), type=pa.timestamp("s", tz="UTC"))
    for j, sym in enumerate(md.symbols):
        table = pa.table(
            {
                "timestamp": ts,
                "open": md.open[:, j],
                "high": md.high[:, j],
                "low": md.low[:, j],
                "close": md.close[:, j],
                "volume": md.volume[:, j],
            }
        )
        path = folder / f"{sym}USDT_5m.csv.gz"
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        path.write_bytes(gzip.compress(sink.getvalue().to_pybytes(), compresslevel=1))
        paths.append(path)
    return paths


STAGES = ("import", "load_align", "resample_all", "features_all")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pipeline(paths: list[str], store: str, queue: Any) -> None:
    from cappuccino_ray.config import DataConfig
    from cappuccino_ray.data import import_files, load_market, resample
    from cappuccino_ray.features import compute_features

    out: dict[str, float] = {"rss_start_mib": _rss_mib()}
    clock: dict[str, float] = {}

    def tick(name: str | None = None) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if name is not None:
            out[f"{name}_s"], out[f"{name}_cpu_s"] = now - clock["wall"], cpu - clock["cpu"]
        clock["wall"], clock["cpu"] = now, cpu

    symbols = tuple(f"{Path(p).name.split('USDT')[0]}/USDT" for p in paths)
    cfg = DataConfig(source="store", store_dir=store, exchange="bench", symbols=symbols, base_interval="5m")
    tick()
    results = import_files(paths, cfg)
    tick("import")
    out["rows"] = float(sum(r.report.rows for r in results))
    md = load_market(cfg, "5m")
    tick("load_align")
    markets = {iv: resample(md, iv) for iv in SEARCH_INTERVALS}
    tick("resample_all")
    for m in markets.values():
        compute_features(m, rolling=True)
    tick("features_all")
    for kind in ("s", "cpu_s"):
        out[f"total_{kind}"] = sum(out[f"{k}_{kind}"] for k in STAGES)
    out["peak_rss_mib"] = _rss_mib()
    out.update(baseline(paths, md))
    queue.put(out)


def baseline(paths: list[str], md: Any) -> dict[str, float]:
    import pandas as pd

    from cappuccino_ray.data import read_candles, resample

    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    frames: list[Any] = []

    def pandas_read() -> None:
        frames.extend(pd.read_csv(p, parse_dates=["timestamp"]).set_index("timestamp") for p in paths)

    def pandas_resample() -> None:
        for iv in SEARCH_INTERVALS[1:]:
            for f in frames:
                f.resample(iv.replace("m", "min"), label="left", closed="left").agg(agg)

    jobs = {
        "baseline_pandas_read_csv": pandas_read,
        "ours_read_csv": lambda: [read_candles(p) for p in paths],
        "baseline_pandas_resample": pandas_resample,
        "ours_resample": lambda: [resample(md, iv) for iv in SEARCH_INTERVALS[1:]],
    }
    out: dict[str, float] = {}
    for name, job in jobs.items():
        wall, cpu = time.perf_counter(), time.process_time()
        job()
        out[f"{name}_s"], out[f"{name}_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=2.0)
    ap.add_argument("--coins", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        paths = write_files(folder, args.years, args.coins)
        prep = time.perf_counter() - t
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=pipeline, args=([str(p) for p in paths], str(folder / "store"), queue))
        proc.start()
        res: dict[str, float] = queue.get()
        proc.join()
    rows = int(res["rows"])
    print(f"data pipeline: {args.coins} coins x {args.years:g} years of 5m candles = {rows:,} rows")
    print(f"(writing the gzip CSV inputs took {prep:.1f} s, not timed)\n")
    print(f"{'stage':<44} {'wall s':>8} {'CPU s':>8}")
    for key, label in [
        ("import", "import (read + validate + store Parquet)"),
        ("load_align", "load store + align (5m MarketData)"),
        ("resample_all", "resample to 5m, 15m, 30m, 1h, 4h"),
        ("features_all", "compute_features(rolling=True), 5 intervals"),
        ("total", "total"),
    ]:
        print(f"{label:<44} {res[key + '_s']:>8.2f} {res[key + '_cpu_s']:>8.2f}")
    print("(CPU s: the process's CPU time, all threads; wall s is noisy on a shared machine)")
    print(f"\npeak memory (max RSS of the pipeline process): {res['peak_rss_mib']:.0f} MiB")
    print(f"  (of which interpreter + libraries at start: {res['rss_start_mib']:.0f} MiB)")
    print("\nbaseline (same process)          pandas wall/CPU s   ours wall/CPU s   CPU speed-up")
    for name, key in [("read gzip CSV files", "read_csv"), ("resample to 15m, 30m, 1h, 4h", "resample")]:
        b, o = f"baseline_pandas_{key}", f"ours_{key}"
        print(
            f"  {name:<30} {res[b + '_s']:>7.2f} {res[b + '_cpu_s']:>7.2f}   {res[o + '_s']:>7.2f} "
            f"{res[o + '_cpu_s']:>7.2f}   {res[b + '_cpu_s'] / max(res[o + '_cpu_s'], 1e-9):>8.1f}x"
        )
    ok = res["total_s"] < 10 and res["peak_rss_mib"] < 2048
    print(f"\ntarget (< 10 s and < 2 GiB): {'met' if ok else 'NOT met'}")
    figures: dict[str, float] = {"rows": rows, "peak_rss_mib": round(res["peak_rss_mib"], 1)}
    for stage in (*STAGES, "total"):
        figures[f"{stage}_s"] = round(res[f"{stage}_s"], 3)
        figures[f"{stage}_cpu_s"] = round(res[f"{stage}_cpu_s"], 3)
    for key in ("read_csv", "resample"):
        for name in (f"baseline_pandas_{key}", f"ours_{key}"):
            figures[f"{name}_s"] = round(res[f"{name}_s"], 3)
            figures[f"{name}_cpu_s"] = round(res[f"{name}_cpu_s"], 3)
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
