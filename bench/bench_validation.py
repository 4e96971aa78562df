"""PBO (CSCV, S = 16) from block sums vs a per-combination loop, and CPCV split time.

The loop baseline recomputes every trial's Sharpe ratio on the concatenated
in-sample and out-of-sample rows of each of the C(16, 8) = 12,870
combinations, as the reference implementations do; both run in this process
on the same matrix and give the same logits.

Run: ``.venv/bin/python bench/bench_validation.py`` (``--quick``: 1,600 x 20, seconds;
default 4,000 x 50; ``--full``: 14,880 x 100, the 1h search range, minutes for the loop).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cappuccino_ray.validation import CombinatorialPurgedCV, probability_of_backtest_overfitting


def _sharpe(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0, ddof=1)
    return np.where(sd > 1e-12, x.mean(axis=0) / np.where(sd > 0, sd, 1.0), 0.0)


def _timed(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    bars, trials = (1600, 20) if quick else (14_880, 100) if "--full" in sys.argv else (4000, 50)
    m = np.random.default_rng(0).normal(0.0, 0.01, (bars, trials))
    fast = _timed(lambda: probability_of_backtest_overfitting(m, 16), 3)
    loop = _timed(lambda: probability_of_backtest_overfitting(m, 16, metric=_sharpe), 1)
    a = probability_of_backtest_overfitting(m, 16)
    b = probability_of_backtest_overfitting(m, 16, metric=_sharpe)
    assert np.allclose(a.logits, b.logits)
    cv = CombinatorialPurgedCV(6, 2, purge=1, embargo=24)
    split = _timed(lambda: list(cv.split(bars)), 5)
    print(f"PBO, S=16, {bars} bars x {trials} trials (12,870 combinations)")
    print(f"{'method':<28}{'seconds':>10}")
    print(f"{'block sums (default)':<28}{fast:>10.3f}")
    print(f"{'per-combination loop':<28}{loop:>10.3f}")
    print(f"{'speed-up':<28}{loop / fast:>10.1f}x")
    print(f"CPCV(6, 2) split of {bars} bars: {split * 1e3:.2f} ms for 15 splits")
    figures = {
        f"pbo_s16_blocksums_s_{bars}x{trials}": round(fast, 4),
        f"pbo_s16_loop_s_{bars}x{trials}": round(loop, 4),
        "pbo_speedup_x": round(loop / fast, 1),
        f"cpcv_6_2_split_ms_{bars}": round(split * 1e3, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
