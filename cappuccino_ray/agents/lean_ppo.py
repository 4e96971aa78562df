"""``LeanPPO``: RLlib's PPO trained on the arrays of the project's vector env runner.

RLlib's PPO turns the sampled episodes into a train batch with its learner
connector pipeline (one artificial bootstrap step appended to every episode
chunk, per-episode slicing, GAE). With
:class:`~cappuccino_ray.agents.env_runner.VectorEnvRunner` the samples are
already time-major arrays, so :class:`LeanPPO` computes GAE on them directly
(:func:`gae`: one value-function pass over all observations, the backward
recursion vectorised over the env copies), standardises the advantages and
hands RLlib's PPO learner one flat batch (no learner connector, no episode
objects) through :func:`~cappuccino_ray.agents.rllib_names.learner_update`.
The PPO loss, the KL coefficient update and the learner's own update step
stay RLlib's; the minibatches are the project's (every epoch a fresh seeded
permutation, where RLlib keeps the first epoch in order), and the optimizer
is RLlib's Adam, fused (:mod:`~cappuccino_ray.agents.learners`).

The advantages are standardised over the real steps only (RLlib's connector
includes its artificial bootstrap steps in the mean and standard deviation).
With another env runner :class:`LeanPPO` is RLlib's PPO unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cappuccino_ray.agents import batching
from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.env_runner import Rollout, VectorEnvRunner

__all__ = ["LeanPPO", "gae", "ppo_batch"]


def gae(
    rollout: Rollout, values: np.ndarray, *, gamma: float, lambda_: float
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimates and value targets of a rollout, ``(T, N)`` each.

    ``delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)``;
    ``A_t = delta_t + gamma * lambda * A_{t+1}``, the recursion stopped where
    an episode ends (terminated or truncated: a truncated step still
    bootstraps from its final observation's value) and at the rollout's last
    step (which bootstraps from ``V(s_T)``). Value targets are ``A_t + V(s_t)``.
    Entries of autoreset steps (``rollout.valid`` False) are meaningless.

    Args:
        rollout: The runner's arrays.
        values: ``V(s_t)`` for every observation, ``(T + 1, N)``.
        gamma: Discount factor.
        lambda_: GAE lambda.
    """
    term = rollout.terminateds
    not_term = 1.0 - term
    propagate = gamma * lambda_ * not_term * (1.0 - rollout.truncateds)
    deltas = rollout.rewards + gamma * not_term * values[1:] - values[:-1]
    adv = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1])
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + propagate[t] * running
        adv[t] = running
    return adv, adv + values[:-1]


def ppo_batch(rollout: Rollout, values: np.ndarray, *, gamma: float, lambda_: float) -> dict[str, np.ndarray]:
    """PPO's train-batch columns of a rollout's real steps (copy by copy, in time order).

    Args:
        rollout: The runner's arrays (with the action log-probabilities and distribution inputs).
        values: ``V(s_t)`` for every observation, ``(T + 1, N)``.
        gamma: Discount factor.
        lambda_: GAE lambda.

    Returns:
        ``obs, actions, action_logp, action_dist_inputs, advantages, value_targets``
        (advantages standardised over the batch).
    """
    if rollout.logp is None or rollout.dist_inputs is None:
        raise ValueError("PPO needs the action log-probabilities; the module returned actions only")
    adv, targets = gae(rollout, values, gamma=gamma, lambda_=lambda_)
    # Copy-major order: each copy's steps stay contiguous, as in RLlib's episode batches.
    keep = rollout.valid.T

    def flat(a: np.ndarray) -> np.ndarray:
        return np.swapaxes(a, 0, 1)[keep]

    adv_f = flat(adv)
    adv_f = (adv_f - adv_f.mean()) / max(1e-4, float(adv_f.std()))
    return {
        rl.OBS: flat(rollout.obs[:-1]),
        rl.ACTIONS: flat(rollout.actions),
        rl.ACTION_LOGP: flat(rollout.logp).astype(np.float32),
        rl.ACTION_DIST_INPUTS: flat(rollout.dist_inputs),
        rl.ADVANTAGES: adv_f.astype(np.float32),
        rl.VALUE_TARGETS: flat(targets).astype(np.float32),
    }


class LeanPPO(rl.ConfigDictOnce, rl.PPO):
    """RLlib's PPO whose training step takes the vector env runner's arrays (module docstring).

    One training step runs sample-GAE-update cycles (each exactly RLlib's
    PPO iteration: one batch, its epochs, a weights sync) until
    :func:`~cappuccino_ray.agents.batching.cycle_goal` env steps are sampled
    (up to 4 batches, about a tenth of the budget given by
    :func:`~cappuccino_ray.agents.batching.set_step_budget`; one batch
    without a budget), and reduces the runner's and the learner's metrics once
    at the end.
    """

    def setup(self, config: Any) -> None:
        """Build the algorithm; count update cycles (they seed the minibatch permutations)."""
        super().setup(config)
        me: Any = self
        me._lean_cycles = 0

    def training_step(self) -> None:
        """Sample batches, compute GAE, run RLlib's PPO learner update and sync the weights."""
        me: Any = self  # RLlib types its attributes as optional
        runner = me.env_runner_group.local_env_runner
        if not isinstance(runner, VectorEnvRunner) or me.env_runner_group.num_remote_workers() > 0:
            super().training_step()
            return
        cfg: Any = me.config
        base = int(me.metrics.peek((rl.ENV_RUNNER_RESULTS, rl.NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))
        batch = int(cfg.total_train_batch_size)
        goal = batching.cycle_goal(self, base, batch, most=4 * batch)
        sampled = 0
        results: list[Any] = []
        while True:
            with me.metrics.log_time((rl.TIMERS, rl.ENV_RUNNER_SAMPLING_TIMER)):
                rollout = runner.sample_arrays(num_timesteps=batch)
            sampled += int(np.count_nonzero(rollout.valid))
            data = self._batch(rollout)
            with me.metrics.log_time((rl.TIMERS, rl.LEARNER_UPDATE_TIMER)):
                results += rl.learner_update(
                    self,
                    data,
                    timesteps={
                        rl.NUM_ENV_STEPS_SAMPLED_LIFETIME: base + sampled,
                        rl.NUM_MODULE_STEPS_TRAINED_LIFETIME: me.metrics.peek(
                            (rl.LEARNER_RESULTS, rl.ALL_MODULES, rl.NUM_MODULE_STEPS_TRAINED_LIFETIME),
                            default=0,
                        ),
                    },
                    num_epochs=int(cfg.num_epochs),
                    minibatch_size=int(cfg.minibatch_size),
                    shuffle=bool(cfg.shuffle_batch_per_epoch),
                    # A fresh permutation stream per cycle, repeated by a seeded run.
                    seed=(int(cfg.seed or 0) << 32) + me._lean_cycles,
                    reduce=False,
                )
            me._lean_cycles += 1
            rl.sync_runner_weights(self)
            if sampled >= goal:
                break
        me.metrics.aggregate([runner.get_metrics()], key=rl.ENV_RUNNER_RESULTS)
        me.metrics.aggregate(results + rl.learner_results(self), key=rl.LEARNER_RESULTS)

    def _batch(self, rollout: Rollout) -> dict[str, np.ndarray]:
        """PPO's train batch of a rollout: values from the learner's module, then GAE."""
        me: Any = self
        cfg: Any = me.config
        module = rl.learner_module(me)
        device = next(module.parameters()).device  # the learner's module is on CUDA with num_gpus > 0
        t_len, n = rollout.obs.shape[:2]
        with torch.inference_mode():
            obs = torch.from_numpy(rollout.obs.reshape(t_len * n, -1)).to(device)
            values = module.compute_values({rl.OBS: obs}).cpu().numpy().reshape(t_len, n).astype(np.float64)
        return ppo_batch(rollout, values, gamma=float(cfg.gamma), lambda_=float(cfg.lambda_))
