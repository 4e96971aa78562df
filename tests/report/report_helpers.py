"""Shared fixtures of the report tests: a small real Tune run and the job's JSON files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cappuccino_ray.report.artifacts import HoldoutSeries, save_holdout_series

RUN_NAME = "20260101-100000_mini_abc123"
PBO_LOGITS = [-1.2, -0.3, 0.4, 0.8, 1.1, 1.5, -0.1, 0.9, 2.0, 0.2]


def _fit(trainable: Callable[[dict], None], storage: Path, name: str, space: dict) -> None:
    from ray import tune

    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(metric="objective", mode="max", reuse_actors=True),
        run_config=tune.RunConfig(name=name, storage_path=str(storage), verbose=0),
    )
    tuner.fit()


def make_tune_run(run_dir: Path) -> None:
    """Phase 1 (2 intervals x 2 holding times, one failing trial) and phase 2 (PPO vs DDQN)."""
    import ray
    from ray import tune

    # Nested, so Ray ships the function by value (test modules are not importable on workers).
    def _trainable(config: dict) -> None:
        from ray import tune

        if config.get("fail"):
            raise ValueError("simulated divergence: loss is nan")
        # A deterministic objective: 4h beats 1h, longer holding helps, lr near 3e-4 is best.
        base = {"1h": 0.1, "4h": 0.3}[config["interval"]] + 0.02 * config["env"]["max_hold_days"]
        base += 0.2 if config["algo"] == "ddqn" else 0.0
        base -= 50 * abs(config["lr"] - 3e-4)
        for split in range(1, 3):
            tune.report(
                {
                    "objective": base + 0.01 * split,
                    "splits_done": split,
                    "bot_sharpe": base * 2,
                    "bh_sharpe": 0.4,
                }
            )

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        _fit(
            _trainable,
            run_dir,
            "phase1",
            {
                "phase": 1,
                "algo": "ppo",
                "interval": tune.grid_search(["1h", "4h"]),
                "env": {"max_hold_days": tune.grid_search([3, 7])},
                "lr": tune.grid_search([1e-4, 3e-4]),
                "gamma": 0.99,
                "fail": False,
            },
        )
        _fit(
            _trainable,
            run_dir,
            "phase1_retry",
            {
                "phase": 1,
                "algo": "ppo",
                "interval": "1h",
                "env": {"max_hold_days": 3},
                "lr": 1e-3,
                "fail": True,
            },
        )
        _fit(
            _trainable,
            run_dir,
            "phase2",
            {
                "phase": 2,
                "algo": tune.grid_search(["ppo", "ddqn"]),
                "interval": "4h",
                "env": {"max_hold_days": 7},
                "lr": tune.grid_search([1e-4, 3e-4, 5e-4]),
                "fail": False,
            },
        )
    finally:
        ray.shutdown()


def holdout_series(n: int = 300, seed: int = 0) -> HoldoutSeries:
    rng = np.random.default_rng(seed)
    bh = 10_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, n))
    bot = 10_000 * np.cumprod(1 + rng.normal(0.0005, 0.006, n))
    weights = rng.dirichlet(np.ones(4), n)[:, :3] * (rng.random(n) > 0.3)[:, None]
    forced = (rng.random(n) > 0.97).astype(float)
    tier = np.minimum(np.arange(n) // 100, 2).astype(float)
    return HoldoutSeries(
        timestamps=np.datetime64("2024-01-01T00:00") + np.arange(n) * np.timedelta64(4, "h"),
        bot_value=bot,
        bh_value=bh,
        fees=rng.random(n),
        forced_sales=forced,
        fee_tier=tier,
        weights=weights,
        asset_names=("BTC/USD", "ETH/USD", "SOL/USD"),
    )


def training_report(run_dir: Path) -> dict:
    metrics = {
        "total_return": 0.12,
        "annual_return": 0.4,
        "annual_volatility": 0.3,
        "sharpe": 1.3,
        "sortino": 1.9,
        "max_drawdown": -0.08,
        "calmar": 5.0,
        "turnover": 12.0,
        "fees_paid": 41.5,
        "n_trades": 90,
        "n_forced_sales": 7,
    }
    return {
        "status": "completed",
        "run_id": "abc123",
        "run_dir": str(run_dir),
        "mode": "mini",
        "started_at": "2026-01-01T10:00:00+00:00",
        "finished_at": "2026-01-01T10:05:00+00:00",
        "duration_s": 300.0,
        "phase1": {},
        "phase2": {},
        "winner": {
            "algorithm": "ddqn",
            "holding_days": 7,
            "interval": "4h",
            "checkpoint_path": "ckpt",
            "objective": 0.5,
        },
        "holdout": {
            "bot": metrics,
            "buy_and_hold": {**metrics, "sharpe": 0.4, "n_forced_sales": 0},
            "start": "2024-01-01",
            "end": "2024-02-20",
        },
        "pbo": 0.31,
        "deflated_sharpe": 0.72,
        "data_window": {},
        "trial_counts": {},
        "versions": {},
        "config": {},
    }


def phase2_comparison() -> dict:
    return {
        "phase": 2,
        "winner_algorithm": "ddqn",
        "holding_days": 7,
        "interval": "4h",
        "objective": 0.66,
        "checkpoint_path": None,
        "pbo": {"value": 0.31, "logits": PBO_LOGITS, "n_partitions": 4},
        "deflated_sharpe": {
            "value": 0.72,
            "n_trials": 13,
            "null_variance": "sampling",
            "by_variance": {
                "sampling": {"value": 0.72, "sharpe_variance": 1e-4},
                "trials": {"value": 0.03, "sharpe_variance": 4e-3},
            },
        },
    }


def write_job_files(run_dir: Path) -> None:
    """The JSON summaries and hold-out series a finished job leaves in its run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "two_phase_training_report.json").write_text(json.dumps(training_report(run_dir)))
    (run_dir / "phase2").mkdir(exist_ok=True)
    (run_dir / "phase2" / "phase2_comparison.json").write_text(json.dumps(phase2_comparison()))
    save_holdout_series(run_dir / "holdout_series.npz", holdout_series())
