"""The RLlib ``AlgorithmConfig`` builder: the project's settings in RLlib's terms.

Kept apart from :mod:`cappuccino_ray.agents.rllib_names` (the names alone) because it
wires in the project's own RLlib classes (the vector env runner, the lean PPO and
double-DQN training steps), which themselves import the names: names below, the
builder above, and no import circle.
"""

from __future__ import annotations

from typing import Any, Literal

from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.env_runner import VectorEnvRunner
from cappuccino_ray.agents.lean_dqn import LeanDQN
from cappuccino_ray.agents.lean_ppo import LeanPPO
from cappuccino_ray.agents.learners import LeanDQNLearner, LeanPPOLearner

__all__ = ["algorithm_config"]


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
    fast_runner: bool = True,
) -> rl.AlgorithmConfig:
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
        flat_replay: DQN only: train with
            :class:`~cappuccino_ray.agents.lean_dqn.LeanDQN` (the project's flat
            replay buffer) instead of RLlib's episode replay path.
        fast_runner: Sample with
            :class:`~cappuccino_ray.agents.env_runner.VectorEnvRunner` (one batched
            loop over the vector env) and, for PPO, train with
            :class:`~cappuccino_ray.agents.lean_ppo.LeanPPO` (GAE on the runner's
            arrays), both with the lean learners of :mod:`~cappuccino_ray.agents.learners`;
            False keeps RLlib's own env runner, PPO and learners.

    Returns:
        The config, not yet built.
    """
    kwargs = dict(training)
    if algo == "dqn":
        kwargs["replay_buffer_config"] = {"type": rl.REPLAY_BUFFER_TYPE, "capacity": buffer_size}
        kwargs["td_error_loss_fn"] = "huber"
    cfg: rl.AlgorithmConfig = (
        rl.PPOConfig(algo_class=LeanPPO if fast_runner else None)
        if algo == "ppo"
        else rl.DQNConfig(algo_class=LeanDQN if flat_replay else None)
    )
    cfg = (
        cfg.environment(env, env_config=env_config, normalize_actions=False, clip_actions=False)
        .framework("torch")
        .env_runners(
            env_runner_cls=VectorEnvRunner if fast_runner else rl.SingleAgentEnvRunner,
            num_env_runners=0,
            num_envs_per_env_runner=num_envs,
            rollout_fragment_length=rollout_fragment_length,
            gym_env_vectorize_mode="vector_entry_point" if vector_entry_point else "sync",
        )
        .learners(num_learners=0, num_gpus_per_learner=num_gpus)
        .rl_module(rl_module_spec=rl.RLModuleSpec(module_class=module_class, model_config=model_config))
        .training(**kwargs)
        .reporting(metrics_num_episodes_for_smoothing=20)
        .debugging(seed=seed, log_level="ERROR")
    )
    if fast_runner:
        # The lean training steps size their own iterations (``batching.cycle_goal``): RLlib's
        # loop must not call them again for a minimum of steps (DQN's default is 1,000).
        cfg = cfg.learners(learner_class=LeanPPOLearner if algo == "ppo" else LeanDQNLearner).reporting(
            min_sample_timesteps_per_iteration=0
        )
    return cfg
