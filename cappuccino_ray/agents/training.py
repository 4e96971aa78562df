"""Train one fresh agent for a fixed number of env steps and hand back its weights.

Used by the CPCV trial (one call per split) and by the benchmark. Each call
builds a new RLlib algorithm in this process (sampling and learning local, so
a Tune trial needs no extra actors), trains until ``train_steps`` env steps
are sampled, checks every iteration's losses for NaN, and stops the algorithm.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cappuccino_ray.agents import batching
from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.ddqn import build_ddqn_config
from cappuccino_ray.agents.ppo import build_ppo_config
from cappuccino_ray.config.agents import DDQNParams, PPOParams, TrialConfig
from cappuccino_ray.documents import WarmStart
from cappuccino_ray.env import ENV_ID
from cappuccino_ray.errors import TrainingError

__all__ = ["IterationHook", "TrainOutcome", "build_algorithm", "train_agent"]

#: Called after each training iteration with the env steps so far and the iteration's curve point.
IterationHook = Callable[[int, Mapping[str, float]], None]


@dataclass
class TrainOutcome:
    """Weights and figures of one training run.

    Attributes:
        state: The learner's module weights (numpy), target network included for DDQN.
        losses: Last iteration's loss metrics.
        env_steps: Env steps sampled.
        build_s: Seconds to build the algorithm.
        train_s: Seconds spent in ``train()``.
        obs_dim: Observation length.
        n_actions: Action vector length (PPO) or number of actions (DDQN).
        forced_sales: Positions the training envs force-sold at their holding limit.
    """

    state: dict[str, np.ndarray]
    losses: dict[str, float] = field(default_factory=dict)
    env_steps: int = 0
    build_s: float = 0.0
    train_s: float = 0.0
    obs_dim: int = 0
    n_actions: int = 0
    forced_sales: int = 0


def build_algorithm(
    trial: TrialConfig,
    params: PPOParams | DDQNParams,
    *,
    env_config: dict[str, Any],
    seed: int,
    env: str | type = ENV_ID,
    warm_start: WarmStart | None = None,
) -> rl.Algorithm:
    """The RLlib algorithm of ``trial.algo`` for ``params``, built (see :mod:`.ppo` and :mod:`.ddqn`).

    The training envs get ``info: False``: nothing in training reads the step infos,
    and building them (then RLlib splitting them per env in Python) took about half
    of a 64-copy env step (``bench/bench_env.py``). The replay buffer is seeded, and
    the algorithm knows the trial's env-step budget
    (:func:`~cappuccino_ray.agents.batching.set_step_budget`: the lean training
    steps size their iterations from it and stop at it).
    """
    env_config = {**env_config, "info": False}
    config = (
        build_ppo_config(
            params,
            env=env,
            env_config=env_config,
            seed=seed,
            num_gpus=trial.num_gpus,
            warm_start=warm_start,
            fast_runner=trial.fast_runner,
        )
        if isinstance(params, PPOParams)
        else build_ddqn_config(
            params,
            env=env,
            env_config=env_config,
            seed=seed,
            train_steps=trial.train_steps,
            num_gpus=trial.num_gpus,
            fast_runner=trial.fast_runner,
        )
    )
    algo = config.build_algo()
    rl.seed_replay_buffer(algo, seed)
    batching.set_step_budget(algo, trial.train_steps)
    return algo


def _shapes(algo: str, state: Mapping[str, np.ndarray]) -> tuple[int, int]:
    if algo == "ppo":
        return int(state["pi.mean.0.weight"].shape[1]), int(state["pi.log_std"].shape[0])
    return int(state["q.torso.0.weight"].shape[1]), int(state["q.advantage.0.weight"].shape[0])


def train_agent(
    trial: TrialConfig,
    params: PPOParams | DDQNParams,
    *,
    env_config: dict[str, Any],
    seed: int,
    env: str | type = ENV_ID,
    warm_start: WarmStart | None = None,
    on_iteration: IterationHook | None = None,
) -> TrainOutcome:
    """Train a fresh agent for ``trial.train_steps`` env steps.

    Args:
        trial: Run settings (algorithm, steps, resources).
        params: The algorithm's hyperparameters.
        env_config: The training env's config (mode ``train``).
        seed: Seed of this run.
        env: Env id or class (tests may pass a toy env class).
        warm_start: Where PPO's first weights come from (see :func:`.ppo.load_warm_start`).
        on_iteration: Called after every training iteration with the env steps sampled so
            far and that iteration's learning-curve point (:func:`.rllib_names.curve_values`
            and ``env_steps_per_s`` over the iteration).

    Returns:
        The weights and training figures.

    Raises:
        TrainingError: If a loss or a weight turns non-finite.
    """
    t0 = time.perf_counter()
    algo = build_algorithm(trial, params, env_config=env_config, seed=seed, env=env, warm_start=warm_start)
    build_s = time.perf_counter() - t0
    sampled = 0
    losses: dict[str, float] = {}
    try:
        t1 = tick = time.perf_counter()
        while sampled < trial.train_steps:
            result = algo.train()
            before, sampled = sampled, rl.steps_sampled(result)
            losses = rl.loss_values(result) or losses
            bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
            if bad:
                raise TrainingError(
                    f"training diverged after {sampled} env steps: non-finite loss {bad}; "
                    "lower lr, entropy_coeff or grad_clip"
                )
            if on_iteration is not None:
                now = time.perf_counter()
                rate = (sampled - before) / max(now - tick, 1e-9)
                on_iteration(sampled, {**rl.curve_values(result), "env_steps_per_s": rate})
                tick = time.perf_counter()  # the hook's own time is not the env's
        train_s = time.perf_counter() - t1
        state = {k: np.asarray(v) for k, v in rl.module_state(algo).items()}
        forced_sales = rl.training_forced_sales(algo)
    finally:
        algo.stop()
        del algo
        gc.collect()  # RLlib's objects hold reference cycles: free this split's memory before the next
    bad_w = sorted(k for k, v in state.items() if not np.all(np.isfinite(v)))
    if bad_w:
        raise TrainingError(f"training diverged: non-finite weights in {bad_w}; lower lr or grad_clip")
    obs_dim, n_actions = _shapes(trial.algo, state)
    return TrainOutcome(
        state=state,
        losses=losses,
        env_steps=sampled,
        build_s=build_s,
        train_s=train_s,
        obs_dim=obs_dim,
        n_actions=n_actions,
        forced_sales=forced_sales,
    )
