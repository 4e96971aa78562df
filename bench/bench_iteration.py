"""Where a training iteration's time goes: the project's PPO and double-DQN, piece by piece.

Trains each algorithm as ``bench_train.py`` does (phase-1 env, 7 synthetic
assets, 2 x 64 networks, PPO 64 copies with 4,096-step batches, the
double-DQN 32 copies with 16-step fragments; one torch thread) and times its
pieces by wrapping them (``time.perf_counter`` around each call, no
profiler: a profiler's overhead lands on the many small calls and skews the
shares):

- env step: the vector env's ``step`` (the market core, observations);
- forward + draw: the module's forward over all copies and the action draw;
- runner bookkeeping: the rest of the runner's sampling loop (episode
  arrays, stacking the rollout, its metrics);
- GAE (PPO): the value pass over the rollout and the advantages;
- replay add / replay sample (double-DQN): the flat replay buffer;
- learner update: RLlib's learner steps (minibatches, loss, backward, clipping,
  optimizer, metrics reduce);
- weights sync: learner to runner;
- iteration bookkeeping: everything else in ``Algorithm.train()`` (RLlib's
  and Tune's per-iteration results, the runner's metrics reduce).

The same clock then splits SB3's PPO and DQN on the project's vector env
(``bench_train.py``'s contenders) into env step, the rest of its rollout
collection (forward, draw, its buffers and callbacks) and its learner
(``train``: minibatches, loss, backward, clipping, optimizer): what a 1.5x
lead over SB3 leaves for each of the project's pieces. Needs the ``bench``
extra.

Last, one learner minibatch step of each algorithm (PPO: 1,024 rows;
double-DQN: 256 transitions) is timed twice on the same minibatch: RLlib's
learner step, and the same step written in plain torch (``plain_steps.py``:
the same networks, loss terms, clipping and fused Adam, no bookkeeping), the
floor of any learner of these networks. These two rows are ms per step.

Figures are ms per 4,096 env steps (PPO: one batch) and per 512 env steps
(double-DQN: one sample call of 16 x 32 steps and its two updates). Run:
``.venv/bin/python bench/bench_iteration.py`` (``--quick``: fewer iterations).
The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from bench_train import DQN_HP, PPO_HP, _env_config, sb3_model  # bench/ is first on sys.path
from figures import print_figures

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class _Clock:
    """Seconds spent in each wrapped callable."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        return timed


def _profile(algo_name: str, iterations: int) -> tuple[dict[str, float], int]:
    """Seconds per piece over ``iterations`` train() calls after a warm-up, and the env steps sampled."""
    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.agents.training import build_algorithm
    from cappuccino_ray.config.agents import parse_trial_config

    hp = PPO_HP if algo_name == "ppo" else DQN_HP
    trial, params = parse_trial_config({"algo": algo_name, "train_steps": 10**9, "fast_runner": True, **hp})
    env_config = _env_config(3000, algo_name != "ppo")
    algo: Any = build_algorithm(trial, params, env_config=env_config, seed=0)
    clock = _Clock()
    runner = algo.env_runner_group.local_env_runner
    venv = runner.env.unwrapped
    venv.step = clock.wrap("env step", venv.step)
    runner._act = clock.wrap("forward + draw", runner._act)
    runner.sample_arrays = clock.wrap("sampling", runner.sample_arrays)
    if algo_name == "ppo":
        algo._batch = clock.wrap("GAE", algo._batch)
    else:
        algo.flat_replay.add = clock.wrap("replay add", algo.flat_replay.add)
        algo.flat_replay.sample = clock.wrap("replay sample", algo.flat_replay.sample)
    saved = rl.learner_update, rl.sync_runner_weights
    rl.learner_update = clock.wrap("learner update", rl.learner_update)
    rl.sync_runner_weights = clock.wrap("weights sync", rl.sync_runner_weights)
    try:
        for _ in range(3):
            algo.train()
        clock.seconds.clear()
        start = rl.steps_sampled(algo.train())
        clock.seconds.clear()
        t0 = time.perf_counter()
        for _ in range(iterations):
            result = algo.train()
        total = time.perf_counter() - t0
        steps = rl.steps_sampled(result) - start
        s = dict(clock.seconds)  # before the minibatch timing samples again through the wrappers
        floor = _minibatch_steps(algo, algo_name)
    finally:
        rl.learner_update, rl.sync_runner_weights = saved
        algo.stop()
    s["runner bookkeeping"] = s.pop("sampling") - s["env step"] - s["forward + draw"]
    s["iteration bookkeeping"] = total - sum(s.values())
    s["total"] = total
    return {**s, **floor}, steps


#: The rows of :func:`_minibatch_steps` (ms of one minibatch step) and their JSON key parts.
_STEP_ROWS = ("minibatch step, RLlib's learner", "minibatch step, plain torch")
_STEP_KEYS = ("minibatch_step_rllib", "minibatch_step_plain_torch")


def _minibatch_steps(algo: Any, algo_name: str) -> dict[str, float]:
    """Seconds of one learner minibatch step, RLlib's and in plain torch (``plain_steps.py``), best of 5.

    Both run on the same minibatch of the trained algorithm (PPO: 1,024 rows of
    a fresh batch; double-DQN: 256 replayed transitions), interleaved. Keys end
    in ``(1 step)``: they are not scaled to the env steps.
    """
    import numpy as np
    import plain_steps

    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.agents.lean_dqn import replay_columns

    learner = algo.learner_group._learner
    module = rl.learner_module(algo)
    if algo_name == "ppo":
        runner = algo.env_runner_group.local_env_runner
        columns = algo._batch(runner.sample_arrays(num_timesteps=PPO_HP["train_batch_size"]))
        rows = PPO_HP["minibatch_size"]
        plain = plain_steps.ppo_step(algo, module)
    else:
        rows = DQN_HP["train_batch_size"]
        columns = replay_columns(algo.flat_replay, rows)
        plain = plain_steps.ddqn_step(algo, module)
    mb = {}
    for key, value in columns.items():
        t = torch.from_numpy(np.ascontiguousarray(value[:rows]))
        mb[key] = t.float() if t.dtype == torch.float64 else t
    contenders = {
        _STEP_ROWS[0]: lambda: learner._update({rl.DEFAULT_MODULE_ID: mb}),
        _STEP_ROWS[1]: lambda: plain(mb),
    }
    best = dict.fromkeys(contenders, math.inf)
    for _ in range(5):
        for name, fn in contenders.items():
            for _ in range(20):
                fn()
            t0 = time.perf_counter()
            for _ in range(100):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / 100)
    return best


def _profile_sb3(algo_name: str, steps: int) -> tuple[dict[str, float], int]:
    """Seconds in SB3's env step, rollout collection and learner over ``steps`` env steps, after a warm-up."""
    model = sb3_model(algo_name, _env_config(3000, algo_name != "ppo"))
    model.learn(total_timesteps=steps // 4, reset_num_timesteps=False)  # past DQN's learning_starts
    clock = _Clock()
    model.env.step_wait = clock.wrap("env step", model.env.step_wait)
    model.collect_rollouts = clock.wrap("rollout", model.collect_rollouts)
    model.train = clock.wrap("learner update", model.train)
    start = model.num_timesteps
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    total = time.perf_counter() - t0
    s = clock.seconds
    s["rollout (rest)"] = s.pop("rollout") - s["env step"]
    s["total"] = total
    return s, int(model.num_timesteps - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray

    from cappuccino_ray.env import register_envs

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    register_envs()
    figures: dict[str, float] = {}
    rows: list[tuple[str, str, float]] = []
    for algo_name, per, iterations in (("ppo", 4096, 5), ("ddqn", 512, 12)):
        seconds, steps = _profile(algo_name, 2 if args.quick else iterations)
        for piece, sec in seconds.items():
            if piece in _STEP_ROWS:
                ms = 1000.0 * sec
                figures[f"{algo_name}_{_STEP_KEYS[_STEP_ROWS.index(piece)]}_ms"] = round(ms, 3)
            else:
                ms = 1000.0 * sec * per / steps
                key = piece.replace(" + ", "_").replace(" ", "_")
                figures[f"{algo_name}_{key}_ms_per_{per}_steps"] = round(ms, 2)
            rows.append((algo_name, piece, ms))
        figures[f"{algo_name}_env_steps_per_s"] = round(steps / seconds["total"])
    ray.shutdown()
    for algo_name, per in (("ppo", 4096), ("dqn", 512)):
        seconds, steps = _profile_sb3(algo_name, 40_960 if args.quick else 163_840)
        name = f"sb3_{algo_name}"
        for piece, sec in seconds.items():
            ms = 1000.0 * sec * per / steps
            rows.append((name, piece, ms))
            key = piece.replace(" (rest)", "_rest").replace(" ", "_")
            figures[f"{name}_{key}_ms_per_{per}_steps"] = round(ms, 2)
    print(f"{'algorithm':<10}{'piece':<34}{'ms':>8}{'share':>8}")
    totals = {a: ms for a, p, ms in rows if p == "total"}
    for algo_name, piece, ms in rows:
        share = "" if piece == "total" or piece in _STEP_ROWS else f"{100 * ms / totals[algo_name]:.0f} %"
        print(f"{algo_name:<10}{piece:<34}{ms:>8.2f}{share:>8}")
    print_figures(figures, "figure")


if __name__ == "__main__":
    main()
