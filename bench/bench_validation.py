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
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cappuccino_ray.validation import (
    CombinatorialPurgedCV,
    per_bar_sharpe,
    probability_of_backtest_overfitting,
)

T = TypeVar("T")


def _timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Best wall time of ``repeat`` calls, and the last call's result."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    quick = "--quick" in sys.argv
    bars, trials = (1600, 20) if quick else (14_880, 100) if "--full" in sys.argv else (4000, 50)
    m = np.random.default_rng(0).normal(0.0, 0.01, (bars, trials))
    fast, a = _timed(lambda: probability_of_backtest_overfitting(m, 16), 3)
    loop, b = _timed(lambda: probability_of_backtest_overfitting(m, 16, metric=per_bar_sharpe), 1)
    assert np.allclose(a.logits, b.logits)
    cv = CombinatorialPurgedCV(6, 2, purge=1, embargo=24)
    split, _ = _timed(lambda: list(cv.split(bars)), 5)
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
