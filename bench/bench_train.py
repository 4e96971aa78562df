"""Training throughput: the project's PPO and double-DQN against Stable-Baselines3 on the same env.

Contenders, each training on CryptoTrading-v1 (phase 1: 7 synthetic assets
at 1h, lookback 1, continuous actions for PPO, discrete for the DQNs), with
the same networks (2 x 64), batch, epochs and steps, one torch thread:

- project: the trial's path (RLlib's learners on the project's vector env
  runner; ``fast_runner=True``), PPO on 64 copies, the double-DQN on 32;
- project, RLlib runner: the same with RLlib's own env runner
  (``fast_runner=False``), the before of the vector env runner;
- SB3 on the project's vector env (``bench/sb3_vecenv.py``), same copies;
- SB3 PPO on a ``DummyVecEnv`` of 16 single envs (how SB3 users usually run it);
- RLlib's defaults (default config and module, one env copy), for scale.

Each contender keeps its model across rounds; a round trains every one of
them for ``--steps`` env steps in turn (interleaved, so the machine's drift
hits all alike). Rates are medians over the rounds; ratios (``*_x``) are
medians of the per-round ratios. Needs
the ``bench`` extra (``pip install -e .[bench]``). Run:
``.venv/bin/python bench/bench_train.py`` (``--quick`` for fewer rounds).
The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from figures import print_figures  # bench/ is the script folder: first on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _env_config(n_bars: int, discrete: bool) -> dict[str, Any]:
    from cappuccino_ray.data.synthetic import generate_market

    md = generate_market(n_bars, seed=0)
    return {
        "market": md,
        "mode": "train",
        "info": False,
        "settings": {
            "action_mode": "discrete" if discrete else "continuous",
            "episode_bars": 120,
            "max_hold_days": 5.0,
        },
    }


PPO_HP = {
    "train_batch_size": 4096,
    "minibatch_size": 1024,
    "num_epochs": 2,
    "num_envs": 64,
    "hidden_size": 64,
}
DQN_HP = {"train_batch_size": 256, "num_envs": 32, "rollout_fragment_length": 16, "hidden_size": 64}


def _project(algo_name: str, env_config: dict[str, Any], fast: bool) -> Callable[[int], int]:
    """A function that trains one project algorithm for ``n`` more env steps (returns the steps done)."""
    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.agents.training import build_algorithm
    from cappuccino_ray.config.agents import parse_trial_config

    hp = PPO_HP if algo_name == "ppo" else DQN_HP
    trial, params = parse_trial_config({"algo": algo_name, "train_steps": 10**9, "fast_runner": fast, **hp})
    algo = build_algorithm(trial, params, env_config=env_config, seed=0)
    state = {"sampled": 0}

    def run(n: int) -> int:
        start = state["sampled"]
        while state["sampled"] < start + n:
            state["sampled"] = rl.steps_sampled(algo.train())
        return state["sampled"] - start

    return run


def sb3_model(algo_name: str, env_config: dict[str, Any], dummy: bool = False) -> Any:
    """An SB3 PPO or DQN with the bench's networks, batch and epochs on the project's env, no logging."""
    from sb3_vecenv import ProjectVecEnv
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import DummyVecEnv

    from cappuccino_ray.env import CryptoTradingEnv

    if algo_name == "ppo":
        n_envs = 16 if dummy else PPO_HP["num_envs"]
        venv: Any = (
            DummyVecEnv([lambda: CryptoTradingEnv(env_config)] * n_envs)
            if dummy
            else ProjectVecEnv(n_envs, env_config)
        )
        model: Any = PPO(
            "MlpPolicy",
            venv,
            n_steps=PPO_HP["train_batch_size"] // n_envs,
            batch_size=PPO_HP["minibatch_size"],
            n_epochs=PPO_HP["num_epochs"],
            learning_rate=3e-4,
            gae_lambda=0.95,
            max_grad_norm=0.5,
            policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}},
            seed=0,
            device="cpu",
        )
    else:
        venv = ProjectVecEnv(DQN_HP["num_envs"], env_config)
        model = DQN(
            "MlpPolicy",
            venv,
            learning_rate=5e-4,
            buffer_size=100_000,
            learning_starts=1000,
            batch_size=DQN_HP["train_batch_size"],
            train_freq=DQN_HP["rollout_fragment_length"],
            gradient_steps=DQN_HP["rollout_fragment_length"]
            * DQN_HP["num_envs"]
            // DQN_HP["train_batch_size"],
            target_update_interval=1000,
            max_grad_norm=10.0,
            policy_kwargs={"net_arch": [64, 64]},
            seed=0,
            device="cpu",
        )

    # A logger with no outputs: SB3's default makes an empty SB3-<date> folder in /tmp per model.
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def _sb3(algo_name: str, env_config: dict[str, Any], dummy: bool = False) -> Callable[[int], int]:
    """A function that trains one SB3 model for ``n`` more env steps (returns the steps done)."""
    model = sb3_model(algo_name, env_config, dummy)

    def run(n: int) -> int:
        start = model.num_timesteps
        model.learn(total_timesteps=n, reset_num_timesteps=False)
        return int(model.num_timesteps - start)

    return run


def _rllib_default(algo_name: str, env_config: dict[str, Any], seconds: float) -> float:
    """Env steps per second of RLlib's default config (one env copy), after one warm-up iteration."""
    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.env import ENV_ID

    cfg = rl.PPOConfig() if algo_name == "ppo" else rl.DQNConfig()
    algo = cfg.environment(ENV_ID, env_config=env_config).debugging(seed=0, log_level="ERROR").build_algo()
    try:
        r = algo.train()
        s0, t0 = rl.steps_sampled(r), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            r = algo.train()
        return (rl.steps_sampled(r) - s0) / (time.perf_counter() - t0)
    finally:
        algo.stop()


def _interleaved(
    contenders: dict[str, Callable[[int], int]], steps: int, rounds: int
) -> dict[str, list[float]]:
    """Env steps per second of each contender in each of ``rounds`` interleaved rounds.

    A contender trains whole iterations, so it may run past ``steps``; its rate
    counts the steps it actually ran.
    """
    for run in contenders.values():
        run(steps // 4)  # warm-up: build-time caches, first learner updates
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    for i in range(rounds):
        for name, run in contenders.items():
            t0 = time.perf_counter()
            done = run(steps)
            rates[name].append(done / (time.perf_counter() - t0))
        print(
            f"round {i + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
            file=sys.stderr,
        )
    return rates


def _ratio(rates: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of ``a``'s rate over ``b``'s in the same round (the drift cancels)."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7, shorter baselines")
    parser.add_argument("--steps", type=int, default=40_960, help="env steps per contender per round")
    args = parser.parse_args()
    rounds, seconds = (3, 6.0) if args.quick else (7, 15.0)
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray

    from cappuccino_ray.env import register_envs

    # RLlib's default PPO config asks for 2 remote env runners (1 CPU each).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    register_envs()
    cont, disc = _env_config(3000, False), _env_config(3000, True)
    ppo = _interleaved(
        {
            "ppo_steps_per_s": _project("ppo", cont, fast=True),
            "ppo_rllib_runner_steps_per_s": _project("ppo", cont, fast=False),
            "sb3_ppo_steps_per_s": _sb3("ppo", cont),
            "sb3_ppo_dummyvecenv_steps_per_s": _sb3("ppo", cont, dummy=True),
        },
        args.steps,
        rounds,
    )
    dqn = _interleaved(
        {
            "ddqn_steps_per_s": _project("ddqn", disc, fast=True),
            "ddqn_rllib_runner_steps_per_s": _project("ddqn", disc, fast=False),
            "sb3_dqn_steps_per_s": _sb3("dqn", disc),
        },
        args.steps,
        rounds,
    )
    rates = {**ppo, **dqn}
    fig: dict[str, float] = {k: statistics.median(v) for k, v in rates.items()}
    fig["ppo_rllib_default_steps_per_s"] = _rllib_default("ppo", cont, seconds)
    fig["dqn_rllib_default_steps_per_s"] = _rllib_default("dqn", disc, seconds)
    ray.shutdown()
    fig["ppo_vs_sb3_x"] = _ratio(rates, "ppo_steps_per_s", "sb3_ppo_steps_per_s")
    fig["ddqn_vs_sb3_x"] = _ratio(rates, "ddqn_steps_per_s", "sb3_dqn_steps_per_s")
    fig["ppo_vs_sb3_dummyvecenv_x"] = _ratio(rates, "ppo_steps_per_s", "sb3_ppo_dummyvecenv_steps_per_s")
    fig["ppo_runner_speedup_x"] = _ratio(rates, "ppo_steps_per_s", "ppo_rllib_runner_steps_per_s")
    fig["ddqn_runner_speedup_x"] = _ratio(rates, "ddqn_steps_per_s", "ddqn_rllib_runner_steps_per_s")
    fig["ppo_vs_rllib_default_x"] = fig["ppo_steps_per_s"] / fig["ppo_rllib_default_steps_per_s"]
    fig["ddqn_vs_rllib_default_x"] = fig["ddqn_steps_per_s"] / fig["dqn_rllib_default_steps_per_s"]
    fig["rounds"] = rounds
    print_figures(
        {k: round(v, 2) for k, v in fig.items()}, "figure (env steps/s, medians of interleaved rounds)"
    )


if __name__ == "__main__":
    main()
