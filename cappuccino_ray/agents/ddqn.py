"""Double-DQN: the project's Q-network RLModule trained by RLlib's DQN learner.

What is the project's: :class:`DDQNModule` (a plain or dueling ReLU Q-network
from :mod:`cappuccino_ray.agents.networks`, its target copy, and a linear
epsilon-greedy schedule keyed on env steps), the
config builder :func:`build_ddqn_config`, and the replay path: a flat numpy
ring buffer with vectorised n-step returns (:mod:`.replay`) feeding RLlib's
learner one flat batch per iteration (``lean_dqn.LeanDQN``). What is
RLlib's: the DQN learner (Huber TD loss, ``double_q=True``: the online network
picks the next action, the target network values it), the optimizer, the
target sync every ``target_update_freq`` steps and the env runner. With
``flat_replay=False`` RLlib's own episode replay buffer is used instead.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.networks import QNet
from cappuccino_ray.agents.rllib_config import algorithm_config
from cappuccino_ray.config.agents import DDQNParams, rllib_training

__all__ = ["DDQNModule", "build_ddqn_config", "linear_epsilon"]


def linear_epsilon(step: int, *, initial: float, final: float, steps: int) -> float:
    """Epsilon after ``step`` env steps: linear from ``initial`` to ``final`` over ``steps``."""
    frac = min(1.0, max(0.0, step / max(1, steps)))
    return initial + frac * (final - initial)


class DDQNModule(rl.TrainModeOnce, rl.QNetAPI, rl.TargetNetworkAPI, rl.InferenceOnlyAPI):
    """Q-network module with a target copy and epsilon-greedy exploration.

    ``model_config`` keys: ``hidden_size``, ``n_layers``, ``dueling``,
    ``epsilon_initial``, ``epsilon_final``, ``epsilon_timesteps``.
    """

    def setup(self) -> None:
        """Build the online Q-network; the learner adds the target copy."""
        mc: dict[str, Any] = dict(cast(dict[str, Any], self.model_config))
        obs_space: Any = self.observation_space
        act_space: Any = self.action_space
        obs_dim = int(np.prod(obs_space.shape))
        self.n_actions = int(act_space.n)
        self.q = QNet(
            obs_dim, self.n_actions, int(mc["hidden_size"]), int(mc["n_layers"]), bool(mc["dueling"])
        )
        self._eps = (float(mc["epsilon_initial"]), float(mc["epsilon_final"]), int(mc["epsilon_timesteps"]))

    # RLlib's target-network API: the learner calls these.
    def make_target_networks(self) -> None:
        """Create the frozen target copy of the Q-network."""
        self._target_q = rl.make_target_network(self.q)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        """(online, target) pairs the learner syncs every ``target_update_freq`` steps."""
        return [(self.q, self._target_q)]

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Target network's Q-values."""
        return {rl.QF_PREDS: self._target_q(batch[rl.OBS])}

    def get_non_inference_attributes(self) -> list[str]:
        """The env runner's copy needs no target network."""
        return ["_target_q"]

    def compute_q_values(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Online network's Q-values."""
        return {rl.QF_PREDS: self.q(batch[rl.OBS])}

    def compute_advantage_distribution(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Not used: the project's DDQN is not distributional."""
        raise NotImplementedError("DDQNModule has no distributional head (num_atoms = 1)")

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {rl.ACTIONS: self.q(batch[rl.OBS]).argmax(dim=-1)}

    def _forward_exploration(self, batch: dict[str, Any], t: int = 0, **kwargs: Any) -> dict[str, Any]:
        greedy = self.q(batch[rl.OBS]).argmax(dim=-1)
        initial, final, steps = self._eps
        eps = linear_epsilon(int(t), initial=initial, final=final, steps=steps)
        n = greedy.shape[0]
        explore = torch.rand(n, device=greedy.device) < eps
        random = torch.randint(0, self.n_actions, (n,), device=greedy.device)
        return {rl.ACTIONS: torch.where(explore, random, greedy)}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # One online pass over [s, s'] (the online net picks a' at s'), one target pass over s'.
        obs, next_obs = batch[rl.OBS], batch[rl.NEXT_OBS]
        q_both = self.q(torch.cat([obs, next_obs], dim=0))
        q_now, q_next = torch.chunk(q_both, 2, dim=0)
        return {
            rl.QF_PREDS: q_now,
            rl.QF_NEXT_PREDS: q_next,
            rl.QF_TARGET_NEXT_PREDS: self._target_q(next_obs),
        }


def build_ddqn_config(
    params: DDQNParams,
    *,
    env: str | type,
    env_config: dict[str, Any],
    seed: int,
    train_steps: int,
    num_gpus: float = 0.0,
    fast_runner: bool = True,
) -> rl.AlgorithmConfig:
    """An RLlib DQN config (double-Q, uniform replay) with the project's Q-module.

    Args:
        params: Validated double-DQN hyperparameters.
        env: Registered env id or env class (discrete actions).
        env_config: The env's config dict.
        seed: Seed of RLlib, torch and the env copies.
        train_steps: Env steps the agent will train for (sets the epsilon decay length).
        num_gpus: GPUs (fractions allowed) for the learner.
        fast_runner: Sample with the project's vector env runner (see
            :func:`~cappuccino_ray.agents.rllib_config.algorithm_config`).

    Returns:
        The ``AlgorithmConfig``.
    """
    model_config = {
        "hidden_size": params.hidden_size,
        "n_layers": params.n_layers,
        "dueling": params.dueling,
        "epsilon_initial": params.epsilon_initial,
        "epsilon_final": params.epsilon_final,
        "epsilon_timesteps": params.epsilon_steps(train_steps),
    }
    # The declared hyperparameters (config.agents); double-Q is what makes this the double-DQN.
    training = {**rllib_training(params), "double_q": True}
    return algorithm_config(
        "dqn",
        env=env,
        env_config=env_config,
        module_class=DDQNModule,
        model_config=model_config,
        training=training,
        seed=seed,
        num_envs=params.num_envs,
        rollout_fragment_length=params.rollout_fragment_length,
        buffer_size=params.buffer_size,
        num_gpus=num_gpus,
        vector_entry_point=isinstance(env, str),
        fast_runner=fast_runner,
        flat_replay=params.flat_replay,
    )
