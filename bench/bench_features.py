"""Feature computation speed: 7 assets x 2 years of 5-minute bars, against a pandas baseline.

Times ``compute_features`` with and without the rolling set (best of N runs,
wall clock, and CPU time, which other jobs on a shared machine disturb less)
and its peak traced memory, and, as a same-process baseline, a plain pandas
version of the same 11 features (ewm/rolling on a bars x assets frame).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd
from figures import print_figures  # bench/ is the script folder: first on sys.path

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.features import compute_features
from cappuccino_ray.intervals import days_to_bars

N_BARS = 210_000  # 2 years of 5m bars is 210,240
N_ASSETS = 7
REPEATS = 3


def best_of(
    fn: Callable[[], object], repeats: int = REPEATS, clock: Callable[[], float] = time.perf_counter
) -> float:
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def pandas_features(md: MarketData) -> list[pd.DataFrame]:
    h, lo, c, v = (pd.DataFrame(a) for a in (md.high, md.low, md.close, md.volume))
    r = np.log(c / c.shift(1))
    sigma = np.sqrt((r * r).ewm(span=288, adjust=False).mean())
    macd = c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()
    hist = macd - macd.ewm(span=9, adjust=False).mean()
    d = c.diff()
    gain = d.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
    loss = (-d).clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
    tp = (h + lo + c) / 3
    sma = tp.rolling(20).mean()
    mad = sum((tp.shift(k) - sma).abs() for k in range(20)) / 20
    tr = pd.concat([h - lo, (h - c.shift(1)).abs(), (lo - c.shift(1)).abs()]).T.groupby(level=0).max().T
    up, down = h.diff(), -lo.diff()
    plus = up.where((up > down) & (up > 0), 0.0).ewm(alpha=1 / 14, adjust=False).mean()
    minus = down.where((down > up) & (down > 0), 0.0).ewm(alpha=1 / 14, adjust=False).mean()
    out = [
        r / sigma,
        hist / c / sigma,
        100 * gain / (gain + loss),
        (tp - sma) / (0.015 * mad),
        100 * (plus - minus).abs() / (plus + minus),
        tr.ewm(alpha=1 / 14, adjust=False).mean() / c,
        (v - v.rolling(288).mean()) / v.rolling(288).std(ddof=0),
    ]
    for days in (7, 30):
        w = days_to_bars(days, md.interval)
        out.append(np.log(c / c.rolling(w).mean()))
        out.append(np.log((v + 1e-9) / (v.rolling(w).mean() + 1e-9)))
    return out


def main() -> None:
    md = generate_market(N_BARS, n_assets=N_ASSETS, interval="5m", seed=0, halt_prob=0.001)
    compute_features(md, rolling=True)  # warm caches and imports
    base_s = best_of(lambda: compute_features(md))
    all_s = best_of(lambda: compute_features(md, rolling=True))
    all_cpu_s = best_of(lambda: compute_features(md, rolling=True), clock=time.process_time)
    peak = peak_mib(lambda: compute_features(md, rolling=True))
    pandas_s = best_of(lambda: pandas_features(md), repeats=1)
    figures = {
        "features_base_s_7x210k_5m": round(base_s, 3),
        "features_all_s_7x210k_5m": round(all_s, 3),
        "features_all_cpu_s_7x210k_5m": round(all_cpu_s, 3),
        "features_all_peak_mib": round(peak, 1),
        "pandas_baseline_all_s": round(pandas_s, 3),
        "speedup_vs_pandas_x": round(pandas_s / all_s, 2),
    }
    print(f"features for {N_ASSETS} assets x {N_BARS:,} bars of 5m (best of {REPEATS})")
    print_figures(figures, "what")


if __name__ == "__main__":
    main()
