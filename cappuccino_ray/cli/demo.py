"""``cappuccino-ray demo``: the data pipeline end to end on generated candles.

Loads ``configs/data.yaml``, generates the synthetic market it describes,
resamples it to each coarser demo interval (when the resampler is
available), computes the features with and without the rolling set, and
prints a table of what it built.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from typing import Any

from cappuccino_ray.data.market import MarketData

__all__ = ["DEMO_INTERVALS", "demo_rows", "register", "run_demo"]

#: Intervals the demo resamples the base market to, finest first.
DEMO_INTERVALS: tuple[str, ...] = ("1h", "4h")


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run the data pipeline on generated candles and print what it built"
    )
    p.add_argument("--config", default="configs/data.yaml", help="data config file (default: %(default)s)")
    p.set_defaults(func=run_demo)


def _resampler() -> Callable[[MarketData, str], MarketData] | None:
    """``cappuccino_ray.data.resample`` if the data package provides it, else ``None``."""
    try:
        module = importlib.import_module("cappuccino_ray.data")
    except ImportError:
        return None
    fn = getattr(module, "resample", None)
    return fn if callable(fn) else None


def _markets(cfg: Any) -> list[MarketData]:
    """The synthetic base market and its resamplings to the coarser demo intervals."""
    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.intervals import interval_minutes

    syn = cfg.synthetic
    base = generate_market(
        syn.n_bars,
        n_assets=len(cfg.symbols),
        interval=cfg.base_interval,
        seed=syn.seed,
        start=syn.start,
        planted_signal=syn.planted_signal,
    )
    markets = [base]
    resample = _resampler()
    if resample is None:
        return markets
    for interval in DEMO_INTERVALS:
        if interval_minutes(interval) > interval_minutes(base.interval):
            markets.append(resample(base, interval))
    return markets


def demo_rows(config_path: str = "configs/data.yaml") -> list[dict[str, Any]]:
    """Build the demo's markets and feature sets; one row per (interval, feature set).

    Args:
        config_path: The data config file.

    Returns:
        Rows with keys ``interval``, ``bars``, ``assets``, ``features``,
        ``warmup`` and ``seconds``.
    """
    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.features import compute_features, warmup_bars

    cfg = load_config(DataConfig, config_path)
    rows: list[dict[str, Any]] = []
    for md in _markets(cfg):
        for rolling in (False, True):
            if md.n_bars <= warmup_bars(md.interval, rolling=rolling):
                continue  # Too short for this feature set's warm-up: nothing to show.
            t0 = time.perf_counter()
            fs = compute_features(md, rolling=rolling)
            rows.append(
                {
                    "interval": md.interval,
                    "bars": md.n_bars,
                    "assets": md.n_assets,
                    "features": fs.n_features,
                    "warmup": fs.warmup,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo and print its table."""
    rows = demo_rows(args.config)
    print(f"{'interval':>8} {'bars':>8} {'assets':>6} {'features':>8} {'warmup':>7} {'time':>9}")
    for r in rows:
        print(
            f"{r['interval']:>8} {r['bars']:>8} {r['assets']:>6} {r['features']:>8} "
            f"{r['warmup']:>7} {r['seconds'] * 1000:>7.1f}ms"
        )
    if _resampler() is None:
        print("resampling skipped: cappuccino_ray.data.resample is not available yet")
    return 0
