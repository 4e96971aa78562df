"""Training throughput of PPO and the double-DQN, and the wall time of one mini CPCV trial.

Baseline: RLlib's own defaults (default config, default RLModule, one env copy)
on the same env, measured in the same process. Project: the settings the
trial uses (vectorised env copies stepped by the env's own vector class,
large batches, few epochs, lean modules, one torch thread per trial CPU).
For the double-DQN it also reports the project's settings with RLlib's own
episode replay path (``flat_replay=False``), the before of the flat replay buffer.

Env: CryptoTrading-v0, phase 2 (rolling features: 91-number observation,
tiered fees), 7 synthetic assets at 1h. Run: ``.venv/bin/python bench/bench_train.py``
(``--quick`` for shorter windows). The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import torch


def _env_config(n_bars: int, discrete: bool) -> dict[str, Any]:
    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.features import compute_features

    md = generate_market(n_bars, seed=0)
    return {
        "market": md,
        "features": compute_features(md, rolling=True),
        "mode": "train",
        "settings": {
            "rolling_features": True,
            "fee_model": "tiered",
            "action_mode": "discrete" if discrete else "continuous",
            "episode_bars": 120,
            "max_hold_days": 5.0,
        },
    }


def _rate(algo: Any, seconds: float, replayed: bool = False) -> tuple[float, float]:
    """Env steps sampled and trained per second over ``seconds`` after one warm-up iteration."""
    from cappuccino_ray.agents import rllib_names as rl

    r = algo.train()
    s0, tr0, t0 = rl.steps_sampled(r), rl.steps_trained(r, replayed=replayed), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        r = algo.train()
    dt = time.perf_counter() - t0
    return (rl.steps_sampled(r) - s0) / dt, (rl.steps_trained(r, replayed=replayed) - tr0) / dt


def _baseline(algo_name: str, env_config: dict[str, Any], seconds: float) -> tuple[float, float]:
    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.env import ENV_ID

    cfg = rl.PPOConfig() if algo_name == "ppo" else rl.DQNConfig()
    cfg = cfg.environment(ENV_ID, env_config=env_config).debugging(seed=0, log_level="ERROR")
    algo = cfg.build_algo()
    try:
        return _rate(algo, seconds)
    finally:
        algo.stop()


def _project(algo_name: str, env_config: dict[str, Any], seconds: float, **extra: Any) -> tuple[float, float]:
    from cappuccino_ray.agents.training import build_algorithm_config
    from cappuccino_ray.config.agents import parse_trial_config

    trial, params = parse_trial_config({"algo": algo_name, "train_steps": 10**9, **extra})
    algo = build_algorithm_config(trial, params, env_config=env_config, seed=0).build_algo()
    try:
        return _rate(algo, seconds, replayed=algo_name == "ddqn")
    finally:
        algo.stop()


def _mini_trial() -> tuple[float, int]:
    from cappuccino_ray.search.trainable import mini_trial_config, run_trial

    t0 = time.perf_counter()
    history = run_trial(mini_trial_config(algo="ppo", max_splits=6))
    return time.perf_counter() - t0, len(history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measuring windows")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 20.0
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray

    from cappuccino_ray.env import register_envs

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    register_envs()
    cont, disc = _env_config(3000, False), _env_config(3000, True)
    fig: dict[str, float] = {}
    fig["ppo_rllib_default_steps_per_s"], _ = _baseline("ppo", cont, seconds)
    fig["ppo_steps_per_s"], fig["ppo_trained_steps_per_s"] = _project("ppo", cont, seconds)
    fig["dqn_rllib_default_steps_per_s"], _ = _baseline("dqn", disc, seconds)
    fig["ddqn_rllib_replay_steps_per_s"], _ = _project("ddqn", disc, seconds, flat_replay=False)
    fig["ddqn_steps_per_s"], fig["ddqn_trained_steps_per_s"] = _project("ddqn", disc, seconds)
    fig["mini_trial_s"], splits = _mini_trial()
    fig["mini_trial_splits"] = splits
    fig["ppo_speedup_x"] = fig["ppo_steps_per_s"] / max(fig["ppo_rllib_default_steps_per_s"], 1e-9)
    fig["ddqn_speedup_x"] = fig["ddqn_steps_per_s"] / max(fig["dqn_rllib_default_steps_per_s"], 1e-9)
    fig["ddqn_flat_replay_speedup_x"] = fig["ddqn_steps_per_s"] / max(
        fig["ddqn_rllib_replay_steps_per_s"], 1e-9
    )
    ray.shutdown()
    print(f"{'figure':<34}{'value':>14}")
    for k, v in fig.items():
        print(f"{k:<34}{v:>14,.1f}")
    print(json.dumps({k: round(v, 2) for k, v in fig.items()}))


if __name__ == "__main__":
    main()
