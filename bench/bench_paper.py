"""Benchmark of paper trading: replay speed and the time from a new candle to its recorded fill.

Uses the real hourly candles of ``../shared/data/crypto_1h`` (7 coins) and a
seeded random PPO checkpoint (16-unit hidden layers, tiered fees, 1-day holding
limit: it trades and is force-sold often, the slow path of the book).

- replay: ``PaperEngine.run`` over ``--bars`` bars after ``H`` bars of history
  (features computed once per run over the candles given, as the engine does), for
  ``H`` = 2,000 and the whole 2 years; bars per second, book writes included.
- live: a Parquet store holding ``H`` bars receives one new closed candle per
  coin (the downloader's work, not timed); timed is reading the store, aligning,
  computing the features of that history, deciding, filling and committing the bar.
  The daemon adds its poll interval (``--poll-seconds``) on top.

Usage: ``.venv/bin/python bench/bench_paper.py [--bars 200] [--live-bars 20]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cappuccino_ray.data import RawCandles, store_candles  # noqa: E402
from cappuccino_ray.paper.book import Book  # noqa: E402
from cappuccino_ray.paper.engine import PaperEngine  # noqa: E402
from cappuccino_ray.paper.sources import load_candles, market_from_store  # noqa: E402
from tests.paper.helpers import COINS, SHARED_1H, make_checkpoint  # noqa: E402

SYMBOLS = tuple(f"{c}/USDT" for c in COINS)
SETTINGS = {"fee_model": "tiered", "max_hold_days": 1.0, "slippage_bps": 5.0}


def bench_replay(tmp: Path, ckpt: Path, history: int, bars: int) -> dict[str, Any]:
    market = load_candles(SHARED_1H, SYMBOLS, "1h", len(SYMBOLS))
    start = market.n_bars - bars - 1 if history >= market.n_bars else history
    market = market.slice(0, min(market.n_bars, start + bars + 1))
    with Book(tmp / f"replay-{history}") as book:
        engine = PaperEngine(ckpt, book)
        t0 = time.perf_counter()  # timed with the run's one feature pass over the history
        n = engine.run(market, start=start)
        dt = time.perf_counter() - t0
    return {"history_bars": start, "bars": n, "seconds": dt, "bars_per_s": n / dt}


def bench_live(tmp: Path, ckpt: Path, history: int, new_bars: int) -> dict[str, Any]:
    frames = {}
    for c, sym in zip(COINS, SYMBOLS, strict=True):
        f = pd.read_csv(SHARED_1H / f"{c}USDT_1h.csv.gz", parse_dates=["timestamp"]).tail(history + new_bars)
        f["timestamp"] = f["timestamp"].dt.tz_convert(None).astype("datetime64[ns]")
        frames[sym] = f.reset_index(drop=True)
    store = tmp / "store"

    def put(rows: slice) -> None:
        for sym, f in frames.items():
            raw = RawCandles(
                frame=f.iloc[rows].reset_index(drop=True), symbol=sym, interval="1h", source="bench"
            )
            store_candles(raw, store_dir=store, exchange="binance")

    put(slice(0, history))
    cfg = tmp / "data.yaml"
    cfg.write_text(yaml.safe_dump({"source": "store", "store_dir": str(store), "exchange": "binance"}))
    read_ms, total_ms = [], []
    with Book(tmp / "live") as book:
        engine = PaperEngine(ckpt, book, mode="live")
        market = market_from_store(cfg, SYMBOLS, "1h")
        engine.run(market, start=market.n_bars - 1)  # the first decision
        for k in range(new_bars):
            put(slice(history + k, history + k + 1))  # a new closed candle per coin
            t0 = time.perf_counter()
            market = market_from_store(cfg, SYMBOLS, "1h")
            t1 = time.perf_counter()
            assert engine.run(market) == 1
            t2 = time.perf_counter()
            read_ms.append((t1 - t0) * 1e3)
            total_ms.append((t2 - t0) * 1e3)
    return {
        "history_bars": history,
        "bars": new_bars,
        "store_read_ms_median": statistics.median(read_ms),
        "candle_to_fill_ms_median": statistics.median(total_ms),
        "candle_to_fill_ms_max": max(total_ms),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bars", type=int, default=200, help="bars replayed per history length")
    p.add_argument("--live-bars", type=int, default=20, help="new candles in the live test")
    args = p.parse_args()
    if not (SHARED_1H / "BTCUSDT_1h.csv.gz").is_file():
        print(f"real candles not found at {SHARED_1H}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ckpt = make_checkpoint(tmp / "ckpt", SYMBOLS, SETTINGS, seed=3)
        replay = [bench_replay(tmp, ckpt, h, args.bars) for h in (2000, 10**9)]
        live = [bench_live(tmp / f"live{h}", ckpt, h, args.live_bars) for h in (2000, 17000)]
    print(f"paper replay, 7 coins 1h ({args.bars} bars each)")
    print(f"{'history bars':>14}{'bars/s':>10}{'ms/bar':>10}")
    for r in replay:
        print(f"{r['history_bars']:>14}{r['bars_per_s']:>10.1f}{1e3 / r['bars_per_s']:>10.1f}")
    print(f"paper live: new candle in the store -> fill committed ({args.live_bars} candles each)")
    print(f"{'history bars':>14}{'store read ms':>15}{'median ms':>11}{'max ms':>9}")
    for r in live:
        print(
            f"{r['history_bars']:>14}{r['store_read_ms_median']:>15.1f}"
            f"{r['candle_to_fill_ms_median']:>11.1f}{r['candle_to_fill_ms_max']:>9.1f}"
        )
    result = {
        "replay_bars_per_s_history_2000": replay[0]["bars_per_s"],
        "replay_bars_per_s_history_full": replay[1]["bars_per_s"],
        "replay_history_full_bars": replay[1]["history_bars"],
        "live_candle_to_fill_ms_median_history_2000": live[0]["candle_to_fill_ms_median"],
        "live_candle_to_fill_ms_median_history_17000": live[1]["candle_to_fill_ms_median"],
        "live_candle_to_fill_ms_max_history_17000": live[1]["candle_to_fill_ms_max"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
