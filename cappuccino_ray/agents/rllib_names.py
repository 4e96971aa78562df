"""Every RLlib class, config key and metric key the project uses, in one place.

RLlib's names churn between releases (``episode_reward_mean`` became
``env_runners/episode_return_mean``; ``sgd_minibatch_size`` became
``minibatch_size``). The rest of the project imports them from here, so an
upgrade of Ray touches this module only. Pinned to Ray 2.60's new API stack
(RLModule, Learner, EnvRunner, ConnectorV2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.dqn import DQN, DQNConfig
from ray.rllib.algorithms.dqn.dqn_learner import QF_LOSS_KEY, QF_MEAN_KEY
from ray.rllib.algorithms.dqn.torch.dqn_torch_learner import DQNTorchLearner
from ray.rllib.algorithms.ppo import PPO, PPOConfig
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import ALL_MODULES, DEFAULT_AGENT_ID, DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchDiagGaussian
from ray.rllib.core.learner.learner import ENTROPY_KEY, POLICY_LOSS_KEY, VF_LOSS_KEY
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, QNetAPI, TargetNetworkAPI, ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    EPISODE_DURATION_SEC_MEAN,
    EPISODE_LEN_MAX,
    EPISODE_LEN_MEAN,
    EPISODE_LEN_MIN,
    EPISODE_RETURN_MAX,
    EPISODE_RETURN_MEAN,
    EPISODE_RETURN_MIN,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    MODULE_TRAIN_BATCH_SIZE_MEAN,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_TRAINED,
    NUM_ENV_STEPS_TRAINED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
    SAMPLE_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TD_ERROR_KEY,
    TIMERS,
    WEIGHTS_SEQ_NO,
)
from ray.tune.trainable import Trainable

from cappuccino_ray.agents import batching

# Every EnvRunner registers RLlib's wrapper id again with gymnasium, which warns each time;
# the override is RLlib's own and harmless, so it is not shown to users.
warnings.filterwarnings(
    "ignore", message=r".*Overriding environment rllib-single-agent-env", category=UserWarning
)

__all__ = [
    "ACTIONS",
    "ACTION_DIST_INPUTS",
    "ACTION_LOGP",
    "ADVANTAGES",
    "ALL_MODULES",
    "DEFAULT_MODULE_ID",
    "DQN",
    "EMBEDDINGS",
    "ENTROPY_KEY",
    "ENV_RUNNER_RESULTS",
    "ENV_RUNNER_SAMPLING_TIMER",
    "EPISODE_LEN_MEAN",
    "EPISODE_RETURN_MEAN",
    "EPISODE_STATS",
    "LEARNER_RESULTS",
    "LEARNER_UPDATE_TIMER",
    "NEXT_OBS",
    "NUM_AGENT_STEPS_SAMPLED_LIFETIME",
    "NUM_ENV_STEPS_SAMPLED_LIFETIME",
    "NUM_ENV_STEPS_TRAINED_LIFETIME",
    "NUM_MODULE_STEPS_TRAINED_LIFETIME",
    "OBS",
    "POLICY_LOSS_KEY",
    "PPO",
    "QF_LOSS_KEY",
    "QF_MEAN_KEY",
    "QF_NEXT_PREDS",
    "QF_PREDS",
    "QF_TARGET_NEXT_PREDS",
    "REPLAY_BUFFER_TYPE",
    "REWARDS",
    "SAMPLE_TIMER",
    "SYNCH_WORKER_WEIGHTS_TIMER",
    "TD_ERROR_KEY",
    "TERMINATEDS",
    "TIMERS",
    "TOTAL_LOSS_KEY",
    "VALUE_TARGETS",
    "VF_LOSS_KEY",
    "WEIGHTS_SEQ_NO",
    "Algorithm",
    "AlgorithmConfig",
    "ConfigDictOnce",
    "DQNConfig",
    "DQNTorchLearner",
    "InferenceOnlyAPI",
    "MultiAgentBatch",
    "PPOConfig",
    "PPOTorchLearner",
    "QNetAPI",
    "RLModuleSpec",
    "SampleBatch",
    "SingleAgentEnvRunner",
    "SingleAgentEpisode",
    "TargetNetworkAPI",
    "TorchDiagGaussian",
    "TorchRLModule",
    "TrainModeOnce",
    "ValueFunctionAPI",
    "curve_values",
    "learner_module",
    "learner_results",
    "learner_update",
    "loss_values",
    "make_target_network",
    "module_state",
    "seed_replay_buffer",
    "steps_sampled",
    "steps_trained",
    "sync_local_weights",
    "sync_runner_weights",
    "synchronous_parallel_sample",
    "training_forced_sales",
]

# Batch columns (what flows between env runner, module and learner).
OBS: str = Columns.OBS
NEXT_OBS: str = Columns.NEXT_OBS
ACTIONS: str = Columns.ACTIONS
ACTION_DIST_INPUTS: str = Columns.ACTION_DIST_INPUTS
ACTION_LOGP: str = Columns.ACTION_LOGP
EMBEDDINGS: str = Columns.EMBEDDINGS
REWARDS: str = Columns.REWARDS
TERMINATEDS: str = Columns.TERMINATEDS

# PPO's train-batch columns written by GAE (RLlib's learner connector or the project's lean step).
ADVANTAGES: str = Postprocessing.ADVANTAGES
VALUE_TARGETS: str = Postprocessing.VALUE_TARGETS

# DQN forward-pass outputs that RLlib's DQN learner reads (`dqn_learner.py`).
QF_PREDS = "qf_preds"
QF_NEXT_PREDS = "qf_next_preds"
QF_TARGET_NEXT_PREDS = "qf_target_next_preds"

#: Learner's total-loss metric key.
TOTAL_LOSS_KEY = "total_loss"

#: What RLlib's ``SingleAgentEnvRunner._log_episode_metrics`` logs per finished episode:
#: each stat's key and which of (length, return, seconds) it takes.
EPISODE_STATS: tuple[tuple[Any, int], ...] = (
    (EPISODE_LEN_MEAN, 0),
    (EPISODE_RETURN_MEAN, 1),
    (EPISODE_DURATION_SEC_MEAN, 2),
    (("agent_episode_return_mean", DEFAULT_AGENT_ID), 1),
    (("module_episode_return_mean", DEFAULT_MODULE_ID), 1),
    (EPISODE_LEN_MIN, 0),
    (EPISODE_RETURN_MIN, 1),
    (EPISODE_LEN_MAX, 0),
    (EPISODE_RETURN_MAX, 1),
)

#: Uniform (not prioritised) episode replay buffer of the new API stack.
REPLAY_BUFFER_TYPE = "EpisodeReplayBuffer"


def _get(result: dict, *keys: str, default: float = 0.0) -> float:
    node: object = result
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return default
        node = node[k]
    return float(node) if isinstance(node, int | float) else default


def steps_sampled(result: dict) -> int:
    """Lifetime env steps sampled, from an ``Algorithm.train()`` result."""
    return int(_get(result, ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME))


def steps_trained(result: dict, *, replayed: bool = False) -> int:
    """Lifetime env steps trained on, from an ``Algorithm.train()`` result (0 before learning starts).

    Args:
        result: An ``Algorithm.train()`` result.
        replayed: Count the transitions the learner trained on (the module's
            steps, every epoch's included). RLlib's own update counts the whole
            batch's env steps for every minibatch; the lean update
            (:func:`learner_update`) counts each row once per epoch for both.
    """
    if replayed:
        return int(_get(result, LEARNER_RESULTS, DEFAULT_MODULE_ID, NUM_MODULE_STEPS_TRAINED_LIFETIME))
    return int(_get(result, LEARNER_RESULTS, "__all_modules__", NUM_ENV_STEPS_TRAINED_LIFETIME))


def loss_values(result: dict) -> dict[str, float]:
    """The default module's loss metrics (total, policy, value, Q) that are present in ``result``.

    Args:
        result: An ``Algorithm.train()`` result.

    Returns:
        Loss name -> value; ``nan`` values are kept (they signal divergence).
    """
    module = result.get(LEARNER_RESULTS, {}).get(DEFAULT_MODULE_ID, {})
    out: dict[str, float] = {}
    for key in (TOTAL_LOSS_KEY, POLICY_LOSS_KEY, VF_LOSS_KEY, QF_LOSS_KEY, ENTROPY_KEY, QF_MEAN_KEY):
        if key in module and isinstance(module[key], int | float):
            out[key] = float(module[key])
    return out


def curve_values(result: dict) -> dict[str, float]:
    """One point of the learning curve from an ``Algorithm.train()`` result.

    Args:
        result: An ``Algorithm.train()`` result.

    Returns:
        ``episode_return_mean`` and ``episode_len_mean`` of the training episodes RLlib
        averaged lately (left out until one has ended) and the losses of :func:`loss_values`.
    """
    runner = result.get(ENV_RUNNER_RESULTS, {})
    out = {
        key: float(runner[key])
        for key in (EPISODE_RETURN_MEAN, EPISODE_LEN_MEAN)
        if isinstance(runner.get(key), int | float) and math.isfinite(runner[key])
    }
    return out | loss_values(result)


def training_forced_sales(algo: Algorithm) -> int:
    """Forced sales the local env runner's env copies made so far (0 if the env does not count them)."""
    runner = algo.env_runner
    env = getattr(runner, "env", None)
    base = getattr(env, "unwrapped", env)
    return int(getattr(base, "forced_sales_total", 0))


def module_state(algo: Algorithm) -> dict[str, Any]:
    """The learner's weights of the default module (numpy arrays, target networks included)."""
    group = algo.learner_group
    if group is None:
        raise RuntimeError("the algorithm has no learner group; was it built with build_algo()?")
    weights = group.get_weights(module_ids=[DEFAULT_MODULE_ID])
    return dict(weights[DEFAULT_MODULE_ID])


def learner_module(algo: Algorithm) -> Any:
    """The local learner's default module (the one being trained; ``num_learners=0``)."""
    learner = _local_learner(algo)
    if learner is None:
        raise RuntimeError("the algorithm has no local learner; build it with num_learners=0")
    return learner.module[DEFAULT_MODULE_ID]


class TrainModeOnce(TorchRLModule):
    """RLlib's ``TorchRLModule`` whose ``forward_train`` switches to train mode only when it is not in it.

    RLlib's calls ``train()`` on every call, which walks and sets every
    submodule: about 0.1 ms of each minibatch step on these networks, as much
    as a layer's forward. Nothing else changes (RLlib's inference-only check
    and ``_forward_train`` run as before); the learner's module is never put
    in eval mode between steps, so the check is all it takes.
    """

    def forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """RLlib's ``forward_train``, setting train mode only when the module is not in it."""
        if not self.training:
            self.train()
        return RLModule.forward_train(self, batch, **kwargs)


class ConfigDictOnce:
    """Algorithm mixin: the ``config`` entry of every result is built once per algorithm.

    RLlib's ``Algorithm.get_auto_filled_metrics`` turns the whole
    ``AlgorithmConfig`` into a dict (a deep copy) on every ``train()``:
    about 2 ms, 4 % of a PPO iteration and 8 % of a double-DQN one at the
    bench's sizes. The config is frozen once the algorithm is built, so its
    dict is made once and each result gets a shallow copy of it.
    """

    def get_auto_filled_metrics(
        self,
        now: Any = None,
        time_this_iter: float | None = None,
        timestamp: int | None = None,
        debug_metrics_only: bool = False,
    ) -> dict[str, Any]:
        """Tune's auto-filled result entries, with the cached config dict."""
        me: Any = self
        auto: dict[str, Any] = Trainable.get_auto_filled_metrics(
            me, now, time_this_iter, timestamp, debug_metrics_only
        )
        if "config" in auto:
            cached = me.__dict__.get("_config_dict_once")
            if cached is None:
                cached = me._config_dict_once = me.config.to_dict()
            auto["config"] = dict(cached)
        return auto


def _local_learner(algo: Algorithm) -> Any:
    """The algorithm's local learner (``num_learners=0``), or None when its learners are remote."""
    return getattr(algo.learner_group, "_learner", None)


def _log_trained(learner: Any, n_trained: int, minibatch_size: int) -> None:
    """The steps-trained metrics RLlib's ``Learner.update`` logs per minibatch, logged once per call.

    Env and module steps are both the rows trained on, every epoch counted
    (RLlib's update counts the whole batch's env steps once per minibatch).
    """
    log = learner.metrics.log_value
    log((DEFAULT_MODULE_ID, WEIGHTS_SEQ_NO), learner._weights_seq_no, window=1)
    log((DEFAULT_MODULE_ID, MODULE_TRAIN_BATCH_SIZE_MEAN), minibatch_size, reduce="mean")
    log((DEFAULT_MODULE_ID, NUM_MODULE_STEPS_TRAINED), n_trained, reduce="sum")
    log(
        (DEFAULT_MODULE_ID, NUM_MODULE_STEPS_TRAINED_LIFETIME),
        n_trained,
        reduce="lifetime_sum",
        with_throughput=True,
    )
    for key, reduce in (
        (NUM_MODULE_STEPS_TRAINED, "sum"),
        (NUM_MODULE_STEPS_TRAINED_LIFETIME, "lifetime_sum"),
        (NUM_ENV_STEPS_TRAINED, "sum"),
        (NUM_ENV_STEPS_TRAINED_LIFETIME, "lifetime_sum"),
    ):
        log((ALL_MODULES, key), n_trained, reduce=reduce, with_throughput=True)


def learner_update(
    algo: Algorithm,
    columns: Mapping[str, np.ndarray],
    *,
    timesteps: dict[str, Any],
    num_epochs: int,
    minibatch_size: int,
    shuffle: bool,
    seed: int,
    reduce: bool = True,
) -> list[dict[str, Any]]:
    """RLlib's learner update of the default module on flat train-batch columns.

    ``LearnerGroup.update`` wraps every minibatch step in Python work that
    costs about as much as the step itself on a small network: the batch is
    cut by a cyclic iterator, each minibatch concatenated, converted to torch
    and mapped over module ids, and a dozen metrics logged per minibatch. For
    the local learner (``num_learners=0``) this calls the same learner steps
    directly: ``before_gradient_based_update``, then per minibatch the
    learner's own ``_update`` (``forward_train``, the algorithm's loss, the
    gradients, their clipping and the optimizer step), then
    ``after_gradient_based_update`` (PPO's KL coefficient, DQN's target
    network, the schedules) and the metrics reduce. The columns are converted
    to tensors once per call (``float64`` becomes ``float32``, as RLlib's
    conversion does) and the steps trained are logged once per call.

    The minibatches are :func:`~cappuccino_ray.agents.batching.minibatch_parts`'s.

    Args:
        algo: The algorithm whose learner trains.
        columns: Train-batch columns of equal length (RLlib's column names).
        timesteps: The lifetime counters RLlib's training step passes to its learner.
        num_epochs: Passes over the batch.
        minibatch_size: Target minibatch length.
        shuffle: Shuffle the batch every epoch.
        seed: Seed of the permutations.
        reduce: Reduce the learner's metrics now; False leaves them to :func:`learner_results`
            (a training step that updates several times reduces once). Remote learners
            always reduce.

    Returns:
        The learner's reduced results, as a list with one entry (``LearnerGroup.update``'s
        form), or an empty list when ``reduce`` is False and the learner is local.
    """
    import torch

    me: Any = algo
    learner = _local_learner(algo)
    n = len(next(iter(columns.values())))
    if learner is None:  # remote learners: RLlib's own path
        batch = MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(dict(columns))}, env_steps=n)
        return list(
            me.learner_group.update(
                batch=batch,
                timesteps=timesteps,
                num_epochs=num_epochs,
                minibatch_size=minibatch_size,
                shuffle_batch_per_epoch=shuffle,
            )
        )
    learner.before_gradient_based_update(timesteps=timesteps)
    learner._weights_seq_no += 1
    device = learner.device
    tensors: dict[str, Any] = {}
    for key, value in columns.items():
        t = torch.from_numpy(np.ascontiguousarray(value))
        tensors[key] = (t.float() if t.dtype == torch.float64 else t).to(device)
    loss_per_module: dict[str, Any] = {}
    parts = batching.minibatch_parts(n, minibatch_size, num_epochs=num_epochs, shuffle=shuffle, seed=seed)
    for part in parts:
        if isinstance(part, slice):
            minibatch = {k: t[part] for k, t in tensors.items()}
        else:
            idx = torch.from_numpy(part).to(device)
            minibatch = {k: t.index_select(0, idx) for k, t in tensors.items()}
        _, loss_per_module, _ = learner._update({DEFAULT_MODULE_ID: minibatch})
    _log_trained(learner, n * num_epochs, round(n * num_epochs / len(parts)))
    for mid, loss in loss_per_module.items():
        learner.metrics.log_value(key=(mid, TOTAL_LOSS_KEY), value=loss, window=1)
    learner.after_gradient_based_update(timesteps=timesteps)
    return [learner.metrics.reduce()] if reduce else []


def learner_results(algo: Algorithm) -> list[dict[str, Any]]:
    """The local learner's metrics since the last reduce, reduced (``[]`` without a local learner)."""
    learner = _local_learner(algo)
    return [] if learner is None else [learner.metrics.reduce()]


def sync_local_weights(algo: Algorithm) -> bool:
    """Copy the local learner's weights into the local env runner's module, tensor by tensor.

    RLlib's ``sync_weights`` puts the weights into Ray's object store even when
    the only env runner lives in this process (a few ms per call, a tenth of a
    double-DQN iteration). With a local learner and no remote env runners
    this copies them in place instead.

    Returns:
        False (nothing copied) when the runners are remote or the learner is
        not local: call RLlib's ``sync_weights`` then.
    """
    import torch

    group: Any = algo.env_runner_group
    learner = _local_learner(algo)
    if group is None or group.num_remote_workers() > 0 or learner is None or group.local_env_runner is None:
        return False
    source = learner.module[DEFAULT_MODULE_ID].state_dict()
    with torch.no_grad():
        for key, tensor in group.local_env_runner.module.state_dict().items():
            tensor.copy_(source[key])
    return True


def sync_runner_weights(algo: Algorithm) -> None:
    """Send the learner's weights to the env runners, timed as RLlib times it (in place when local)."""
    me: Any = algo
    with me.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
        if not sync_local_weights(algo):
            me.env_runner_group.sync_weights(
                from_worker_or_learner_group=me.learner_group,
                policies=[DEFAULT_MODULE_ID],
                inference_only=True,
            )


def seed_replay_buffer(algo: Algorithm, seed: int) -> None:
    """Seed RLlib's replay buffer's sampler (RLlib creates it unseeded; LeanDQN seeds its own)."""
    buffer = getattr(algo, "local_replay_buffer", None)
    if buffer is not None and hasattr(buffer, "rng"):
        buffer.rng = np.random.default_rng(seed)
