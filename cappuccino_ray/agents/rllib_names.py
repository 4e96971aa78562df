"""Every RLlib class, config key and metric key the project uses, in one place.

RLlib's names churn between releases (``episode_reward_mean`` became
``env_runners/episode_return_mean``; ``sgd_minibatch_size`` became
``minibatch_size``). The rest of the project imports them from here, so an
upgrade of Ray touches this module only. Pinned to Ray 2.60's new API stack
(RLModule, Learner, EnvRunner, ConnectorV2).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.dqn import DQN, DQNConfig
from ray.rllib.algorithms.dqn.dqn_learner import QF_LOSS_KEY, QF_MEAN_KEY
from ray.rllib.algorithms.dqn.torch.dqn_torch_learner import DQNTorchLearner
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.learner import ENTROPY_KEY, POLICY_LOSS_KEY, VF_LOSS_KEY
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, QNetAPI, TargetNetworkAPI, ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    EPISODE_RETURN_MEAN,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_TRAINED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TD_ERROR_KEY,
    TIMERS,
)

from cappuccino_ray.agents.replay import FlatReplayBuffer, nstep_transitions

# Every EnvRunner registers RLlib's wrapper id again with gymnasium, which warns each time;
# the override is RLlib's own and harmless, so it is not shown to users.
warnings.filterwarnings(
    "ignore", message=r".*Overriding environment rllib-single-agent-env", category=UserWarning
)

__all__ = [
    "ACTIONS",
    "ACTION_DIST_INPUTS",
    "DEFAULT_MODULE_ID",
    "EMBEDDINGS",
    "ENTROPY_KEY",
    "ENV_RUNNER_RESULTS",
    "EPISODE_RETURN_MEAN",
    "LEARNER_RESULTS",
    "NEXT_OBS",
    "NUM_ENV_STEPS_SAMPLED_LIFETIME",
    "NUM_ENV_STEPS_TRAINED_LIFETIME",
    "OBS",
    "POLICY_LOSS_KEY",
    "QF_LOSS_KEY",
    "QF_MEAN_KEY",
    "QF_NEXT_PREDS",
    "QF_PREDS",
    "QF_TARGET_NEXT_PREDS",
    "REPLAY_BUFFER_TYPE",
    "TD_ERROR_KEY",
    "TOTAL_LOSS_KEY",
    "VF_LOSS_KEY",
    "Algorithm",
    "AlgorithmConfig",
    "DQNConfig",
    "DQNTorchLearner",
    "InferenceOnlyAPI",
    "LeanDQN",
    "PPOConfig",
    "QNetAPI",
    "RLModuleSpec",
    "TargetNetworkAPI",
    "TorchRLModule",
    "ValueFunctionAPI",
    "algorithm_config",
    "loss_values",
    "make_target_network",
    "module_state",
    "seed_replay_buffer",
    "steps_sampled",
    "steps_trained",
    "training_forced_sales",
]

# Batch columns (what flows between env runner, module and learner).
OBS: str = Columns.OBS
NEXT_OBS: str = Columns.NEXT_OBS
ACTIONS: str = Columns.ACTIONS
ACTION_DIST_INPUTS: str = Columns.ACTION_DIST_INPUTS
EMBEDDINGS: str = Columns.EMBEDDINGS

# DQN forward-pass outputs that RLlib's DQN learner reads (`dqn_learner.py`).
QF_PREDS = "qf_preds"
QF_NEXT_PREDS = "qf_next_preds"
QF_TARGET_NEXT_PREDS = "qf_target_next_preds"

#: Learner's total-loss metric key.
TOTAL_LOSS_KEY = "total_loss"

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
            steps; right for the double-DQN's replay, where RLlib's env-step
            count gives every minibatch the whole batch's env steps).
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


def algorithm_config(
    algo: Literal["ppo", "dqn"],
    *,
    env: str | type,
    env_config: dict[str, Any],
    module_class: type,
    model_config: dict[str, Any],
    training: dict[str, Any],
    seed: int,
    num_envs: int,
    rollout_fragment_length: int | str = "auto",
    buffer_size: int = 0,
    num_gpus: float = 0.0,
    vector_entry_point: bool = True,
    flat_replay: bool = True,
) -> AlgorithmConfig:
    """Translate the project's settings into an RLlib ``AlgorithmConfig``.

    Sampling runs in the driver's own process (``num_env_runners=0``) on
    ``num_envs`` env copies stepped together; the learner is local too
    (``num_learners=0``), using ``num_gpus`` (fractions allowed) when set.
    Actions go to the env as the module produced them: the env clips and maps
    them itself, so RLlib's per-item action normalisation (a large share of
    sampling time) is switched off.

    Args:
        algo: ``"ppo"`` or ``"dqn"``.
        env: A registered env id or an env class.
        env_config: The env's config dict.
        module_class: The project's ``TorchRLModule`` subclass.
        model_config: Its ``model_config`` dict.
        training: RLlib ``.training()`` keyword arguments (the hyperparameters' declared RLlib
            keys, see :func:`cappuccino_ray.config.agents.rllib_training`).
        seed: Seeds RLlib, torch, numpy and the env copies.
        num_envs: Env copies per env runner.
        rollout_fragment_length: Steps per env copy per sample call.
        buffer_size: Replay capacity (DQN only).
        num_gpus: GPUs for the learner.
        vector_entry_point: Build the env copies through the env's own vector
            class (one numpy step for all copies) instead of gymnasium's loop
            over single envs; needs a registered env id.
        flat_replay: DQN only: train with :class:`LeanDQN` (the project's flat
            replay buffer) instead of RLlib's episode replay path.

    Returns:
        The config, not yet built.
    """
    kwargs = dict(training)
    if algo == "dqn":
        kwargs["replay_buffer_config"] = {"type": REPLAY_BUFFER_TYPE, "capacity": buffer_size}
        kwargs["td_error_loss_fn"] = "huber"
    cfg: AlgorithmConfig = (
        PPOConfig() if algo == "ppo" else DQNConfig(algo_class=LeanDQN if flat_replay else None)
    )
    return (
        cfg.environment(env, env_config=env_config, normalize_actions=False, clip_actions=False)
        .framework("torch")
        .env_runners(
            num_env_runners=0,
            num_envs_per_env_runner=num_envs,
            rollout_fragment_length=rollout_fragment_length,
            gym_env_vectorize_mode="vector_entry_point" if vector_entry_point else "sync",
        )
        .learners(num_learners=0, num_gpus_per_learner=num_gpus)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=module_class, model_config=model_config))
        .training(**kwargs)
        .reporting(metrics_num_episodes_for_smoothing=20)
        .debugging(seed=seed, log_level="ERROR")
    )


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


def seed_replay_buffer(algo: Algorithm, seed: int) -> None:
    """Seed the replay buffer's sampler (RLlib creates it with an unseeded generator)."""
    import numpy as np

    for name in ("local_replay_buffer", "flat_replay"):
        buffer = getattr(algo, name, None)
        if buffer is not None and hasattr(buffer, "rng"):
            buffer.rng = np.random.default_rng(seed)


#: :class:`FlatReplayBuffer` column -> RLlib's train-batch column.
_FLAT_TO_RLLIB = {
    "obs": Columns.OBS,
    "next_obs": Columns.NEXT_OBS,
    "actions": Columns.ACTIONS,
    "rewards": Columns.REWARDS,
    "terminateds": Columns.TERMINATEDS,
    "n_step": "n_step",
}


class LeanDQN(DQN):
    """RLlib's DQN with the project's flat replay buffer in its training step.

    Per iteration: one sample call on the env runners (``rollout_fragment_length``
    steps per env copy), the chunks turned into n-step transitions
    (:func:`~cappuccino_ray.agents.replay.nstep_transitions`) and stored in a
    :class:`~cappuccino_ray.agents.replay.FlatReplayBuffer`; then, once
    ``num_steps_sampled_before_learning_starts`` steps are in, as many gradient
    steps of ``train_batch_size_per_learner`` transitions as keep replayed /
    sampled at ``training_intensity`` (fractions carry over), drawn in one
    gather and handed to RLlib's DQN learner as one flat batch cut into
    minibatches (no learner connector, no episode objects). The loss, the
    double-Q target, the optimizer and the target-network sync stay RLlib's.
    """

    def setup(self, config: Any) -> None:
        """Build the algorithm, then the flat replay buffer (seeded by ``config.seed``)."""
        super().setup(config)
        me: Any = self  # RLlib types its attributes as optional
        capacity = int(me.config.replay_buffer_config.get("capacity", 100_000))
        me.flat_replay = FlatReplayBuffer(capacity, seed=int(me.config.seed or 0))
        me._updates_owed = 0.0

    def training_step(self) -> None:
        """Sample, store, replay and learn (see the class docstring)."""
        import numpy as np

        me: Any = self  # RLlib types its attributes as optional
        cfg: Any = me.config
        with me.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            sampled_out: Any = synchronous_parallel_sample(
                worker_set=me.env_runner_group,
                concat=True,
                sample_timeout_s=cfg.sample_timeout_s,
                _uses_new_env_runners=True,
                _return_metrics=True,
            )
        episodes, runner_results = sampled_out
        me.metrics.aggregate(runner_results, key=ENV_RUNNER_RESULTS)
        sampled = 0
        for ep in episodes:
            if len(ep) == 0:
                continue
            me.flat_replay.add(
                nstep_transitions(
                    np.asarray(ep.get_observations(), dtype=np.float32),
                    np.asarray(ep.get_actions()),
                    np.asarray(ep.get_rewards(), dtype=np.float32),
                    terminated=bool(ep.is_terminated),
                    n_step=int(cfg.n_step),
                    gamma=float(cfg.gamma),
                )
            )
            sampled += len(ep)
        lifetime = me.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        if lifetime < cfg.num_steps_sampled_before_learning_starts:
            return
        size = int(cfg.total_train_batch_size)
        me._updates_owed += sampled * float(cfg.training_intensity or 1.0) / size
        n_updates = int(me._updates_owed)
        if n_updates == 0:
            return
        me._updates_owed -= n_updates
        data = {_FLAT_TO_RLLIB[k]: v for k, v in me.flat_replay.sample(n_updates * size).items()}
        data["weights"] = np.ones(n_updates * size, dtype=np.float32)
        batch = MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(data)}, env_steps=n_updates * size)
        agent_steps = me.metrics.peek((ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={})
        with me.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = me.learner_group.update(
                batch=batch,
                timesteps={
                    NUM_ENV_STEPS_SAMPLED_LIFETIME: lifetime,
                    NUM_AGENT_STEPS_SAMPLED_LIFETIME: agent_steps,
                },
                minibatch_size=size,
                num_epochs=1,
                shuffle_batch_per_epoch=False,
            )
        for res in results:
            for module_results in res.values():
                if isinstance(module_results, dict):
                    module_results.pop(TD_ERROR_KEY, None)
        me.metrics.aggregate(results, key=LEARNER_RESULTS)
        with me.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            me.env_runner_group.sync_weights(
                from_worker_or_learner_group=me.learner_group,
                policies=[DEFAULT_MODULE_ID],
                global_vars=None,
                inference_only=True,
            )
