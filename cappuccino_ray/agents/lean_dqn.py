"""``LeanDQN``: RLlib's DQN with the project's flat replay buffer in its training step.

RLlib's ``EpisodeReplayBuffer`` stores episode objects and rebuilds every
sampled transition from them in Python; :class:`LeanDQN` keeps RLlib's DQN
learner (loss, double-Q target, target sync; Adam fused by
:mod:`~cappuccino_ray.agents.learners`) and replaces the
sample-store-replay part of the training step with
:class:`~cappuccino_ray.agents.replay.FlatReplayBuffer`. With the project's
:class:`~cappuccino_ray.agents.env_runner.VectorEnvRunner` it takes the
runner's arrays directly (no episode objects at all); with RLlib's own runner
it reads the episode chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from cappuccino_ray.agents import batching
from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.env_runner import Rollout, VectorEnvRunner, segments
from cappuccino_ray.agents.replay import FlatReplayBuffer, nstep_transitions

__all__ = ["LeanDQN", "replay_columns", "rollout_transitions"]

#: :class:`FlatReplayBuffer` column -> RLlib's train-batch column.
_FLAT_TO_RLLIB = {
    "obs": rl.OBS,
    "next_obs": rl.NEXT_OBS,
    "actions": rl.ACTIONS,
    "rewards": rl.REWARDS,
    "terminateds": rl.TERMINATEDS,
    "n_step": "n_step",
}


def replay_columns(buffer: FlatReplayBuffer, n: int) -> dict[str, np.ndarray]:
    """``n`` transitions drawn from ``buffer`` as RLlib's DQN learner's train-batch columns (unit weights)."""
    columns = {_FLAT_TO_RLLIB[k]: v for k, v in buffer.sample(n).items()}
    columns["weights"] = np.ones(n, dtype=np.float32)
    return columns


def _one_step_transitions(rollout: Rollout) -> Iterator[dict[str, np.ndarray]]:
    """One-step transitions of every piece in one gather, in :func:`segments`' order (nothing if none).

    A valid step belongs to the piece that ends at the copy's first episode
    end at or after it (or to the copy's running piece). Sorting the valid
    steps by (that piece's :func:`segments` key, copy, step) lists the pieces
    in :func:`segments`' order and each piece's steps in time order, without
    a Python loop over the copies. That holds for rollouts as the runner
    records them, where a step is invalid only as a copy's autoreset: right
    after its episode ended, or first in a call that continues one.
    """
    valid = rollout.valid
    t_len = valid.shape[0]
    done = (rollout.terminateds | rollout.truncateds) & valid
    end_at = np.where(done, np.arange(t_len)[:, None], t_len)
    next_end = np.minimum.accumulate(end_at[::-1], axis=0)[::-1]
    # segments' key: a finished piece's stop (its end + 1); a running piece sorts after all of them.
    key = np.where(next_end < t_len, next_end + 1, t_len + 1)
    t_idx, c_idx = np.nonzero(valid)
    if len(t_idx) == 0:
        return
    order = np.lexsort((t_idx, c_idx, key[t_idx, c_idx]))
    t_idx, c_idx = t_idx[order], c_idx[order]
    yield {
        "obs": rollout.obs[t_idx, c_idx],
        "next_obs": rollout.obs[t_idx + 1, c_idx],
        "actions": rollout.actions[t_idx, c_idx],
        "rewards": rollout.rewards[t_idx, c_idx].astype(np.float32),
        "terminateds": rollout.terminateds[t_idx, c_idx] & done[t_idx, c_idx],
        "n_step": np.ones(len(t_idx), dtype=np.float32),
    }


def rollout_transitions(rollout: Rollout, *, n_step: int, gamma: float) -> Iterator[dict[str, np.ndarray]]:
    """N-step transitions of every episode piece of a :class:`Rollout`, in :func:`segments`' order.

    The same transitions as RLlib's runner's episode chunks give
    (:func:`~cappuccino_ray.agents.replay.nstep_transitions` of each chunk):
    one chunk per piece, or for ``n_step == 1`` one chunk of all of them.
    """
    if n_step == 1:
        yield from _one_step_transitions(rollout)
        return
    for seg in segments(rollout):
        s, e, c = seg.start, seg.stop, seg.copy
        yield nstep_transitions(
            rollout.obs[s : e + 1, c],
            rollout.actions[s:e, c],
            rollout.rewards[s:e, c],
            terminated=seg.terminated,
            n_step=n_step,
            gamma=gamma,
        )


class LeanDQN(rl.ConfigDictOnce, rl.DQN):
    """RLlib's DQN with the project's flat replay buffer in its training step.

    Per cycle (one or more per training step, see :meth:`training_step`): one
    sample call on the env runner (``rollout_fragment_length``
    steps per env copy), the chunks turned into n-step transitions
    (:func:`~cappuccino_ray.agents.replay.nstep_transitions`) and stored in a
    :class:`~cappuccino_ray.agents.replay.FlatReplayBuffer`; then, once
    ``num_steps_sampled_before_learning_starts`` steps are in, as many gradient
    steps of ``train_batch_size_per_learner`` transitions as keep replayed /
    sampled at ``training_intensity`` (fractions carry over), drawn in one
    gather and handed to RLlib's DQN learner as one flat batch cut into
    minibatches (no learner connector, no episode objects). The loss, the
    double-Q target and the target-network sync stay RLlib's.
    """

    def setup(self, config: Any) -> None:
        """Build the algorithm, then the flat replay buffer (seeded by ``config.seed``)."""
        super().setup(config)
        me: Any = self  # RLlib types its attributes as optional
        capacity = int(me.config.replay_buffer_config.get("capacity", 100_000))
        me.flat_replay = FlatReplayBuffer(capacity, seed=int(me.config.seed or 0))
        me._updates_owed = 0.0

    def stop(self) -> None:
        """Stop the algorithm and free the replay arrays now (a trial builds one algorithm per split)."""
        me: Any = self
        me.flat_replay = None
        super().stop()

    def _sample_into_replay(self, *, report: bool) -> int:
        """One sample call, stored as n-step transitions; returns the env steps sampled.

        ``report`` aggregates the runner's metrics now (RLlib's own runner always does).
        """
        me: Any = self
        cfg: Any = me.config
        n_step, gamma = int(cfg.n_step), float(cfg.gamma)
        runner = me.env_runner_group.local_env_runner
        with me.metrics.log_time((rl.TIMERS, rl.ENV_RUNNER_SAMPLING_TIMER)):
            if isinstance(runner, VectorEnvRunner) and me.env_runner_group.num_remote_workers() == 0:
                rollout = runner.sample_arrays()
                runner_results = [runner.get_metrics()] if report else []
                chunks = list(rollout_transitions(rollout, n_step=n_step, gamma=gamma))
            else:
                sampled_out: Any = rl.synchronous_parallel_sample(
                    worker_set=me.env_runner_group,
                    concat=True,
                    sample_timeout_s=cfg.sample_timeout_s,
                    _uses_new_env_runners=True,
                    _return_metrics=True,
                )
                episodes, runner_results = sampled_out
                chunks = [
                    nstep_transitions(
                        np.asarray(ep.get_observations(), dtype=np.float32),
                        np.asarray(ep.get_actions()),
                        np.asarray(ep.get_rewards(), dtype=np.float32),
                        terminated=bool(ep.is_terminated),
                        n_step=n_step,
                        gamma=gamma,
                    )
                    for ep in episodes
                    if len(ep) > 0
                ]
        if runner_results:
            me.metrics.aggregate(runner_results, key=rl.ENV_RUNNER_RESULTS)
        if chunks:
            me.flat_replay.add({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
        return sum(len(c["rewards"]) for c in chunks)

    def training_step(self) -> None:
        """Sample, store, replay and learn (see the class docstring).

        With the vector env runner one training step runs these cycles until
        :func:`~cappuccino_ray.agents.batching.cycle_goal` env steps are
        sampled (whole :func:`~cappuccino_ray.agents.batching.update_unit`
        units, at most 4,096 steps, about a tenth of the budget; one cycle
        without a budget), syncing the weights after every update, and reduces
        the runner's and the learner's metrics once at the end.
        """
        me: Any = self  # RLlib types its attributes as optional
        runner = me.env_runner_group.local_env_runner
        lean = isinstance(runner, VectorEnvRunner) and me.env_runner_group.num_remote_workers() == 0
        base = int(me.metrics.peek((rl.ENV_RUNNER_RESULTS, rl.NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))
        cfg: Any = me.config
        unit = batching.update_unit(
            int(cfg.get_rollout_fragment_length()) * int(cfg.num_envs_per_env_runner),
            int(cfg.total_train_batch_size),
            float(cfg.training_intensity or 1.0),
        )
        goal = batching.cycle_goal(self, base, unit, most=4096) if lean else 0
        sampled = 0
        results: list[Any] = []
        updated = False
        while True:
            new = self._sample_into_replay(report=not lean)
            sampled += new
            if lean:
                # What RLlib's end-of-iteration state sync tells the runner, after every cycle:
                # the exploration schedule then advances as if each cycle were an iteration.
                runner.num_env_steps_sampled_lifetime = base + sampled
            cycle = self._learn(new, base + sampled, reduce=not lean)
            if cycle is not None:
                updated = True
                results += cycle
            if sampled >= goal:
                break
        if lean:
            me.metrics.aggregate([runner.get_metrics()], key=rl.ENV_RUNNER_RESULTS)
            if updated:
                results += rl.learner_results(self)
        for res in results:
            for module_results in res.values():
                if isinstance(module_results, dict):
                    module_results.pop(rl.TD_ERROR_KEY, None)
        if results:
            me.metrics.aggregate(results, key=rl.LEARNER_RESULTS)

    def _learn(self, sampled: int, lifetime: int, *, reduce: bool) -> list[Any] | None:
        """The gradient steps ``sampled`` new env steps are owed, then a weights sync; None if none."""
        me: Any = self
        cfg: Any = me.config
        if lifetime < cfg.num_steps_sampled_before_learning_starts:
            return None
        size = int(cfg.total_train_batch_size)
        me._updates_owed += sampled * float(cfg.training_intensity or 1.0) / size
        n_updates = int(me._updates_owed)
        if n_updates == 0:
            return None
        me._updates_owed -= n_updates
        data = replay_columns(me.flat_replay, n_updates * size)
        agent_steps = me.metrics.peek(
            (rl.ENV_RUNNER_RESULTS, rl.NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={}
        )
        with me.metrics.log_time((rl.TIMERS, rl.LEARNER_UPDATE_TIMER)):
            results = rl.learner_update(
                self,
                data,
                timesteps={
                    rl.NUM_ENV_STEPS_SAMPLED_LIFETIME: lifetime,
                    rl.NUM_AGENT_STEPS_SAMPLED_LIFETIME: agent_steps,
                },
                num_epochs=1,
                minibatch_size=size,
                shuffle=False,
                seed=0,
                reduce=reduce,
            )
        rl.sync_runner_weights(self)
        return results
